//! Temporal's server configuration as the pods read it: for each `temporal-server` container of
//! the cluster's Deployments, the file its arguments name, the volume mounted there, and the
//! ConfigMap key behind it; then, from that file, internode mutual TLS and the databases' TLS
//! (encryption in transit) and the authorizer and claim mapper (access control). Never the
//! Terraform configuration: what the servers are told is what they do.
//!
//! The keys are Temporal's `common/config` (config.go `RootTLS`, `GroupTLS`, `ServerTLS`,
//! `Authorization`; persistence.go `SQL.TLS`, v1.29.1); an empty `authorizer` or `claimMapper`
//! selects the noop authorizer and claim mapper, which admit every caller
//! (common/authorization/authorizer.go `GetAuthorizerFromConfig`, claim_mapper.go
//! `GetClaimMapperFromConfig`, v1.29.7).

use super::live_objects::{KubeTarget, Snapshot, config_map, request};
use crate::evidence::report::Fact;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, KeyToPath, PodSpec};
use serde_json::Value;
use std::collections::BTreeMap;

/// The command Temporal's server images run.
pub const SERVER_COMMAND: &str = "temporal-server";

/// Where a server reads its configuration file from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Source {
    /// `ConfigMap` or `Secret`.
    pub kind: &'static str,
    /// The object's name.
    pub name: String,
    /// The key holding the file.
    pub key: String,
    /// The file's path in the container.
    pub path: String,
}

/// The facts read from the live configuration, for the two controls they serve.
#[derive(Debug, Clone, Default)]
pub struct LiveConfig {
    /// Internode mutual TLS and the databases' TLS.
    pub transit: Vec<Fact>,
    /// The authorizer and claim mapper.
    pub access: Vec<Fact>,
}

/// The configuration file a `temporal-server` command line reads: `--config-file`, or
/// `<root>/<config>/<env>.yaml` with Temporal's defaults (`.`, `config`, `development`;
/// cmd/server/main.go, v1.29.1). `None` for a path relative to an unknown working directory.
pub fn config_path(args: &[String]) -> Option<String> {
    let flag = |name: &str| {
        args.iter().enumerate().find_map(|(i, a)| {
            a.strip_prefix(&format!("--{name}="))
                .map(str::to_string)
                .or_else(|| (a == &format!("--{name}")).then(|| args.get(i + 1).cloned())?)
        })
    };
    if let Some(file) = flag("config-file") {
        return file.starts_with('/').then_some(file);
    }
    let root = flag("root").unwrap_or_else(|| ".".into());
    let dir = flag("config").unwrap_or_else(|| "config".into());
    let env = flag("env").unwrap_or_else(|| "development".into());
    let dir = if dir.starts_with('/') {
        dir
    } else {
        format!("{}/{dir}", root.trim_end_matches('/'))
    };
    dir.starts_with('/').then(|| format!("{dir}/{env}.yaml"))
}

fn item_key(items: Option<&Vec<KeyToPath>>, relative: &str) -> Option<String> {
    match items {
        Some(items) => items
            .iter()
            .find(|i| i.path == relative)
            .map(|i| i.key.clone()),
        None => Some(relative.to_string()),
    }
}

/// The ConfigMap or Secret key mounted at `path` in `container` of `pod`.
pub fn mounted(pod: &PodSpec, container: &Container, path: &str) -> Result<Source, String> {
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| {
            path == m.mount_path
                || path.starts_with(&format!("{}/", m.mount_path.trim_end_matches('/')))
        })
        .max_by_key(|m| m.mount_path.len())
        .ok_or_else(|| format!("no volume is mounted at {path}: the image's own file is read"))?;
    let relative = match &mount.sub_path {
        Some(sub) if path == mount.mount_path => sub.clone(),
        _ => path[mount.mount_path.trim_end_matches('/').len()..]
            .trim_start_matches('/')
            .to_string(),
    };
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .ok_or_else(|| {
            format!(
                "the mount at {} names no volume of the pod",
                mount.mount_path
            )
        })?;
    let missing = |kind: &str, name: &str| {
        format!(
            "{kind} `{name}` mounted at {} projects no key to {path}",
            mount.mount_path
        )
    };
    if let Some(map) = &volume.config_map {
        let key = item_key(map.items.as_ref(), &relative)
            .ok_or_else(|| missing("ConfigMap", &map.name))?;
        return Ok(Source {
            kind: "ConfigMap",
            name: map.name.clone(),
            key,
            path: path.to_string(),
        });
    }
    if let Some(secret) = &volume.secret {
        let name = secret.secret_name.clone().unwrap_or_default();
        let key =
            item_key(secret.items.as_ref(), &relative).ok_or_else(|| missing("Secret", &name))?;
        return Ok(Source {
            kind: "Secret",
            name,
            key,
            path: path.to_string(),
        });
    }
    Err(format!(
        "volume `{}` mounted at {} is neither a ConfigMap nor a Secret",
        volume.name, mount.mount_path
    ))
}

/// The configuration source of each server container of `deployment`.
fn sources(deployment: &Deployment) -> Vec<Result<Source, String>> {
    let Some(pod) = deployment.spec.template.spec.as_ref() else {
        return Vec::new();
    };
    pod.containers
        .iter()
        .filter(|c| {
            c.command
                .as_ref()
                .and_then(|c| c.first())
                .is_some_and(|c| c.rsplit('/').next() == Some(SERVER_COMMAND))
        })
        .map(|c| {
            let args = c.args.clone().unwrap_or_default();
            let path = config_path(&args).ok_or_else(|| {
                format!(
                    "container `{}` reads a configuration file relative to its working directory ({})",
                    c.name,
                    args.join(" ")
                )
            })?;
            mounted(pod, c, &path)
        })
        .collect()
}

/// The text with Temporal's template calls (`{{ env "X" }}`, expanded by the server at start)
/// replaced by a plain placeholder, so that it parses as YAML; nothing they stand for is read.
fn without_templates(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        match rest[start..].find("}}") {
            Some(end) => {
                out.push_str("templated");
                rest = &rest[start + end + 2..];
            }
            None => {
                rest = &rest[start..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Parses a server configuration file.
pub fn parse(text: &str) -> Result<Value, String> {
    serde_yaml_ng::from_str::<Value>(&without_templates(text))
        .map_err(|e| format!("not a YAML document: {e}"))
}

fn text<'v>(v: &'v Value, pointer: &str) -> &'v str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn list(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Internode mutual TLS (`global.tls.internode`): servers present a certificate, require one
/// from every peer, and verify it against a CA; clients verify the server against a CA.
pub fn internode(config: &Value) -> (String, bool) {
    let base = "/global/tls/internode";
    if config.pointer(base).is_none() {
        return (
            "global.tls.internode is absent: the servers talk to each other in plaintext".into(),
            false,
        );
    }
    let cert = text(config, &format!("{base}/server/certFile"));
    let require = config
        .pointer(&format!("{base}/server/requireClientAuth"))
        .and_then(Value::as_bool)
        == Some(true);
    let client_cas = list(config, &format!("{base}/server/clientCaFiles"));
    let root_cas = list(config, &format!("{base}/client/rootCaFiles"));
    let mut gaps = Vec::new();
    if cert.is_empty() {
        gaps.push("no server certFile");
    }
    if !require {
        gaps.push("requireClientAuth is not true: a peer without a certificate is accepted");
    }
    if client_cas.is_empty() {
        gaps.push("no clientCaFiles to verify peers' certificates");
    }
    if root_cas.is_empty() {
        gaps.push("no client rootCaFiles: a server's certificate is not verified against a CA");
    }
    if gaps.is_empty() {
        (
            format!(
                "internode mutual TLS: servers present {cert}, require a client certificate verified against {}, and verify servers against {} (server name `{}`)",
                client_cas.join(", "),
                root_cas.join(", "),
                text(config, &format!("{base}/client/serverName"))
            ),
            true,
        )
    } else {
        (
            format!(
                "global.tls.internode is not mutual TLS: {}",
                gaps.join("; ")
            ),
            false,
        )
    }
}

/// Each datastore's TLS mode (`persistence.datastores.<name>.sql.tls`).
pub fn databases(config: &Value) -> Vec<(String, bool)> {
    let Some(stores) = config
        .pointer("/persistence/datastores")
        .and_then(Value::as_object)
    else {
        return vec![(
            "the configuration has no persistence.datastores".into(),
            false,
        )];
    };
    stores
        .iter()
        .map(|(name, store)| {
            let Some(sql) = store.get("sql") else {
                let kind = store
                    .as_object()
                    .and_then(|o| o.keys().next().cloned())
                    .unwrap_or_default();
                return (
                    format!("datastore `{name}` is a `{kind}` store, whose TLS this check does not read"),
                    false,
                );
            };
            let address = text(sql, "/connectAddr");
            let enabled = sql.pointer("/tls/enabled").and_then(Value::as_bool) == Some(true);
            let host = sql
                .pointer("/tls/enableHostVerification")
                .and_then(Value::as_bool)
                == Some(true);
            let ca = text(sql, "/tls/caFile");
            let ca = if ca.is_empty() {
                "the system roots".to_string()
            } else {
                ca.to_string()
            };
            match (enabled, host) {
                (false, _) => (
                    format!("datastore `{name}` ({address}): TLS off, the database connection is plaintext"),
                    false,
                ),
                (true, true) => (
                    format!("datastore `{name}` ({address}): TLS verify-full (chain against {ca}, and host name)"),
                    true,
                ),
                (true, false) => (
                    format!("datastore `{name}` ({address}): TLS verify-ca (chain against {ca}; the host name is not verified)"),
                    true,
                ),
            }
        })
        .collect()
}

/// The authorizer and claim mapper (`global.authorization`).
pub fn authorization(config: &Value) -> Vec<(String, bool)> {
    let base = "/global/authorization";
    let authorizer = text(config, &format!("{base}/authorizer"));
    let mapper = text(config, &format!("{base}/claimMapper"));
    let keys = list(config, &format!("{base}/jwtKeyProvider/keySourceURIs"));
    let claim = text(config, &format!("{base}/permissionsClaimName"));
    vec![
        if authorizer.eq_ignore_ascii_case("default") {
            (
                "the Temporal frontend's authorizer is `default`: each call is checked against the caller's claims".to_string(),
                true,
            )
        } else if authorizer.is_empty() {
            (
                "the Temporal frontend has no authorizer (global.authorization.authorizer is empty): the noop authorizer admits every caller".to_string(),
                false,
            )
        } else {
            (
                format!(
                    "the Temporal frontend's authorizer is `{authorizer}`, a custom one this check cannot judge"
                ),
                false,
            )
        },
        if mapper.eq_ignore_ascii_case("default") && !keys.is_empty() {
            (
                format!(
                    "the claim mapper is `default`: permissions come from the `{}` claim of JWTs signed by keys from {}",
                    if claim.is_empty() {
                        "permissions"
                    } else {
                        claim
                    },
                    keys.join(", ")
                ),
                true,
            )
        } else if mapper.eq_ignore_ascii_case("default") {
            (
                "the claim mapper is `default` but names no jwtKeyProvider.keySourceURIs: no token can be verified".to_string(),
                false,
            )
        } else if mapper.is_empty() {
            (
                "the Temporal frontend has no claim mapper: no caller's claims are read"
                    .to_string(),
                false,
            )
        } else {
            (
                format!("the claim mapper is `{mapper}`, a custom one this check cannot judge"),
                false,
            )
        },
    ]
}

/// Reads the configuration every server Deployment of `snapshot` mounts and judges it.
pub async fn read(target: &KubeTarget, snapshot: &Snapshot) -> LiveConfig {
    let mut out = LiveConfig::default();
    let both = |out: &mut LiveConfig, fact: Fact| {
        out.transit.push(fact.clone());
        out.access.push(fact);
    };
    let deployments_method = request(
        &snapshot.server,
        &format!(
            "/apis/apps/v1/namespaces/{}/deployments?labelSelector={}",
            target.namespace,
            target.temporal_selector()
        ),
    );
    let mut by_source: BTreeMap<Source, Vec<String>> = BTreeMap::new();
    for d in &snapshot.temporal {
        let name = d.metadata.name.clone().unwrap_or_default();
        for source in sources(d) {
            match source {
                Ok(source) => by_source.entry(source).or_default().push(name.clone()),
                Err(e) => both(
                    &mut out,
                    Fact::now(
                        format!("Deployment `{name}`: its configuration cannot be located: {e}"),
                        deployments_method.clone(),
                        false,
                    ),
                ),
            }
        }
    }
    if by_source.is_empty() {
        both(
            &mut out,
            Fact::now(
                format!(
                    "no Deployment of Temporal cluster `{}` in `{}` runs {SERVER_COMMAND}: no live server configuration to read",
                    target.cluster, target.namespace
                ),
                deployments_method,
                false,
            ),
        );
        return out;
    }
    for (source, readers) in by_source {
        let method = request(
            &snapshot.server,
            &format!(
                "/api/v1/namespaces/{}/configmaps/{} (key {}, mounted at {} by {})",
                target.namespace,
                source.name,
                source.key,
                source.path,
                readers.join(", ")
            ),
        );
        let origin = format!("{} `{}` key `{}`", source.kind, source.name, source.key);
        if source.kind != "ConfigMap" {
            both(
                &mut out,
                Fact::now(
                    format!(
                        "the servers read their configuration from {origin}; this check reads no Secret"
                    ),
                    format!("{deployments_method} (volume of {})", readers.join(", ")),
                    false,
                ),
            );
            continue;
        }
        let config = match config_map(target, &source.name).await {
            Ok(data) => match data.get(&source.key) {
                Some(text) => parse(text).map_err(|e| format!("{origin}: {e}")),
                None => Err(format!("{origin}: the ConfigMap has no such key")),
            },
            Err(e) => Err(e),
        };
        let config = match config {
            Ok(c) => c,
            Err(e) => {
                both(&mut out, Fact::now(e, method, false));
                continue;
            }
        };
        let at = |observed: String| format!("{origin}: {observed}");
        let (observed, holds) = internode(&config);
        out.transit
            .push(Fact::now(at(observed), method.clone(), holds));
        for (observed, holds) in databases(&config) {
            out.transit
                .push(Fact::now(at(observed), method.clone(), holds));
        }
        for (observed, holds) in authorization(&config) {
            out.access
                .push(Fact::now(at(observed), method.clone(), holds));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn the_config_path_follows_temporal_server_flags() {
        assert_eq!(
            config_path(&args(
                "--config-file /etc/engram/temporal/docker.yaml start"
            ))
            .as_deref(),
            Some("/etc/engram/temporal/docker.yaml")
        );
        assert_eq!(
            config_path(&args(
                "--root / --config /etc/engram/temporal --env docker start"
            ))
            .as_deref(),
            Some("/etc/engram/temporal/docker.yaml")
        );
        assert_eq!(
            config_path(&args("--root=/srv --config=conf start")).as_deref(),
            Some("/srv/conf/development.yaml")
        );
        assert_eq!(
            config_path(&args("start")),
            None,
            "relative to the working directory"
        );
    }

    #[test]
    fn templates_are_not_read_and_the_rest_parses() {
        let text = "# enable-template\npersistence:\n  datastores:\n    default:\n      sql:\n        password: {{ env \"PW\" | quote }}\n        connectAddr: db:5432\n        tls: {enabled: true, enableHostVerification: false}\n";
        let config = parse(text).unwrap();
        assert_eq!(text_of(&config), "templated");
        let facts = databases(&config);
        assert_eq!(facts.len(), 1);
        assert!(facts[0].1 && facts[0].0.contains("verify-ca"), "{facts:?}");
    }

    fn text_of(config: &Value) -> &str {
        text(config, "/persistence/datastores/default/sql/password")
    }

    #[test]
    fn a_weak_configuration_fails_each_check() {
        let config = parse(
            "persistence:\n  datastores:\n    default:\n      sql: {connectAddr: 'db:5432'}\n    visibility:\n      cassandra: {hosts: db}\nglobal:\n  tls:\n    internode:\n      server: {certFile: /c, requireClientAuth: false}\n",
        )
        .unwrap();
        let (observed, holds) = internode(&config);
        assert!(
            !holds && observed.contains("requireClientAuth"),
            "{observed}"
        );
        let stores = databases(&config);
        assert!(stores.iter().all(|(_, holds)| !holds), "{stores:?}");
        let auth = authorization(&config);
        assert!(auth.iter().all(|(_, holds)| !holds), "{auth:?}");
        assert!(auth[0].0.contains("noop authorizer"), "{auth:?}");
        let (observed, holds) = internode(&parse("global: {}").unwrap());
        assert!(!holds && observed.contains("plaintext"), "{observed}");
    }
}
