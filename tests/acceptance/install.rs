//! The provider as a team installs it: `scripts/release` packages the binary this test build
//! made (no second, release-mode build) and Terraform installs it with no `dev_overrides`, from a
//! `filesystem_mirror`, from a `network_mirror` served over HTTPS with a throwaway CA (given to
//! Terraform through `SSL_CERT_FILE`), and from a registry that serves the GPG-signed sums.
//! `terraform init` writes `.terraform.lock.hcl` with the artefact's hashes, a following `plan`
//! runs the installed provider, and a swapped zip is refused. On Terraform 1.15.5 and 1.0.3.

mod image;

use crate::provider_registry::{Release, ReleaseServer};
use crate::support;
use crate::terraform::{Version, Workspace};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::Command;

const NAME: &str = "terraform-provider-engram";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The provider binary the test build made.
fn provider_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_terraform-provider-engram"))
}

fn platform() -> &'static str {
    "linux_amd64"
}

fn zip_name() -> String {
    format!("{NAME}_{VERSION}_{}.zip", platform())
}

/// A GPG key made for one test, in its own GNUPGHOME; its agent is stopped when dropped.
struct ThrowawayKey {
    home: tempfile::TempDir,
    fingerprint: String,
    armored: String,
}

impl ThrowawayKey {
    fn new() -> Self {
        let home = support::temp_dir("engram-gpg-");
        let key = Self {
            home,
            fingerprint: String::new(),
            armored: String::new(),
        };
        key.gpg(&[
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Engram release test <release-test@engram.invalid>",
            "rsa3072",
            "sign",
            "never",
        ]);
        let listing = key.gpg(&["--batch", "--with-colons", "--list-secret-keys"]);
        let fingerprint = listing
            .lines()
            .find_map(|line| line.strip_prefix("fpr:"))
            .and_then(|rest| rest.split(':').find(|field| !field.is_empty()))
            .expect("the new key's fingerprint")
            .to_string();
        let armored = key.gpg(&["--batch", "--armor", "--export", &fingerprint]);
        let mut key = key;
        key.fingerprint = fingerprint;
        key.armored = armored;
        key
    }

    fn gpg(&self, args: &[&str]) -> String {
        let output = Command::new(support::tool("gpg"))
            .args(args)
            .env("GNUPGHOME", self.home.path())
            .output()
            .expect("run gpg");
        assert!(
            output.status.success(),
            "gpg {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("gpg prints UTF-8")
    }

    /// The long key id (the fingerprint's last 16 hex digits).
    fn key_id(&self) -> String {
        self.fingerprint[self.fingerprint.len() - 16..].to_string()
    }
}

impl Drop for ThrowawayKey {
    fn drop(&mut self) {
        let _ = Command::new(support::tool("gpgconf"))
            .args(["--kill", "gpg-agent"])
            .env("GNUPGHOME", self.home.path())
            .status();
    }
}

/// Runs `scripts/release ARGS… --out OUT`, which must succeed.
fn release(out: &Path, args: &[&str], key: Option<&ThrowawayKey>) {
    let mut command = Command::new(support::repo_root().join("scripts/release"));
    command.args(args).arg("--out").arg(out);
    if let Some(key) = key {
        command
            .args(["--sign", &key.fingerprint])
            .env("GNUPGHOME", key.home.path());
    }
    let output = command.output().expect("run scripts/release");
    assert!(
        output.status.success(),
        "scripts/release {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A release of the test build's provider: zips, manifest, signed sums and the mirror tree.
struct Built {
    dir: tempfile::TempDir,
    key: ThrowawayKey,
}

impl Built {
    fn new() -> Self {
        let key = ThrowawayKey::new();
        let dir = support::temp_dir("engram-release-");
        let binary = provider_binary();
        release(
            dir.path(),
            &["--binary", binary.to_str().unwrap(), "--no-python"],
            Some(&key),
        );
        Self { dir, key }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn mirror(&self) -> PathBuf {
        self.path().join("mirror")
    }

    fn mirror_package_dir(&self) -> PathBuf {
        self.mirror().join("registry.terraform.io/engram/engram")
    }

    /// The h1: and zh: hashes the mirror's version document gives for this platform.
    fn published_hashes(&self) -> Vec<String> {
        let doc: Json = serde_json::from_str(&support::read(
            &self.mirror_package_dir().join(format!("{VERSION}.json")),
        ))
        .expect("the version document is JSON");
        doc["archives"][platform()]["hashes"]
            .as_array()
            .expect("hashes")
            .iter()
            .map(|h| h.as_str().unwrap().to_string())
            .collect()
    }

    fn hash(&self, scheme: &str) -> String {
        self.published_hashes()
            .into_iter()
            .find(|h| h.starts_with(scheme))
            .unwrap_or_else(|| panic!("no {scheme} hash published"))
    }

    fn server(&self) -> ReleaseServer {
        ReleaseServer::start(Release {
            dir: self.path().to_path_buf(),
            version: VERSION.to_string(),
            gpg_public_key: self.key.armored.clone(),
            gpg_key_id: self.key.key_id(),
        })
    }

    /// Replaces this platform's zip (top level and in the mirror) with one holding a different
    /// binary, as a compromised download would, leaving the sums and hashes as published.
    fn swap_zip_for_another_build(&self) {
        let other = support::temp_dir("engram-tampered-");
        let binary = other.path().join(NAME);
        let mut bytes = std::fs::read(provider_binary()).expect("read the provider binary");
        bytes.extend_from_slice(b"\0not the released build");
        std::fs::write(&binary, bytes).expect("write the other binary");
        let out = other.path().join("release");
        release(
            &out,
            &["--binary", binary.to_str().unwrap(), "--no-python"],
            None,
        );
        for dest in [
            self.path().join(zip_name()),
            self.mirror_package_dir().join(zip_name()),
        ] {
            std::fs::copy(out.join(zip_name()), dest).expect("swap the zip");
        }
    }
}

/// A root module that needs the provider from `source` and plans the shard-sizing example.
fn config(source: &str) -> String {
    let example =
        support::read(&support::repo_root().join("examples/terraform/shard-sizing/main.tf"));
    assert!(
        example.contains("source = \"engram/engram\""),
        "the example names the provider as users do"
    );
    example.replace(
        "source = \"engram/engram\"",
        &format!("source = \"{source}\""),
    )
}

fn installing(version: Version, source: &str, installation: &str) -> Workspace {
    let cli = format!("provider_installation {{\n{installation}\n}}\n");
    assert!(!cli.contains("dev_overrides"));
    Workspace::with_cli_config(version, &config(source), &cli)
}

fn filesystem_mirror(built: &Built) -> String {
    format!(
        "  filesystem_mirror {{\n    path    = \"{}\"\n    include = [\"registry.terraform.io/engram/engram\"]\n  }}",
        built.mirror().display()
    )
}

fn trust_ca(ws: &Workspace, server: &ReleaseServer) {
    let ca = ws.path().join("mirror-ca.pem");
    std::fs::write(&ca, server.ca_pem()).expect("write the CA");
    ws.set_env("SSL_CERT_FILE", ca.to_str().unwrap());
    // Only that file: an empty certificate folder, so the machine's own roots play no part.
    let empty = ws.path().join("no-certificates");
    std::fs::create_dir_all(&empty).expect("an empty folder");
    ws.set_env("SSL_CERT_DIR", empty.to_str().unwrap());
}

/// The hashes recorded for `address` in the workspace's lock file.
fn locked_hashes(ws: &Workspace, address: &str) -> Vec<String> {
    let lock = ws.file(".terraform.lock.hcl");
    let block = lock
        .split("provider \"")
        .find(|b| b.starts_with(&format!("{address}\"")))
        .unwrap_or_else(|| panic!("no {address} in the lock file:\n{lock}"));
    assert!(
        block.contains(&format!("version = \"{VERSION}\"")),
        "locks {VERSION}:\n{block}"
    );
    block
        .split('"')
        .filter(|s| s.starts_with("h1:") || s.starts_with("zh:"))
        .map(str::to_string)
        .collect()
}

/// Terraform's text with line wrapping undone, for phrase checks.
fn words(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn init(ws: &Workspace) -> crate::terraform::Run {
    ws.run(&["init", "-no-color", "-input=false"])
}

/// `terraform plan` runs the installed provider: the data source reads, the outputs show.
fn assert_plans(ws: &Workspace) {
    let run = ws.plan_exit_code();
    assert_eq!(run.code, 2, "plan shows the new outputs:\n{}", run.all());
    assert!(
        run.stdout.contains("history_shard_count = 512"),
        "{}",
        run.stdout
    );
    assert!(
        !run.all().contains("Provider development overrides"),
        "no dev_overrides in play:\n{}",
        run.all()
    );
}

fn installs_from_a_filesystem_mirror(version: Version) {
    let built = Built::new();
    let ws = installing(version, "engram/engram", &filesystem_mirror(&built));
    let run = init(&ws);
    assert_eq!(run.code, 0, "init from the mirror:\n{}", run.all());
    assert_eq!(
        locked_hashes(&ws, "registry.terraform.io/engram/engram"),
        vec![built.hash("h1:")],
        "the lock file holds the package hash the mirror publishes"
    );
    assert_plans(&ws);

    // With the lock file in place, a zip that is not the released one is refused.
    built.swap_zip_for_another_build();
    std::fs::remove_dir_all(ws.path().join(".terraform")).expect("clear the plugin cache");
    let run = init(&ws);
    assert_ne!(
        run.code,
        0,
        "a swapped zip must not install:\n{}",
        run.all()
    );
    assert!(
        words(&run.all()).contains(
            "doesn't match any of the checksums previously recorded in the dependency lock file"
        ),
        "{}",
        run.all()
    );
}

#[test]
fn installs_from_a_filesystem_mirror_on_1_15_5() {
    installs_from_a_filesystem_mirror(Version::V1_15_5);
}

#[test]
fn installs_from_a_filesystem_mirror_on_1_0_3() {
    installs_from_a_filesystem_mirror(Version::V1_0_3);
}

fn installs_from_a_network_mirror(version: Version) {
    let built = Built::new();
    let server = built.server();
    let ws = installing(
        version,
        "engram/engram",
        &format!(
            "  network_mirror {{\n    url     = \"{}\"\n    include = [\"registry.terraform.io/engram/engram\"]\n  }}",
            server.mirror_url()
        ),
    );
    trust_ca(&ws, &server);
    let run = init(&ws);
    assert_eq!(run.code, 0, "init from the network mirror:\n{}", run.all());
    assert_eq!(
        locked_hashes(&ws, "registry.terraform.io/engram/engram"),
        vec![built.hash("h1:")],
        "the lock file holds the package hash, checked against the mirror's"
    );
    let base = "/mirror/registry.terraform.io/engram/engram";
    let requests = server.requests();
    for path in [
        format!("{base}/index.json"),
        format!("{base}/{VERSION}.json"),
        format!("{base}/{}", zip_name()),
    ] {
        assert!(requests.contains(&path), "{path} in {requests:?}");
    }
    assert_plans(&ws);

    // A fresh working directory, and a mirror whose zip is not the one its hashes describe.
    built.swap_zip_for_another_build();
    let fresh = installing(
        version,
        "engram/engram",
        &format!(
            "  network_mirror {{\n    url = \"{}\"\n  }}",
            server.mirror_url()
        ),
    );
    trust_ca(&fresh, &server);
    let run = init(&fresh);
    assert_ne!(
        run.code,
        0,
        "a swapped zip must not install:\n{}",
        run.all()
    );
    assert!(
        run.all().contains("doesn't match")
            || run.all().contains("does not match")
            || run.all().contains("checksum"),
        "{}",
        run.all()
    );
    assert!(!fresh.file_exists(".terraform.lock.hcl"));
}

#[test]
fn installs_from_a_network_mirror_on_1_15_5() {
    installs_from_a_network_mirror(Version::V1_15_5);
}

#[test]
fn installs_from_a_network_mirror_on_1_0_3() {
    installs_from_a_network_mirror(Version::V1_0_3);
}

fn installs_from_a_registry_that_serves_the_signed_sums(version: Version) {
    let built = Built::new();
    let server = built.server();
    let source = format!("{}/engram/engram", server.registry_host());
    let ws = installing(version, &source, "  direct {}");
    trust_ca(&ws, &server);
    let run = init(&ws);
    assert_eq!(run.code, 0, "init from the registry:\n{}", run.all());
    assert!(
        run.all().contains(&built.key.key_id()),
        "Terraform names the key that signed the sums:\n{}",
        run.all()
    );
    // Terraform trusts the signed sums for every file they list (the zips of all platforms and
    // the manifest) and records each as zh:, beside the h1: of the package it unpacked.
    let mut locked = locked_hashes(&ws, &source);
    locked.sort();
    let mut expected: Vec<String> =
        support::read(&built.path().join(format!("{NAME}_{VERSION}_SHA256SUMS")))
            .lines()
            .map(|line| format!("zh:{}", &line[..64]))
            .chain([built.hash("h1:")])
            .collect();
    expected.sort();
    assert_eq!(locked, expected);
    assert!(
        locked.contains(&built.hash("zh:")),
        "the zip's own zh: hash"
    );
    assert!(
        server
            .requests()
            .contains(&format!("/releases/{NAME}_{VERSION}_SHA256SUMS.sig"))
    );
    assert_plans(&ws);

    // Sums signed by a key that is not the one the registry names are refused.
    let stranger = ThrowawayKey::new();
    stranger.gpg(&[
        "--batch",
        "--yes",
        "--detach-sign",
        "--output",
        built
            .path()
            .join(format!("{NAME}_{VERSION}_SHA256SUMS.sig"))
            .to_str()
            .unwrap(),
        built
            .path()
            .join(format!("{NAME}_{VERSION}_SHA256SUMS"))
            .to_str()
            .unwrap(),
    ]);
    let fresh = installing(version, &source, "  direct {}");
    trust_ca(&fresh, &server);
    let run = init(&fresh);
    assert_ne!(
        run.code,
        0,
        "a foreign signature must not install:\n{}",
        run.all()
    );
    assert!(
        run.all().to_lowercase().contains("signature"),
        "{}",
        run.all()
    );
}

#[test]
fn installs_from_a_registry_that_serves_the_signed_sums_on_1_15_5() {
    installs_from_a_registry_that_serves_the_signed_sums(Version::V1_15_5);
}

#[test]
fn installs_from_a_registry_that_serves_the_signed_sums_on_1_0_3() {
    installs_from_a_registry_that_serves_the_signed_sums(Version::V1_0_3);
}

/// The one entry of a zip: its name, Unix mode, modification time fields and contents.
fn zip_entry(path: &Path) -> (String, u32, (u16, u16), Vec<u8>) {
    let bytes = std::fs::read(path).expect("read the zip");
    // The central directory's first (only) entry: signature 0x02014b50.
    let at = bytes
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x01, 0x02])
        .expect("a central directory entry");
    let u16_at = |o: usize| u16::from_le_bytes([bytes[at + o], bytes[at + o + 1]]);
    let u32_at = |o: usize| {
        u32::from_le_bytes([
            bytes[at + o],
            bytes[at + o + 1],
            bytes[at + o + 2],
            bytes[at + o + 3],
        ])
    };
    let name_len = u16_at(28) as usize;
    let name = String::from_utf8(bytes[at + 46..at + 46 + name_len].to_vec()).unwrap();
    let mode = u32_at(38) >> 16;
    let time = (u16_at(12), u16_at(14));
    let output = Command::new("unzip")
        .arg("-p")
        .arg(path)
        .output()
        .expect("unzip -p (Debian's unzip)");
    assert!(output.status.success(), "unzip -p {}", path.display());
    (name, mode, time, output.stdout)
}

fn sha256_hex(path: &Path) -> String {
    let output = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8(output.stdout).unwrap()[..64].to_string()
}

#[test]
fn a_release_is_reproducible_signed_and_in_the_registry_layout() {
    support::tool("python-build");
    let key = ThrowawayKey::new();
    let binary = provider_binary();
    let first = support::temp_dir("engram-release-a-");
    let second = support::temp_dir("engram-release-b-");
    release(
        first.path(),
        &["--binary", binary.to_str().unwrap()],
        Some(&key),
    );
    release(
        second.path(),
        &["--binary", binary.to_str().unwrap(), "--no-python"],
        Some(&key),
    );
    let sums = format!("{NAME}_{VERSION}_SHA256SUMS");
    let manifest = format!("{NAME}_{VERSION}_manifest.json");
    for file in [zip_name(), sums.clone(), manifest.clone()] {
        assert_eq!(
            std::fs::read(first.path().join(&file)).unwrap(),
            std::fs::read(second.path().join(&file)).unwrap(),
            "{file}: same inputs, same bytes"
        );
    }

    // The zip: one executable entry named as the registry requires, the binary's bytes.
    let (name, mode, time, contents) = zip_entry(&first.path().join(zip_name()));
    assert_eq!(name, format!("{NAME}_v{VERSION}"));
    assert_eq!(mode & 0o777, 0o755, "executable once unpacked");
    assert_eq!(mode & 0o170000, 0o100000, "a regular file");
    assert_ne!(time, (0, 0), "a real, fixed timestamp");
    assert!(
        contents == std::fs::read(&binary).unwrap(),
        "the zip holds the given binary"
    );

    // The manifest declares protocol 6.0, and the sums cover the zip and the manifest.
    let manifest_json: Json =
        serde_json::from_str(&support::read(&first.path().join(&manifest))).unwrap();
    assert_eq!(manifest_json["version"], 1);
    assert_eq!(
        manifest_json["metadata"]["protocol_versions"],
        serde_json::json!(["6.0"])
    );
    let expected_sums = {
        let mut lines = [
            format!(
                "{}  {}",
                sha256_hex(&first.path().join(zip_name())),
                zip_name()
            ),
            format!("{}  {manifest}", sha256_hex(&first.path().join(&manifest))),
        ];
        lines.sort_by(|a, b| a[66..].cmp(&b[66..]));
        lines.join("\n") + "\n"
    };
    assert_eq!(support::read(&first.path().join(&sums)), expected_sums);

    // The detached signature verifies with the public key alone, and not over other bytes.
    let keyring = first.path().join("release-key.gpg");
    let dearmored = Command::new(support::tool("gpg"))
        .args(["--batch", "--dearmor", "--output"])
        .arg(&keyring)
        .env("GNUPGHOME", key.home.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(key.armored.as_bytes())?;
            child.wait()
        })
        .expect("gpg --dearmor");
    assert!(dearmored.success());
    let gpgv = |signed: &Path| {
        Command::new(support::tool("gpgv"))
            .arg("--keyring")
            .arg(&keyring)
            .arg(first.path().join(format!("{sums}.sig")))
            .arg(signed)
            .output()
            .expect("gpgv")
    };
    let good = gpgv(&first.path().join(&sums));
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let forged = first.path().join("forged-sums");
    std::fs::write(&forged, expected_sums.replacen('0', "1", 1)).unwrap();
    assert!(!gpgv(&forged).status.success(), "a changed sums file fails");

    // The mirror documents: the version, the archive's URL and its h1:/zh: hashes.
    let dir = first
        .path()
        .join("mirror/registry.terraform.io/engram/engram");
    let index: Json = serde_json::from_str(&support::read(&dir.join("index.json"))).unwrap();
    assert_eq!(index, serde_json::json!({"versions": {VERSION: {}}}));
    let doc: Json =
        serde_json::from_str(&support::read(&dir.join(format!("{VERSION}.json")))).unwrap();
    let archive = &doc["archives"][platform()];
    assert_eq!(archive["url"], zip_name());
    assert_eq!(
        archive["hashes"][1],
        format!("zh:{}", sha256_hex(&first.path().join(zip_name())))
    );
    assert!(archive["hashes"][0].as_str().unwrap().starts_with("h1:"));
    assert_eq!(
        std::fs::read(dir.join(zip_name())).unwrap(),
        std::fs::read(first.path().join(zip_name())).unwrap()
    );

    // The Python codec package, at the same version, as a wheel and an sdist.
    let python = first.path().join("python");
    let wheel = python.join(format!("engram_codec-{VERSION}-py3-none-any.whl"));
    let sdist = python.join(format!("engram_codec-{VERSION}.tar.gz"));
    let unzip = Command::new("unzip")
        .arg("-l")
        .arg(&wheel)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&unzip.stdout);
    assert!(listing.contains("engram_codec/codec.py"), "{listing}");
    assert!(
        listing.contains(&format!("engram_codec-{VERSION}.dist-info/METADATA")),
        "{listing}"
    );
    let tar = Command::new("tar").arg("tzf").arg(&sdist).output().unwrap();
    let files = String::from_utf8_lossy(&tar.stdout);
    assert!(
        files.contains(&format!("engram_codec-{VERSION}/pyproject.toml")),
        "{files}"
    );
}

#[test]
fn the_release_workflow_builds_every_registry_platform_with_scripts_release() {
    let text = support::read(&support::repo_root().join(".github/workflows/release.yml"));
    let workflow: Json = serde_yaml_ng::from_str(&text).expect("the workflow is YAML");
    let matrix = workflow["jobs"]["provider"]["strategy"]["matrix"]["include"]
        .as_array()
        .expect("a platform matrix");
    let mut platforms: Vec<&str> = matrix
        .iter()
        .map(|entry| entry["platform"].as_str().unwrap())
        .collect();
    platforms.sort();
    let mut expected: Vec<String> = ["darwin", "linux", "windows"]
        .iter()
        .flat_map(|os| ["amd64", "arm64"].map(|arch| format!("{os}_{arch}")))
        .collect();
    expected.sort();
    assert_eq!(platforms, expected);
    let script = support::read(&support::repo_root().join("scripts/release"));
    for entry in matrix {
        let (platform, target) = (
            entry["platform"].as_str().unwrap(),
            entry["target"].as_str().unwrap(),
        );
        assert!(
            script.contains(&format!("\"{platform}\": \"{target}\"")),
            "scripts/release maps {platform} to {target}"
        );
    }
    let steps = workflow["jobs"]["provider"]["steps"].to_string();
    assert!(steps.contains("scripts/release --platform"), "{steps}");
    let publish = workflow["jobs"]["publish"]["steps"].to_string();
    assert!(publish.contains("scripts/release --sums-only"), "{publish}");
    let image = workflow["jobs"]["image"]["steps"].to_string();
    assert!(image.contains("scripts/image"), "{image}");
}
