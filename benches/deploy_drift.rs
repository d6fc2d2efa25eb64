//! A whole-cluster drift check of the production example against the Kubernetes API test
//! server: requests and time per check, clean and with one person's edit.

use engram::deploy::{ApplyOptions, Deployer, NoProgress, SpecFile};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use kube_api::{KubeApiServer, Options};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

const ROUNDS: u32 = 50;

async fn measure(deployer: &Deployer, stack: &engram::deploy::Rendered, label: &str) {
    let mut times = Vec::new();
    let mut requests = 0;
    let mut drifts = 0;
    for _ in 0..ROUNDS {
        let started = Instant::now();
        let report = deployer.drift(stack).await.expect("drift");
        times.push(started.elapsed());
        requests = report.requests;
        drifts = report.drifts.len();
    }
    times.sort();
    let median = times[times.len() / 2];
    let p95 = times[times.len() * 95 / 100];
    println!(
        "{label}: {} objects, {requests} requests per check, {drifts} drifts, median {:.1} ms, p95 {:.1} ms",
        stack.objects.len(),
        median.as_secs_f64() * 1e3,
        p95.as_secs_f64() * 1e3
    );
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut options = Options::default();
        options.resources.push(kube_api::ResourceType::custom(
            "cert-manager.io",
            "v1",
            "Certificate",
            "certificates",
        ));
        options.auto_ready = Some(Duration::from_millis(1));
        let server = KubeApiServer::start_with(options).await.expect("server");
        let deployer = Deployer::connect(Some(server.kubeconfig_path()), Duration::from_secs(5))
            .await
            .expect("connect");
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/deploy/production.yaml"
        );
        let file = SpecFile::parse(&std::fs::read_to_string(path).expect("read")).expect("parse");
        let stack = file.render().expect("render").remove(0);
        let apply = ApplyOptions {
            poll_interval: Duration::from_millis(5),
            ..ApplyOptions::default()
        };
        deployer
            .apply(&stack, &apply, &NoProgress, &CancellationToken::new())
            .await
            .expect("apply");
        measure(&deployer, &stack, "clean").await;
        let file =
            kube::config::Kubeconfig::read_from(server.kubeconfig_path()).expect("kubeconfig");
        let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
            .await
            .expect("config");
        let client = kube::Client::try_from(config).expect("client");
        let deployments: Api<Deployment> = Api::namespaced(client, "temporal-prod");
        let person = PatchParams {
            field_manager: Some("kubectl-edit".into()),
            ..PatchParams::default()
        };
        let edit = serde_json::json!({"spec": {"template": {"spec": {"containers": [
            {"name": "frontend", "image": "temporalio/server:1.29.0-hotfix"}
        ]}}}});
        deployments
            .patch("prod-frontend", &person, &Patch::Strategic(edit))
            .await
            .expect("edit");
        measure(&deployer, &stack, "one edited image").await;
    });
}
