//! Temporal's server configuration file, in the format `temporal-server` reads
//! (`common/config` in Temporal: persistence, global TLS/authorization/metrics, services,
//! cluster metadata). The file starts with `# enable-template`, so the server expands the
//! `{{ env "…" }}` references itself: database passwords arrive from Secrets as environment
//! variables and never appear in the ConfigMap.

use super::names::{self, TemporalService};
use crate::deploy::spec::{SqlStoreSpec, TemporalClusterSpec};
use serde_json::{Map, Value, json};

/// Where the configuration ConfigMap is mounted: a directory no Temporal image carries, so
/// nothing of the image is hidden (see `temporal_versions`).
pub const CONFIG_DIR: &str = "/etc/engram/temporal";
/// The configuration file name (with `--env docker` on releases without `--config-file`).
pub const CONFIG_FILE: &str = "docker.yaml";
/// Where the dynamic configuration ConfigMap is mounted.
pub const DYNAMIC_CONFIG_DIR: &str = "/etc/engram/temporal-dynamic-config";
/// The dynamic configuration file name.
pub const DYNAMIC_CONFIG_FILE: &str = "dynamic_config.yaml";
/// How often every server reloads its certificates from the mounted Secrets, so cert-manager
/// renewals take effect. Temporal's `global.tls.refreshInterval`: at 0 (its default) the files
/// are read once and never again (common/rpc/encryption/local_store_cert_provider.go
/// `initialize`, v1.29.1).
pub const TLS_REFRESH_INTERVAL: &str = "5m";
/// The port Prometheus scrapes on every server pod.
pub const METRICS_PORT: i32 = 9090;
/// The environment variable holding the default store's password.
pub const DEFAULT_PASSWORD_ENV: &str = "TEMPORAL_DEFAULT_STORE_PASSWORD";
/// The environment variable holding the visibility store's password.
pub const VISIBILITY_PASSWORD_ENV: &str = "TEMPORAL_VISIBILITY_STORE_PASSWORD";
/// Where the internode certificate Secret is mounted.
pub const INTERNODE_TLS_DIR: &str = "/etc/temporal/tls/internode";
/// Where the frontend certificate Secret is mounted.
pub const FRONTEND_TLS_DIR: &str = "/etc/temporal/tls/frontend";

/// The directory a store's CA bundle is mounted in.
pub fn sql_ca_dir(store: &str) -> String {
    format!("/etc/temporal/tls/sql-{store}")
}

/// Placeholders the YAML writer leaves as plain scalars, replaced by template calls afterwards
/// so that the expanded value is quoted by the server's own template function.
const TEMPLATES: [(&str, &str); 3] = [
    (
        "ENGRAM_TEMPLATE_DEFAULT_PASSWORD",
        "{{ env \"TEMPORAL_DEFAULT_STORE_PASSWORD\" | quote }}",
    ),
    (
        "ENGRAM_TEMPLATE_VISIBILITY_PASSWORD",
        "{{ env \"TEMPORAL_VISIBILITY_STORE_PASSWORD\" | quote }}",
    ),
    ("ENGRAM_TEMPLATE_POD_IP", "{{ env \"POD_IP\" }}"),
];

/// A host as it stands before `:port` in an address: IPv6 literals in brackets.
pub fn connect_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn sql_store(spec: &SqlStoreSpec, store: &str, password: &str) -> Value {
    let mut sql = json!({
        "pluginName": crate::deploy::temporal_versions::SQL_PLUGIN,
        "databaseName": spec.database,
        "connectAddr": format!("{}:{}", connect_host(&spec.host), spec.port),
        "connectProtocol": "tcp",
        "user": spec.user,
        "password": password,
        "maxConns": spec.max_conns,
        "maxIdleConns": spec.max_idle_conns,
        "maxConnLifetime": spec.max_conn_lifetime,
    });
    if spec.tls.enabled {
        let mut tls = json!({
            "enabled": true,
            "enableHostVerification": spec.tls.mode == "verify-full",
        });
        if spec.tls.ca.is_some() {
            tls["caFile"] = json!(format!("{}/ca.crt", sql_ca_dir(store)));
        }
        sql["tls"] = tls;
    }
    json!({ "sql": sql })
}

fn global(spec: &TemporalClusterSpec) -> Value {
    let mut global = json!({
        "membership": {
            "maxJoinDuration": "30s",
            "broadcastAddress": "ENGRAM_TEMPLATE_POD_IP",
        },
        "metrics": {
            "prometheus": {
                "framework": "tally",
                "timerType": "histogram",
                "listenAddress": format!("0.0.0.0:{METRICS_PORT}"),
            }
        },
    });
    let mut tls = Map::new();
    if spec.tls.internode.is_some() {
        let dir = INTERNODE_TLS_DIR;
        tls.insert(
            "internode".into(),
            json!({
                "server": {
                    "certFile": format!("{dir}/tls.crt"),
                    "keyFile": format!("{dir}/tls.key"),
                    "requireClientAuth": true,
                    "clientCaFiles": [format!("{dir}/ca.crt")],
                },
                "client": {
                    "serverName": names::internode_server_name(spec),
                    "rootCaFiles": [format!("{dir}/ca.crt")],
                },
            }),
        );
    }
    if spec.tls.frontend.is_some() {
        let dir = FRONTEND_TLS_DIR;
        tls.insert(
            "frontend".into(),
            json!({
                "server": {
                    "certFile": format!("{dir}/tls.crt"),
                    "keyFile": format!("{dir}/tls.key"),
                    "requireClientAuth": false,
                },
                "client": {
                    "serverName": names::service_host(spec, TemporalService::Frontend),
                    "rootCaFiles": [format!("{dir}/ca.crt")],
                },
            }),
        );
    }
    if !tls.is_empty() {
        tls.insert("refreshInterval".into(), json!(TLS_REFRESH_INTERVAL));
        global["tls"] = Value::Object(tls);
    }
    if let Some(auth) = &spec.authorization {
        let mut authorization = json!({
            "jwtKeyProvider": {
                "keySourceURIs": auth.jwt_key_source_uris,
                "refreshInterval": auth.refresh_interval,
            },
            "permissionsClaimName": auth.permissions_claim_name,
            "authorizer": auth.authorizer,
            "claimMapper": auth.claim_mapper,
        });
        if let Some(audience) = &auth.audience {
            authorization["audience"] = json!(audience);
        }
        global["authorization"] = authorization;
    }
    global
}

fn services(spec: &TemporalClusterSpec) -> Value {
    let mut services = Map::new();
    for service in names::services(spec) {
        let mut rpc = json!({
            "grpcPort": service.grpc_port(),
            "membershipPort": service.membership_port(),
            "bindOnIP": "0.0.0.0",
        });
        if let Some(http) = service.http_port() {
            rpc["httpPort"] = json!(http);
        }
        services.insert(service.config_name().into(), json!({ "rpc": rpc }));
    }
    Value::Object(services)
}

/// The server configuration file's text.
pub fn render(spec: &TemporalClusterSpec) -> String {
    let frontend = names::service_host(spec, TemporalService::Frontend);
    let config = json!({
        "log": { "stdout": true, "level": "info", "format": "json" },
        "persistence": {
            "numHistoryShards": spec.history_shard_count,
            "defaultStore": "default",
            "visibilityStore": "visibility",
            "datastores": {
                "default": sql_store(&spec.persistence.default, "default", "ENGRAM_TEMPLATE_DEFAULT_PASSWORD"),
                "visibility": sql_store(&spec.persistence.visibility, "visibility", "ENGRAM_TEMPLATE_VISIBILITY_PASSWORD"),
            },
        },
        "global": global(spec),
        "services": services(spec),
        "clusterMetadata": {
            "enableGlobalNamespace": false,
            "failoverVersionIncrement": 10,
            "masterClusterName": spec.name,
            "currentClusterName": spec.name,
            "clusterInformation": {
                spec.name.clone(): {
                    "enabled": true,
                    "initialFailoverVersion": 1,
                    "rpcAddress": format!("{frontend}:{}", TemporalService::Frontend.grpc_port()),
                    "httpAddress": format!("{frontend}:{}", TemporalService::Frontend.http_port().unwrap_or_default()),
                }
            },
        },
        "dcRedirectionPolicy": { "policy": "noop" },
        "archival": {
            "history": { "state": "disabled" },
            "visibility": { "state": "disabled" },
        },
        "namespaceDefaults": {
            "archival": {
                "history": { "state": "disabled" },
                "visibility": { "state": "disabled" },
            }
        },
        "dynamicConfigClient": {
            "filepath": format!("{DYNAMIC_CONFIG_DIR}/{DYNAMIC_CONFIG_FILE}"),
            "pollInterval": "60s",
        },
    });
    let mut text = String::from(
        "# enable-template\n# Rendered by engram; Temporal expands the env references at start.\n",
    );
    text.push_str(&serde_yaml_ng::to_string(&config).unwrap_or_default());
    for (placeholder, template) in TEMPLATES {
        text = text.replace(placeholder, template);
    }
    text
}

/// The dynamic configuration file, from the spec's `dynamic_config` (empty: Temporal's
/// defaults apply).
pub fn render_dynamic(spec: &TemporalClusterSpec) -> String {
    let mut text =
        String::from("# Temporal dynamic configuration, rendered by engram from dynamic_config.\n");
    if spec.dynamic_config.is_empty() {
        text.push_str("{}\n");
    } else {
        text.push_str(&serde_yaml_ng::to_string(&spec.dynamic_config).unwrap_or_default());
    }
    text
}

/// Reads `numHistoryShards` back from a rendered (or live) configuration file.
pub fn shard_count(config_text: &str) -> Option<u32> {
    config_text.lines().find_map(|line| {
        line.trim()
            .strip_prefix("numHistoryShards:")
            .and_then(|n| n.trim().parse().ok())
    })
}
