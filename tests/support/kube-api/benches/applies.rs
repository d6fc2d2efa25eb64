//! Start-up time and server-side apply throughput of the test API server.
//!
//! Runs on a single-threaded tokio runtime, so the server and the kube-rs client share one core.
//! `cargo bench -p kube-api --bench applies`

use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use kube_api::KubeApiServer;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Full runs under `cargo bench`; a quick smoke run when built as a test (`cargo test --benches`).
fn sizes() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") {
        (50, 3000)
    } else {
        (3, 20)
    }
}

async fn client(server: &KubeApiServer) -> Client {
    let kubeconfig = Kubeconfig::read_from(server.kubeconfig_path()).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    Client::try_from(config).expect("client")
}

fn manifest(name: &str, replicas: usize) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": "temporalio/server:1.29.1",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                    "ports": [{"containerPort": 7233, "name": "grpc"}]
                }]}
            }
        }
    })
}

/// CPU time this process has used (user + system), from /proc/self/stat in USER_HZ (100) ticks.
/// With the machine shared, applies per CPU-second is the figure that says what one core does.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn report(label: &str, applies: usize, wall: Duration, cpu: Duration) {
    println!(
        "{label} (n={applies}): {:.0} applies/s wall clock, {:.0} applies per CPU-second ({:?} wall, {:?} CPU per apply)",
        applies as f64 / wall.as_secs_f64(),
        applies as f64 / cpu.as_secs_f64().max(0.001),
        wall / applies as u32,
        cpu / applies as u32
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

async fn startup(starts: usize) {
    let mut times = Vec::with_capacity(starts);
    for _ in 0..starts {
        let started = Instant::now();
        let server = KubeApiServer::start().await.expect("start");
        let bound = started.elapsed();
        let client = client(&server).await;
        client.apiserver_version().await.expect("version");
        times.push((bound, started.elapsed()));
    }
    let mut bound: Vec<Duration> = times.iter().map(|t| t.0).collect();
    let mut answered: Vec<Duration> = times.iter().map(|t| t.1).collect();
    bound.sort();
    answered.sort();
    println!(
        "start-up, start() returned (n={starts}): median {:?}, p95 {:?}, max {:?}",
        percentile(&bound, 0.5),
        percentile(&bound, 0.95),
        bound[bound.len() - 1]
    );
    println!(
        "start-up to first answered request incl. kubeconfig load (n={starts}): median {:?}, p95 {:?}, max {:?}",
        percentile(&answered, 0.5),
        percentile(&answered, 0.95),
        answered[answered.len() - 1]
    );
}

async fn applies(applies: usize) {
    let server = KubeApiServer::start().await.expect("start");
    let deployments: Api<Deployment> = Api::namespaced(client(&server).await, "default");
    let params = PatchParams::apply("bench");
    for i in 0..10 {
        let name = format!("web-{i}");
        deployments
            .patch(&name, &params, &Patch::Apply(manifest(&name, 1)))
            .await
            .expect("create");
    }
    let started = Instant::now();
    let cpu = cpu_time();
    for i in 0..applies {
        let name = format!("web-{}", i % 10);
        deployments
            .patch(&name, &params, &Patch::Apply(manifest(&name, 2 + i % 3)))
            .await
            .expect("apply");
    }
    report(
        "server-side apply, changing Deployments",
        applies,
        started.elapsed(),
        cpu_time() - cpu,
    );
    let unchanged = manifest("web-0", 2);
    deployments
        .patch("web-0", &params, &Patch::Apply(&unchanged))
        .await
        .expect("apply");
    let started = Instant::now();
    let cpu = cpu_time();
    for _ in 0..applies {
        deployments
            .patch("web-0", &params, &Patch::Apply(&unchanged))
            .await
            .expect("apply");
    }
    report(
        "server-side apply, no change",
        applies,
        started.elapsed(),
        cpu_time() - cpu,
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (starts, count) = sizes();
    runtime.block_on(async {
        startup(starts).await;
        applies(count).await;
    });
}
