//! The codec server image as a cluster meets it: `scripts/image` builds it with podman (from the
//! `engram` binary this test build made, so no second release-mode build; the published image
//! holds a release build), the test reads the OCI archive podman saves, as a registry and a
//! kubelet would, and checks the config and every file in it. Then it runs `engram codec-server`
//! from the image's own root filesystem exactly as the rendered Deployment says (its entrypoint
//! with the Deployment's args and env, as the Deployment's user, on a read-only root with only
//! the Deployment's volumes mounted), and decodes a payload whose key OpenBao unwraps.
//!
//! `podman run` is refused on these machines (they refuse the rlimits podman sets), so the pod's
//! sandbox is made with `unshare` (mount and PID namespaces) and `chroot --userspec`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::codec_server_common::issuer::{Issuer, Signer};
use crate::codec_server_common::{body, plain, rustls_server, tls_files};
use crate::openbao::{OpenBao, ROOT_TOKEN};
use crate::support::{self, free_port};
use engram::codec::{KeyId, Keyring, PayloadCodec};
use engram::deploy::{CodecServerSpec, render_codec_server};
use serde_json::{Value as Json, json};

/// The user the rendered pod runs as and the image declares.
const UID: u32 = 65532;

/// The image `scripts/image` built into podman storage of its own, and its saved OCI archive
/// unpacked: the config and the root filesystem (its layers applied in order).
struct BuiltImage {
    dir: tempfile::TempDir,
    tag: String,
    /// The digest of the image manifest in the archive.
    manifest_digest: String,
    /// The OCI image config.
    config: Json,
}

impl BuiltImage {
    fn build() -> Self {
        let dir = support::temp_dir("engram-image-");
        let storage = dir.path().join("storage.conf");
        std::fs::write(
            &storage,
            format!(
                "[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n",
                dir.path().display()
            ),
        )
        .expect("write storage.conf");
        let mut image = Self {
            dir,
            tag: String::new(),
            manifest_digest: String::new(),
            config: Json::Null,
        };
        let (tag, digest, config) = image.save("image.tar");
        image.tag = tag;
        image.manifest_digest = digest;
        image.config = config;
        image.unpack("image.tar", &image.rootfs());
        image
    }

    /// Runs `scripts/image` into this storage and saves the archive as `name`: the tag it
    /// printed, the manifest digest and the config.
    fn save(&self, name: &str) -> (String, String, Json) {
        support::tool("podman");
        let archive = self.dir.path().join(name);
        let output = Command::new(support::repo_root().join("scripts/image"))
            .args(["--binary", env!("CARGO_BIN_EXE_engram"), "--oci-archive"])
            .arg(&archive)
            .env(
                "CONTAINERS_STORAGE_CONF",
                self.dir.path().join("storage.conf"),
            )
            .output()
            .expect("run scripts/image");
        assert!(
            output.status.success(),
            "scripts/image failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let tag = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .last()
            .expect("scripts/image prints the tag")
            .to_string();
        let oci = self.dir.path().join(format!("{name}.d"));
        std::fs::create_dir_all(&oci).unwrap();
        tar(&[
            "-xf",
            archive.to_str().unwrap(),
            "-C",
            oci.to_str().unwrap(),
        ]);
        let index = read_json(&oci.join("index.json"));
        let digest = index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
            tag.as_str()
        );
        let manifest = read_json(&blob(&oci, &digest));
        let config = read_json(&blob(&oci, manifest["config"]["digest"].as_str().unwrap()));
        (tag, digest, config)
    }

    /// Applies the archive's layers, in order, to `rootfs`.
    fn unpack(&self, name: &str, rootfs: &Path) {
        let oci = self.dir.path().join(format!("{name}.d"));
        let index = read_json(&oci.join("index.json"));
        let manifest = read_json(&blob(
            &oci,
            index["manifests"][0]["digest"].as_str().unwrap(),
        ));
        std::fs::create_dir_all(rootfs).unwrap();
        for layer in manifest["layers"].as_array().expect("layers") {
            let path = blob(&oci, layer["digest"].as_str().unwrap());
            tar(&[
                "--same-owner",
                "--same-permissions",
                "-xf",
                path.to_str().unwrap(),
                "-C",
                rootfs.to_str().unwrap(),
            ]);
        }
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    fn label(&self, name: &str) -> &str {
        self.config["config"]["Labels"][name]
            .as_str()
            .unwrap_or_else(|| panic!("no label {name} in {}", self.config["config"]))
    }
}

fn tar(args: &[&str]) {
    let status = Command::new("tar").args(args).status().expect("run tar");
    assert!(status.success(), "tar {args:?}");
}

fn read_json(path: &Path) -> Json {
    serde_json::from_str(&support::read(path)).expect("JSON")
}

fn blob(oci: &Path, digest: &str) -> PathBuf {
    let (algorithm, hex) = digest.split_once(':').expect("algorithm:hex");
    oci.join("blobs").join(algorithm).join(hex)
}

fn git(args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(support::repo_root())
        .output()
        .expect("run git");
    assert!(output.status.success(), "git {args:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_string()
}

/// A codec server spec as `engram_codec_server` builds it, with the image left to its default.
fn spec(overrides: Json) -> CodecServerSpec {
    let mut spec = json!({
        "name": "codec",
        "namespace": "temporal",
        "temporal_cluster": "prod",
        "keyring": "{}",
        "kms": {"provider": "vault", "env": {}},
        "tls_secret_name": "codec-tls",
        "oidc": {
            "issuer": "https://login.example.com/realms/temporal",
            "jwks_url": "https://login.example.com/realms/temporal/certs",
            "audiences": ["temporal-ui"],
        },
    });
    for (key, value) in overrides.as_object().unwrap() {
        spec[key] = value.clone();
    }
    serde_json::from_value(spec).expect("a codec server spec")
}

/// The rendered Deployment's pod spec.
fn pod_spec(spec: &CodecServerSpec) -> Json {
    let rendered = render_codec_server(spec).expect("the spec renders");
    let deployment = rendered
        .objects
        .iter()
        .find(|m| m.object["kind"] == "Deployment")
        .expect("a Deployment");
    deployment.object["spec"]["template"]["spec"].clone()
}

fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
}

fn owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).unwrap();
    (meta.uid(), meta.gid())
}

/// Every file and folder below `root`, as paths relative to it.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path.clone());
            }
            out.push(path.strip_prefix(root).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

#[test]
fn the_image_is_minimal_non_root_labelled_and_the_one_the_deployment_names() {
    let image = BuiltImage::build();
    let config = &image.config["config"];
    let pod = pod_spec(&spec(json!({})));
    let container = &pod["containers"][0];

    // The Deployment names this image by default, and the version agrees everywhere.
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(container["image"], image.tag.as_str());
    assert_eq!(image.tag, format!("ghcr.io/engram-dev/engram:{version}"));
    assert_eq!(image.label("org.opencontainers.image.version"), version);
    let head = git(&["rev-parse", "HEAD"]);
    let dirty = !git(&["status", "--porcelain", "--untracked-files=no"]).is_empty();
    let expected_revision = if dirty { format!("{head}-dirty") } else { head };
    assert_eq!(
        image.label("org.opencontainers.image.revision"),
        expected_revision
    );

    // The pod's user is the image's, and what the pod runs is the image's entrypoint with the
    // Deployment's args.
    assert_eq!(config["User"], format!("{UID}:{UID}"));
    for context in [&pod["securityContext"], &container["securityContext"]] {
        assert_eq!(context["runAsUser"], UID, "{context}");
        assert_eq!(context["runAsGroup"], UID, "{context}");
        assert_eq!(context["runAsNonRoot"], true);
    }
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert!(
        container.get("command").is_none(),
        "the image's entrypoint runs"
    );
    assert_eq!(config["Entrypoint"], json!(["/usr/local/bin/engram"]));
    assert_eq!(container["args"], json!(["codec-server"]));
    assert_eq!(config["Cmd"], json!(["codec-server"]));
    assert!(
        config["ExposedPorts"]
            .as_object()
            .unwrap()
            .contains_key("8443/tcp")
    );
    assert_eq!(container["ports"][0]["containerPort"], 8443);

    // Nothing but the binary, its libraries, CA certificates, user database and notices.
    let rootfs = image.rootfs();
    let mut unexpected = Vec::new();
    for path in walk(&rootfs) {
        let full = rootfs.join(&path);
        let text = path.to_string_lossy().to_string();
        assert!(!full.is_symlink(), "no symlinks: {text}");
        if full.is_dir() {
            continue;
        }
        let allowed = [
            "usr/local/bin/engram",
            "etc/passwd",
            "etc/group",
            "etc/nsswitch.conf",
            "etc/ssl/certs/ca-certificates.crt",
        ]
        .contains(&text.as_str())
            || (text.starts_with("usr/share/doc/") && text.ends_with("/copyright"))
            || ((text.starts_with("lib/") || text.starts_with("lib64/")) && text.contains(".so"));
        if !allowed {
            unexpected.push(text);
        }
    }
    assert!(unexpected.is_empty(), "unexpected files: {unexpected:?}");
    for shell in ["bin/sh", "bin/bash", "usr/bin/sh", "bin/busybox", "bin"] {
        assert!(!rootfs.join(shell).exists(), "no {shell}");
    }
    assert!(rootfs.join("lib64/ld-linux-x86-64.so.2").is_file());
    let passwd = support::read(&rootfs.join("etc/passwd"));
    assert!(
        passwd
            .lines()
            .any(|l| l == format!("nonroot:x:{UID}:{UID}:nonroot:/home/nonroot:/sbin/nologin")),
        "{passwd}"
    );
    assert!(support::read(&rootfs.join("etc/group")).contains(&format!("nonroot:x:{UID}:")));
    let cas = support::read(&rootfs.join("etc/ssl/certs/ca-certificates.crt"));
    assert!(cas.matches("BEGIN CERTIFICATE").count() > 50, "a CA bundle");
    assert!(
        config["Env"]
            .as_array()
            .unwrap()
            .contains(&json!("SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"))
    );
    assert_eq!(file_mode(&rootfs.join("tmp")) & 0o7777, 0o1777);
    assert_eq!(owner(&rootfs.join("home/nonroot")), (UID, UID));
    assert_eq!(owner(&rootfs.join("usr/local/bin/engram")), (0, 0));
    assert_eq!(
        std::fs::read(rootfs.join("usr/local/bin/engram")).unwrap(),
        std::fs::read(env!("CARGO_BIN_EXE_engram")).unwrap(),
        "the binary given to scripts/image"
    );

    // The same inputs give the same image.
    let (_, again, _) = image.save("again.tar");
    assert_eq!(again, image.manifest_digest, "a rebuild is byte-identical");
}

/// A folder standing in for a Secret volume: files owned by root and readable by the pod's
/// group (`defaultMode: 0440` with `fsGroup`), as the kubelet writes them.
fn secret_volume(dir: &Path, files: &[(&str, Vec<u8>)]) {
    use std::os::unix::fs::{PermissionsExt, chown};
    std::fs::create_dir_all(dir).unwrap();
    for (name, bytes) in files {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        chown(&path, Some(0), Some(UID)).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o440)).unwrap();
    }
}

/// The sandbox's first process, killed (and with it, as PID 1 of its namespace, everything in
/// the pod) when dropped.
struct Pod(std::process::Child);

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The uid of the process whose root directory is `rootfs` (the chrooted server).
fn uid_of_process_rooted_at(rootfs: &Path) -> Option<String> {
    for entry in std::fs::read_dir("/proc").ok()? {
        let dir = entry.ok()?.path();
        if std::fs::read_link(dir.join("root")).ok().as_deref() == Some(rootfs) {
            let status = std::fs::read_to_string(dir.join("status")).ok()?;
            return status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "));
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_serves_from_its_own_files_as_the_rendered_pod_runs_it() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let image = BuiltImage::build();
    let rootfs = image.rootfs();
    let work = support::temp_dir("engram-pod-");

    // The KMS, the keyring it wraps, the server's TLS and an identity provider.
    let bao = OpenBao::start().await;
    bao.create_key("engram").await;
    let transit = bao.transit("engram");
    let document = engram::codec::lifecycle::create(
        KeyId::new("default").unwrap(),
        &engram::codec::lifecycle::LifecyclePolicy::DEFAULT,
        &transit,
        engram::codec::clock::now_unix(),
        None,
    )
    .await
    .unwrap()
    .document;
    let worker = PayloadCodec::new(
        Arc::new(Keyring::unwrap_document(&document, &transit).await.unwrap()),
        engram::codec::Namespace::new("default").unwrap(),
    );
    let (cert, key, ca_pem) = tls_files(work.path());
    let issuer_dir = work.path().join("issuer");
    std::fs::create_dir_all(&issuer_dir).unwrap();
    let (issuer_cert, issuer_key, issuer_ca) = tls_files(&issuer_dir);
    let signer = Signer::new("key-1");
    let issuer = Issuer::start_with(
        vec![signer.jwk.clone()],
        Some(rustls_server(&issuer_cert, &issuer_key)),
    )
    .await;
    let issuer_name = "https://idp.test";

    let spec = spec(json!({
        "keyring": document.to_json(),
        "kms": {"provider": "vault", "env": {
            "VAULT_ADDR": bao.address,
            "ENGRAM_CODEC_VAULT_KEY": "engram",
        }},
        // The stand-in issuer's certificate is signed by a private CA, as an in-house IdP's is.
        "oidc": {"issuer": issuer_name, "jwks_url": issuer.jwks_url(), "audiences": ["engram-codec"],
                 "jwks_ca_config_map": "idp-ca"},
    }));
    let pod = pod_spec(&spec);
    let container = &pod["containers"][0];

    // The Deployment's volumes, as the kubelet would fill them.
    let mut volume_dirs: BTreeMap<String, Option<PathBuf>> = BTreeMap::new();
    for volume in pod["volumes"].as_array().unwrap() {
        let name = volume["name"].as_str().unwrap().to_string();
        let dir = work.path().join("volumes").join(&name);
        if let Some(secret) = volume["secret"]["secretName"].as_str() {
            assert_eq!(volume["secret"]["defaultMode"], 0o440);
            let files: Vec<(&str, Vec<u8>)> = if secret == spec.tls_secret_name.as_deref().unwrap()
            {
                vec![
                    ("tls.crt", std::fs::read(&cert).unwrap()),
                    ("tls.key", std::fs::read(&key).unwrap()),
                ]
            } else {
                assert_eq!(secret, "codec-keyring");
                vec![("keyring.json", document.to_json().into_bytes())]
            };
            secret_volume(&dir, &files);
            volume_dirs.insert(name, Some(dir));
        } else if let Some(config_map) = volume["configMap"]["name"].as_str() {
            assert_eq!(config_map, "idp-ca");
            secret_volume(&dir, &[("ca.crt", issuer_ca.as_bytes().to_vec())]);
            volume_dirs.insert(name, Some(dir));
        } else {
            assert!(volume.get("emptyDir").is_some(), "{volume}");
            volume_dirs.insert(name, None);
        }
    }
    // The sandbox: a private mount namespace and PID namespace, the image's root bound
    // read-only, the volumes at the Deployment's mount paths, then the image's entrypoint with
    // the Deployment's args as the Deployment's user.
    let root = rootfs.to_str().unwrap().to_string();
    let mut script = vec![
        "mount --make-rprivate /".to_string(),
        format!("mount --bind {0} {0}", quote(&root)),
        format!("mkdir -p {0}/proc {0}/dev", quote(&root)),
        format!("mount -t proc proc {}/proc", quote(&root)),
        format!(
            "mount -t tmpfs -o mode=0755,nosuid tmpfs {}/dev",
            quote(&root)
        ),
    ];
    for device in ["null", "zero", "random", "urandom"] {
        script.push(format!(
            "touch {r}/dev/{device} && mount --bind /dev/{device} {r}/dev/{device}",
            r = quote(&root)
        ));
    }
    let mounts: Vec<(String, Option<PathBuf>)> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let name = m["name"].as_str().unwrap();
            let read_only = m["readOnly"] == true;
            let dir = volume_dirs[name].clone();
            assert_eq!(
                read_only,
                dir.is_some(),
                "secrets read-only, emptyDir writable"
            );
            (m["mountPath"].as_str().unwrap().to_string(), dir)
        })
        .collect();
    for (path, dir) in &mounts {
        let target = quote(&format!("{root}{path}"));
        script.push(format!("mkdir -p {target}"));
        match dir {
            Some(dir) => script.push(format!(
                "mount --bind {src} {target} && mount -o remount,bind,ro {target}",
                src = quote(dir.to_str().unwrap())
            )),
            None => script.push(format!(
                "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs {target}"
            )),
        }
    }
    // The kubelet gives every container an /etc/hosts (localhost and the pod's name).
    let hosts = work.path().join("hosts");
    std::fs::write(
        &hosts,
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n",
    )
    .unwrap();
    script.push(format!(
        "touch {target} && mount --bind {src} {target} && mount -o remount,bind,ro {target}",
        target = quote(&format!("{root}/etc/hosts")),
        src = quote(hosts.to_str().unwrap())
    ));
    script.push(format!("mount -o remount,bind,ro {}", quote(&root)));
    let argv: Vec<String> = image.config["config"]["Entrypoint"]
        .as_array()
        .unwrap()
        .iter()
        .chain(container["args"].as_array().unwrap())
        .map(|v| quote(v.as_str().unwrap()))
        .collect();
    let user = image.config["config"]["User"].as_str().unwrap();
    script.push(format!(
        "chroot --userspec={user} {} {}",
        quote(&root),
        argv.join(" ")
    ));
    // Not `exec`: the shell stays PID 1 of the namespace, so the whole pod ends with it.
    script.push("exit $?".into());

    // The environment: the image's, then the Deployment's, then what this machine needs.
    let port = free_port();
    let mut env: Vec<(String, String)> = image.config["config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str()?.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for var in container["env"].as_array().unwrap() {
        env.push((
            var["name"].as_str().unwrap().to_string(),
            var["value"]
                .as_str()
                .expect("plain values only")
                .to_string(),
        ));
    }
    let deployment_listen = env
        .iter()
        .find(|(k, _)| k == "ENGRAM_CODEC_LISTEN")
        .map(|(_, v)| v.clone());
    assert_eq!(deployment_listen.as_deref(), Some("0.0.0.0:8443"));
    // Test-only: the host's network (so another port), and a Vault token in place of the pod's
    // Kubernetes login.
    env.push(("ENGRAM_CODEC_LISTEN".into(), format!("127.0.0.1:{port}")));
    env.push(("VAULT_TOKEN".into(), ROOT_TOKEN.into()));

    // Standard output is the container log, where the audit lines go.
    let log = work.path().join("server.log");
    let audit = work.path().join("audit.log");
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--",
            "/bin/sh",
            "-ec",
        ])
        .arg(script.join("\n"))
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&audit).unwrap())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut server = Pod(command.spawn().expect("start unshare"));

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let base = format!("https://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = server.0.try_wait() {
            panic!("the server exited with {status}:\n{}", support::read(&log));
        }
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await
            && response.status() == 200
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready within 60 s:\n{}",
            support::read(&log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert_eq!(
        uid_of_process_rooted_at(&rootfs).as_deref(),
        Some(format!("{UID} {UID} {UID} {UID}").as_str()),
        "the server runs as the image's user"
    );

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = signer.token(json!({
        "sub": "alice", "iss": issuer_name, "aud": "engram-codec",
        "exp": now + 300, "iat": now, "permissions": ["default:read"],
    }));
    let sealed = body(
        &worker
            .encode(vec![plain("decoded inside the image")])
            .unwrap(),
    );
    let response = client
        .post(format!("{base}/decode"))
        .header("Content-Type", "application/json")
        .header("X-Namespace", "default")
        .bearer_auth(token)
        .body(sealed)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}\n{}", support::read(&log));
    assert!(
        text.contains(&base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "\"decoded inside the image\""
        )),
        "{text}"
    );

    // The audit line of that decode, written by the server to its container log.
    let deadline = Instant::now() + Duration::from_secs(20);
    let line = loop {
        let text = std::fs::read_to_string(&audit).unwrap_or_default();
        if let Some(line) = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Json>(l).ok())
            .find(|l| l["operation"] == "decode")
        {
            break line;
        }
        assert!(
            Instant::now() < deadline,
            "no audit line for the decode:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(line["outcome"], "ok", "{line}");
    assert_eq!(line["namespace"], "default", "{line}");
    drop(server);
}
