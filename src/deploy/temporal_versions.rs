//! What each supported Temporal release is, as its own sources and published images say: image
//! tags, how each image starts and which files it carries, which role listens on which port,
//! schema directories, how the server is pointed at its configuration, and the configuration
//! keys the server reads. Every renderer asks this table; nothing else in the code assumes a
//! fact about a Temporal release. Each fact names the file and tag it was read from, and
//! tests/deploy_versions.rs pins them.

use super::render::names::TemporalService;
use super::spec::Images;
use super::version::TemporalVersion;

/// The SQL plugin name for PostgreSQL 12 and newer, in the server configuration and for
/// `temporal-sql-tool --plugin` (common/persistence/sql/sqlplugin/postgresql/plugin.go
/// `PluginName`, v1.29.7 to v1.31.2).
pub const SQL_PLUGIN: &str = "postgres12";

/// The Web UI release paired with every supported server: the newest `temporalio/ui` tag whose
/// image and configuration were read (server/Dockerfile and server/config/docker.yaml at
/// temporalio/ui v2.53.3: runs as UID 1000, reads /home/ui-server/config/docker.yaml, a template
/// of `TEMPORAL_*` environment variables, and writes no file at start).
pub const UI_VERSION: &str = "2.53.3";

/// The UID and GID the Temporal images run as (`adduser -u 1000 -G temporal` in
/// docker-builds server.Dockerfile and admin-tools.Dockerfile on release/v1.29.x, and in
/// temporalio/temporal docker/targets/server.Dockerfile and admin-tools.Dockerfile at v1.30.0 to
/// v1.31.2; temporalio/ui server/Dockerfile at v2.53.3).
pub const IMAGE_USER: i64 = 1000;

/// One supported minor release.
#[derive(Debug)]
pub struct MinorRelease {
    /// The minor version (1.`minor`).
    pub minor: u32,
    /// The newest patch release of this minor.
    pub newest_patch: u32,
    /// The admin tools image tag of each patch release, when it is not the bare version.
    /// 1.29 images were released by hand from temporalio/docker-builds with composite tags
    /// (.github/workflows/release-admin-tools.yml on release/v1.29.x takes the tag as input);
    /// from 1.30, temporalio/temporal's .github/workflows/promote-docker-image.yml accepts only
    /// bare version tags (`^(\d+\.)*\d+$`).
    admin_tools_tags: AdminToolsTags,
    /// Whether the worker role opens a gRPC listener: first in v1.31.0
    /// (service/worker/service.go `s.server.Serve(s.grpcListener)`; absent at v1.29.7, v1.30.6).
    pub worker_listens_on_grpc: bool,
    /// Whether `temporal-server start` takes `--config-file` (cmd/server/main.go: from v1.30.0;
    /// at v1.29.7 only `--root`/`--config`/`--env`, deprecated from v1.30.0).
    pub config_file_flag: bool,
    /// Files the server image carries outside /usr/local/bin, which no volume may hide.
    pub server_image_files: &'static [&'static str],
    /// Files the admin tools image carries outside /usr/local/bin.
    pub admin_tools_image_files: &'static [&'static str],
    /// The server configuration keys this release reads, one dotted path a line (`*` for a map
    /// key), extracted from its common/config sources.
    pub config_keys: &'static str,
}

/// How a minor release's admin tools images are tagged.
#[derive(Debug)]
enum AdminToolsTags {
    /// `<version>`, for every patch.
    Bare,
    /// Only these patches, each with its published tag.
    Listed(&'static [(u32, &'static str)]),
}

/// Files of the 1.29 server image (docker-builds server.Dockerfile, release/v1.29.x): its
/// entrypoint renders config_template.yaml into /etc/temporal/config/docker.yaml.
const SERVER_FILES_1_29: &[&str] = &[
    "/etc/temporal/config/config_template.yaml",
    "/etc/temporal/config/dynamicconfig/docker.yaml",
    "/etc/temporal/entrypoint.sh",
    "/etc/temporal/start-temporal.sh",
];

/// Files of the 1.30+ server image (temporalio/temporal docker/targets/server.Dockerfile,
/// v1.30.0 to v1.31.2): only the entrypoint; no configuration directory.
const SERVER_FILES: &[&str] = &["/etc/temporal/entrypoint.sh"];

/// Schema files of the admin tools image (`COPY ... /etc/temporal/schema`, both builds).
const ADMIN_TOOLS_FILES: &[&str] = &[
    "/etc/temporal/schema/postgresql/v12/temporal/versioned",
    "/etc/temporal/schema/postgresql/v12/visibility/versioned",
];

/// Files of the Web UI image (temporalio/ui server/Dockerfile, v2.53.3).
pub const UI_IMAGE_FILES: &[&str] = &[
    "/home/ui-server/ui-server",
    "/home/ui-server/config/docker.yaml",
    "/home/ui-server/start-ui-server.sh",
];

/// The supported minor releases, oldest first.
pub const SUPPORTED: [MinorRelease; 4] = [
    MinorRelease {
        minor: 29,
        newest_patch: 7,
        // temporalio/helm-charts charts/temporal/values.yaml: admintools tag `1.29.0` at
        // temporal-0.68.0, `1.29.1-tctl-1.18.4-cli-1.5.0` at temporal-0.69.0 to 0.73.2.
        admin_tools_tags: AdminToolsTags::Listed(&[
            (0, "1.29.0"),
            (1, "1.29.1-tctl-1.18.4-cli-1.5.0"),
        ]),
        worker_listens_on_grpc: false,
        config_file_flag: false,
        server_image_files: SERVER_FILES_1_29,
        admin_tools_image_files: ADMIN_TOOLS_FILES,
        config_keys: include_str!("temporal_config_keys/1.29.txt"),
    },
    MinorRelease {
        minor: 30,
        newest_patch: 6,
        admin_tools_tags: AdminToolsTags::Bare,
        worker_listens_on_grpc: false,
        config_file_flag: true,
        server_image_files: SERVER_FILES,
        admin_tools_image_files: ADMIN_TOOLS_FILES,
        config_keys: include_str!("temporal_config_keys/1.30.txt"),
    },
    MinorRelease {
        minor: 31,
        newest_patch: 2,
        admin_tools_tags: AdminToolsTags::Bare,
        worker_listens_on_grpc: true,
        config_file_flag: true,
        server_image_files: SERVER_FILES,
        admin_tools_image_files: ADMIN_TOOLS_FILES,
        config_keys: include_str!("temporal_config_keys/1.31.txt"),
    },
    // The release `temporal server start-dev` of the pinned CLI embeds (`temporal --version`:
    // "Server 1.32.0"); facts read at temporalio/temporal main 6805cae, whose
    // common/headers/version_checker.go says ServerVersion = "1.32.0".
    MinorRelease {
        minor: 32,
        newest_patch: 0,
        admin_tools_tags: AdminToolsTags::Bare,
        worker_listens_on_grpc: true,
        config_file_flag: true,
        server_image_files: SERVER_FILES,
        admin_tools_image_files: ADMIN_TOOLS_FILES,
        config_keys: include_str!("temporal_config_keys/1.32.txt"),
    },
];

/// The newest supported release, the version examples and docs use.
pub fn newest() -> TemporalVersion {
    let last = &SUPPORTED[SUPPORTED.len() - 1];
    TemporalVersion {
        major: 1,
        minor: last.minor,
        patch: last.newest_patch,
    }
}

/// The supported minors as `1.29, 1.30, ...`, for messages.
pub fn supported_list() -> String {
    SUPPORTED
        .iter()
        .map(|r| format!("1.{} (newest 1.{}.{})", r.minor, r.minor, r.newest_patch))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A requested version with the facts of its minor release.
#[derive(Debug, Clone, Copy)]
pub struct Release {
    /// The version the spec asks for.
    pub version: TemporalVersion,
    /// Its minor release's facts.
    pub facts: &'static MinorRelease,
}

/// Why a version cannot be deployed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// Not a minor release this provider knows the images and configuration of.
    #[error("Temporal {version} is not supported; supported releases: {supported}")]
    Unsupported {
        /// The version asked for.
        version: TemporalVersion,
        /// The supported minors.
        supported: String,
    },
    /// A patch newer than the newest this provider knows.
    #[error(
        "Temporal {version} is newer than the newest known 1.{minor} release, 1.{minor}.{newest}; use 1.{minor}.{newest} or an older patch"
    )]
    UnknownPatch {
        /// The version asked for.
        version: TemporalVersion,
        /// Its minor.
        minor: u32,
        /// The newest known patch.
        newest: u32,
    },
    /// A 1.29 patch whose composite admin tools tag is not in the table.
    #[error(
        "the admin tools image of Temporal {version} has no bare version tag, and its published tag is not known here; set images.admin_tools_tag to the tag published for it (e.g. 1.29.1-tctl-1.18.4-cli-1.5.0), or use {known}"
    )]
    UnknownAdminToolsTag {
        /// The version asked for.
        version: TemporalVersion,
        /// The patches whose tag is known.
        known: String,
    },
}

impl Release {
    /// Looks up a version. `admin_tools_tag` is the spec's override, which makes any patch of a
    /// listed-tag minor usable.
    pub fn of(
        version: TemporalVersion,
        admin_tools_tag: Option<&str>,
    ) -> Result<Self, ReleaseError> {
        let facts = SUPPORTED
            .iter()
            .find(|r| version.major == 1 && r.minor == version.minor)
            .ok_or_else(|| ReleaseError::Unsupported {
                version,
                supported: supported_list(),
            })?;
        if version.patch > facts.newest_patch {
            return Err(ReleaseError::UnknownPatch {
                version,
                minor: facts.minor,
                newest: facts.newest_patch,
            });
        }
        if let (AdminToolsTags::Listed(tags), None) = (&facts.admin_tools_tags, admin_tools_tag)
            && !tags.iter().any(|(patch, _)| *patch == version.patch)
        {
            return Err(ReleaseError::UnknownAdminToolsTag {
                version,
                known: tags
                    .iter()
                    .map(|(patch, _)| format!("1.{}.{patch}", facts.minor))
                    .collect::<Vec<_>>()
                    .join(" or "),
            });
        }
        Ok(Self { version, facts })
    }

    /// The admin tools image tag Temporal published for this version.
    pub fn admin_tools_tag(&self) -> String {
        match &self.facts.admin_tools_tags {
            AdminToolsTags::Bare => self.version.to_string(),
            AdminToolsTags::Listed(tags) => tags
                .iter()
                .find(|(patch, _)| *patch == self.version.patch)
                .map(|(_, tag)| tag.to_string())
                .unwrap_or_else(|| self.version.to_string()),
        }
    }

    /// The server image reference, the spec's tag first (`temporalio/server` tags are the bare
    /// version for every release: helm-charts values.yaml `server.image.tag`, temporal-0.68.0 to
    /// temporal-1.6.0), behind the spec's registry.
    pub fn server_image(&self, images: &Images) -> String {
        let tag = images
            .server_tag
            .clone()
            .unwrap_or_else(|| self.version.to_string());
        format!("{}:{tag}", images.qualified(&images.server))
    }

    /// The admin tools image reference, the spec's tag first, behind the spec's registry.
    pub fn admin_tools_image(&self, images: &Images) -> String {
        let tag = images
            .admin_tools_tag
            .clone()
            .unwrap_or_else(|| self.admin_tools_tag());
        format!("{}:{tag}", images.qualified(&images.admin_tools))
    }

    /// The Web UI image reference, behind the spec's registry.
    pub fn ui_image(images: &Images) -> String {
        format!(
            "{}:{}",
            images.qualified(&images.ui),
            images.ui_version.as_deref().unwrap_or(UI_VERSION)
        )
    }

    /// The versioned schema directory of a store in the admin tools image (helm-charts
    /// templates/server-job.yaml at temporal-1.6.0; schema/postgresql/v12 in temporalio/temporal
    /// v1.29.7 to v1.31.2).
    pub fn schema_dir(&self, store: &str) -> String {
        let folder = if store == "default" {
            "temporal"
        } else {
            "visibility"
        };
        format!("/etc/temporal/schema/postgresql/v12/{folder}/versioned")
    }

    /// Whether a role opens its gRPC port in this release. Every role but the worker always
    /// does (service/*/fx.go); the worker from 1.31.
    pub fn listens_on_grpc(&self, service: TemporalService) -> bool {
        service != TemporalService::Worker || self.facts.worker_listens_on_grpc
    }

    /// The arguments of `temporal-server` that load the configuration file in `dir` (named
    /// `docker.yaml`) and start one role.
    pub fn server_args(&self, dir: &str, file: &str, service: TemporalService) -> Vec<String> {
        let mut args = if self.facts.config_file_flag {
            vec!["--config-file".to_string(), format!("{dir}/{file}")]
        } else {
            let env = file.trim_end_matches(".yaml");
            vec![
                "--root".to_string(),
                "/".into(),
                "--config".into(),
                dir.into(),
                "--env".into(),
                env.into(),
            ]
        };
        args.extend([
            "start".to_string(),
            "--service".into(),
            service.config_name().into(),
        ]);
        args
    }

    /// The configuration keys this release reads, without comments.
    pub fn config_keys(&self) -> impl Iterator<Item = &'static str> {
        self.facts
            .config_keys
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
    }
}
