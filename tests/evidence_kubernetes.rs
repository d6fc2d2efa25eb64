//! `engram evidence`'s facts from live Kubernetes objects, against the Kubernetes API test
//! server (these tests always start one; they do not run against a real cluster): the production
//! example applied as deploy/ applies it passes deployment isolation, internode mutual TLS,
//! database TLS and the Temporal authorizer; each weakening made to the live objects afterwards
//! (a namespace label, a NetworkPolicy, the codec server's ServiceAccount, the configuration the
//! servers mount) turns its control to fail, naming what was read. The audit trail is read from
//! the codec server pods' logs (the test server's pods/log, written as a container would).

mod codec_server_common;
mod deploy_common;

use deploy_common::*;
use engram::evidence::facts::live_objects::{KubeTarget, connect};
use engram::evidence::{Control, Inputs, Report, Status, gather};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use std::time::Duration;

const NAMESPACE: &str = "temporal-prod";

fn failing(control: &Control) -> Vec<&str> {
    control
        .facts
        .iter()
        .filter(|f| !f.holds)
        .map(|f| f.observed.as_str())
        .collect()
}

/// The production example (a Temporal cluster and its codec server) applied to a fresh test
/// server, the namespace created by the Temporal stack.
async fn production() -> (kube_api::KubeApiServer, kube::Client) {
    applied_example("production").await
}

async fn report(server: &kube_api::KubeApiServer) -> Report {
    let (client, address) = connect(Some(server.kubeconfig_path())).await.unwrap();
    gather(&Inputs {
        kubernetes: Some(KubeTarget {
            client,
            server: address,
            namespace: NAMESPACE.into(),
            cluster: "prod".into(),
            codec_namespace: NAMESPACE.into(),
        }),
        ..Inputs::default()
    })
    .await
}

async fn merge<K>(api: &Api<K>, name: &str, patch: serde_json::Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("patch {name}: {e}"));
}

#[tokio::test]
async fn the_production_example_passes_every_live_object_check() {
    let (server, _client) = production().await;
    let report = report(&server).await;
    let isolation = report.control("deployment-isolation").unwrap();
    assert_eq!(isolation.status, Status::Pass, "{isolation:#?}");
    let seen = |needle: &str| isolation.facts.iter().any(|f| f.observed.contains(needle));
    assert!(seen(
        "namespace `temporal-prod` enforces the Pod Security level `restricted`"
    ));
    assert!(seen(
        "`prod-history` (prod-allow-internal, prod-allow-metrics, prod-deny-ingress)"
    ));
    assert!(seen("`codec` (codec)"));
    assert!(seen(
        "runs in its own Deployment as ServiceAccount `codec`; Temporal's pods run as `prod-temporal`"
    ));
    assert!(seen(
        "no Temporal pod mounts or reads the codec server `codec`'s Secrets (`codec-keyring`, `codec-tls`)"
    ));
    assert!(
        isolation
            .facts
            .iter()
            .all(|f| f.method.starts_with("GET http://127.0.0.1:")),
        "every fact names the request that read it: {isolation:#?}"
    );

    let transit = report.control("encryption-in-transit").unwrap();
    assert_eq!(transit.status, Status::Pass, "{transit:#?}");
    let said = |c: &Control, needle: &str| c.facts.iter().any(|f| f.observed.contains(needle));
    assert!(said(
        transit,
        "ConfigMap `prod-config` key `docker.yaml`: internode mutual TLS"
    ));
    assert!(said(
        transit,
        "datastore `default` (temporal-db.example.internal:5432): TLS verify-full"
    ));
    assert!(said(transit, "datastore `visibility`"));
    let access = report.control("access-control").unwrap();
    assert_eq!(access.status, Status::Pass, "{access:#?}");
    assert!(said(access, "authorizer is `default`"));
    assert!(said(access, "claim mapper is `default`"));
    assert!(
        access.summary.contains("the codec server was not checked"),
        "a pass without the codec server's probes says so: {}",
        access.summary
    );
    assert!(
        !report
            .to_json()
            .contains("TEMPORAL_DEFAULT_STORE_PASSWORD\" | quote"),
        "template calls are not copied into the report"
    );
}

#[tokio::test]
async fn a_weakened_live_deployment_fails_deployment_isolation() {
    let (server, client) = production().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    merge(
        &namespaces,
        NAMESPACE,
        serde_json::json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}),
    )
    .await;
    let policies: Api<NetworkPolicy> = Api::namespaced(client.clone(), NAMESPACE);
    policies
        .delete("codec", &DeleteParams::default())
        .await
        .unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    merge(
        &deployments,
        "codec",
        serde_json::json!({"spec": {"template": {"spec": {"serviceAccountName": "prod-temporal"}}}}),
    )
    .await;

    let report = report(&server).await;
    let isolation = report.control("deployment-isolation").unwrap();
    assert_eq!(isolation.status, Status::Fail, "{isolation:#?}");
    let failed = failing(isolation);
    assert_eq!(failed.len(), 3, "{failed:#?}");
    assert!(
        failed[0].contains("enforces the Pod Security level `privileged`"),
        "{failed:#?}"
    );
    assert!(
        failed[1].contains("no policy restricts the ingress of codec"),
        "{failed:#?}"
    );
    assert!(
        failed[2]
            .contains("runs as ServiceAccount `prod-temporal`, which Temporal's pods also use"),
        "{failed:#?}"
    );
}

#[tokio::test]
async fn a_weakened_live_server_configuration_fails_transit_and_access_control() {
    let (server, client) = production().await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let live = maps.get("prod-config").await.unwrap();
    let text = live.data.unwrap()["docker.yaml"].clone();
    let weak = text
        .replace("requireClientAuth: true", "requireClientAuth: false")
        .replace(
            "enableHostVerification: true",
            "enableHostVerification: false",
        )
        .replacen("enabled: true", "enabled: false", 1)
        .replace("authorizer: default", "authorizer: ''");
    assert_ne!(weak, text);
    merge(
        &maps,
        "prod-config",
        serde_json::json!({"data": {"docker.yaml": weak}}),
    )
    .await;

    let report = report(&server).await;
    let transit = report.control("encryption-in-transit").unwrap();
    assert_eq!(transit.status, Status::Fail, "{transit:#?}");
    let failed = failing(transit);
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert!(
        failed[0].contains("requireClientAuth is not true"),
        "{failed:#?}"
    );
    assert!(
        failed[1].contains("datastore `default` (temporal-db.example.internal:5432): TLS off"),
        "{failed:#?}"
    );
    assert!(
        transit.facts.iter().any(|f| f.holds
            && f.observed.contains("datastore `visibility`")
            && f.observed.contains("verify-ca")),
        "{transit:#?}"
    );
    let access = report.control("access-control").unwrap();
    assert_eq!(access.status, Status::Fail, "{access:#?}");
    assert!(
        failing(access)
            .iter()
            .any(|f| f.contains("noop authorizer admits every caller")),
        "{access:#?}"
    );
}

#[tokio::test]
async fn servers_that_mount_another_configuration_are_judged_by_what_they_mount() {
    let (server, client) = production().await;
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let open: ConfigMap = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "hand-written"},
        "data": {"docker.yaml": "persistence:\n  datastores:\n    default:\n      sql: {connectAddr: 'db:5432'}\nglobal: {}\n"}
    }))
    .unwrap();
    maps.create(&Default::default(), &open).await.unwrap();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let frontend = deployments.get("prod-frontend").await.unwrap();
    let mut volumes = frontend.spec.template.spec.unwrap().volumes.unwrap();
    let config = volumes.iter_mut().find(|v| v.name == "config").unwrap();
    config.config_map.as_mut().unwrap().name = "hand-written".into();
    merge(
        &deployments,
        "prod-frontend",
        serde_json::json!({"spec": {"template": {"spec": {"volumes": volumes}}}}),
    )
    .await;

    let report = report(&server).await;
    let transit = report.control("encryption-in-transit").unwrap();
    assert_eq!(transit.status, Status::Fail, "{transit:#?}");
    let failed = failing(transit);
    assert!(
        failed.iter().any(|f| f.starts_with(
            "ConfigMap `hand-written` key `docker.yaml`: global.tls.internode is absent"
        )),
        "{failed:#?}"
    );
    assert!(
        transit
            .facts
            .iter()
            .any(|f| f.holds && f.observed.starts_with("ConfigMap `prod-config`")),
        "the other servers' configuration is still read: {transit:#?}"
    );
    assert!(
        transit.facts.iter().any(|f| f
            .method
            .contains("mounted at /etc/engram/temporal/docker.yaml by prod-frontend)")),
        "{transit:#?}"
    );
}

#[tokio::test]
async fn an_unreachable_api_server_fails_naming_its_address() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut config = kube::Config::new(format!("http://127.0.0.1:{port}").parse().unwrap());
    config.connect_timeout = Some(Duration::from_secs(2));
    let client = kube::Client::try_from(config).unwrap();
    let report = gather(&Inputs {
        kubernetes: Some(KubeTarget {
            client,
            server: format!("http://127.0.0.1:{port}/"),
            namespace: NAMESPACE.into(),
            cluster: "prod".into(),
            codec_namespace: NAMESPACE.into(),
        }),
        ..Inputs::default()
    })
    .await;
    for id in [
        "deployment-isolation",
        "encryption-in-transit",
        "access-control",
    ] {
        let c = report.control(id).unwrap();
        assert_eq!(c.status, Status::Fail, "{c:#?}");
        assert!(
            c.facts[0].observed.contains(&format!(
                "GET http://127.0.0.1:{port}/api/v1/namespaces/{NAMESPACE} got no answer"
            )),
            "{c:#?}"
        );
    }
}

#[tokio::test]
async fn without_a_cluster_deployment_isolation_is_not_checked() {
    let report = gather(&Inputs::default()).await;
    let isolation = report.control("deployment-isolation").unwrap();
    assert_eq!(isolation.status, Status::NotChecked);
    assert!(isolation.summary.contains("needs the Kubernetes cluster"));
    assert_eq!(
        report.control("encryption-in-transit").unwrap().status,
        Status::NotChecked
    );
}

/// A container's stdout: every audit line goes into the pod's log as it is written.
struct PodLogWriter {
    handle: kube_api::Handle,
    pod: String,
}

impl std::io::Write for PodLogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.handle.write_pod_log(
            NAMESPACE,
            &self.pod,
            "codec-server",
            &String::from_utf8_lossy(buf),
        );
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_is_read_from_the_codec_server_pods_logs() {
    use codec_server_common::{KeyringFiles, TestServer};
    use k8s_openapi::api::core::v1::Pod;
    let (server, client) = production().await;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let template = deployments.get("codec").await.unwrap().spec.template;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "codec-0", "labels": template.metadata.unwrap().labels},
        "spec": template.spec,
    }))
    .unwrap();
    pods.create(&Default::default(), &pod).await.unwrap();
    let handle = server.handle();
    handle
        .set_status(
            &kube_api::ObjectRef::new("v1", "Pod", NAMESPACE, "codec-0"),
            serde_json::json!({"phase": "Running"}),
        )
        .unwrap();
    let (kube_client, address) = connect(Some(server.kubeconfig_path())).await.unwrap();
    let files = KeyringFiles::create("default").await;
    let inputs = |codec_url: &str| Inputs {
        codec_url: Some(codec_url.to_string()),
        kubernetes: Some(KubeTarget {
            client: kube_client.clone(),
            server: address.clone(),
            namespace: NAMESPACE.into(),
            cluster: "prod".into(),
            codec_namespace: NAMESPACE.into(),
        }),
        ..Inputs::default()
    };

    // A codec server whose audit lines never reach the pod's log.
    let silent = TestServer::start(files.settings()).await;
    let report = gather(&inputs(&silent.base)).await;
    let audit = report.control("audit").unwrap();
    assert_eq!(audit.status, Status::Fail, "{audit:#?}");
    assert!(
        failing(audit)
            .iter()
            .any(|f| f.contains("0 decode audit lines for 1 decode requests")),
        "{audit:#?}"
    );
    silent.stop().await;

    // One whose stdout is the pod's log.
    let writing = TestServer::start_with_audit(
        files.settings(),
        Box::new(PodLogWriter {
            handle: handle.clone(),
            pod: "codec-0".into(),
        }),
    )
    .await;
    let report = gather(&inputs(&writing.base)).await;
    let audit = report.control("audit").unwrap();
    assert_eq!(audit.status, Status::Pass, "{audit:#?}");
    let trail = audit
        .facts
        .iter()
        .find(|f| f.observed.contains("decode audit lines for"))
        .unwrap();
    assert!(
        trail
            .observed
            .starts_with("1 decode audit lines for 1 decode requests"),
        "{trail:?}"
    );
    assert!(
        trail.method.contains(&format!(
            "/api/v1/namespaces/{NAMESPACE}/pods/codec-0/log?container=codec-server"
        )),
        "{trail:?}"
    );
    writing.stop().await;

    // Without any codec server pod there is no trail, and that is a finding.
    pods.delete("codec-0", &DeleteParams::default())
        .await
        .unwrap();
    let again = TestServer::start(files.settings()).await;
    let report = gather(&inputs(&again.base)).await;
    let audit = report.control("audit").unwrap();
    assert_eq!(audit.status, Status::Fail, "{audit:#?}");
    assert!(
        failing(audit)
            .iter()
            .any(|f| f.contains("no codec server pod in namespace `temporal-prod`")),
        "{audit:#?}"
    );
    again.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_reads_the_live_objects_and_names_a_kubeconfig_it_cannot_read() {
    let (server, _client) = production().await;
    let out = tempfile::tempdir().unwrap();
    let run = |kubeconfig: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_engram"))
            .args(["evidence", "--temporal-cluster", "prod"])
            .args(["--kube-namespace", NAMESPACE, "--kubeconfig"])
            .arg(kubeconfig)
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap()
    };
    // The test server answers on the runtime's other worker while this one waits.
    let output = run(server.kubeconfig_path());
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("pass         deployment-isolation"),
        "{stdout}"
    );
    let report: Report =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("report.json")).unwrap())
            .unwrap();
    assert_eq!(
        report.control("deployment-isolation").unwrap().status,
        Status::Pass
    );

    let missing = out.path().join("no-such-kubeconfig");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_engram"))
        .args(["evidence", "--temporal-cluster", "prod"])
        .args(["--kube-namespace", NAMESPACE, "--kubeconfig"])
        .arg(&missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "--kubeconfig: cannot read the kubeconfig {}",
            missing.display()
        )),
        "{stderr}"
    );
}
