//! Every example root module under examples/terraform validates against the built provider, so
//! the examples in the docs stay correct.

use crate::terraform::{Version, Workspace};

fn validates(name: &str) {
    let ws = Workspace::from_example(Version::V1_15_5, name);
    let run = ws.run(&["validate", "-no-color"]);
    assert_eq!(
        run.code,
        0,
        "examples/terraform/{name} does not validate:\n{}",
        run.all()
    );
}

#[test]
fn quickstart_validates() {
    validates("quickstart");
}

#[test]
fn production_validates() {
    validates("production");
}

#[test]
fn rotation_validates() {
    validates("rotation");
}

#[test]
fn entra_id_validates() {
    validates("entra-id");
}

/// examples/terraform/production applied as written, only its variables set: the Kubernetes API
/// test server for the cluster (the `payments-workers` namespace made beforehand, as the platform
/// team would), moto for AWS KMS (the key `alias/temporal-payloads` in eu-west-1, found through
/// the SDK's `AWS_ENDPOINT_URL_KMS`), and `temporal server start-dev` standing in for the
/// frontend behind a TLS listener and a front that checks the API key as Temporal's authorizer
/// would (tests/support/frontends.rs). One apply, then an empty plan; the history pods keep
/// their role resources; TLS, sign-in and both ingresses are on; the namespace was registered
/// through the authorizing front.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_applies_end_to_end_and_replans_empty() {
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::networking::v1::Ingress;
    use kube::api::{Api, ListParams, PostParams};
    const TOKEN: &str = "production-example-admin-token";

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let server = kube_api::KubeApiServer::start_with(kube_api::Options {
        auto_ready: Some(std::time::Duration::from_millis(5)),
        ..kube_api::Options::default()
    })
    .await
    .unwrap();
    let kube = {
        let file = kube::config::Kubeconfig::read_from(server.kubeconfig_path()).unwrap();
        let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    };
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(kube.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": "payments-workers"}}))
                .unwrap(),
        )
        .await
        .unwrap();

    let moto = crate::moto::Moto::start();
    moto.create_aliased_key("eu-west-1", "alias/temporal-payloads")
        .await;

    let temporal = crate::support::TemporalDevServer::start();
    let front = crate::frontends::AuthorizingFrontend::start(&temporal.address, TOKEN);
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca_pem) = crate::codec_server_common::tls_files(dir.path());
    let frontend = crate::frontends::tls_listener(
        front.address.clone(),
        crate::codec_server_common::rustls_server(&cert, &key),
    );

    let ws = Workspace::from_example(Version::V1_15_5, "production");
    ws.set_vars(&format!(
        "kubeconfig       = \"{}\"\nkube_context     = \"{}\"\ntemporal_address = \"{frontend}\"\ntemporal_ca_pem  = <<EOT\n{ca_pem}EOT\n",
        server.kubeconfig_path().display(),
        kube_api::CONTEXT,
    ));
    ws.set_env("TF_VAR_temporal_api_key", TOKEN);
    ws.set_env("AWS_ENDPOINT_URL_KMS", &moto.endpoint);
    ws.set_env("AWS_ACCESS_KEY_ID", crate::moto::ACCESS_KEY_ID);
    ws.set_env("AWS_SECRET_ACCESS_KEY", crate::moto::SECRET_ACCESS_KEY);
    let applied = ws.apply();
    ws.assert_no_changes();
    assert!(
        front.passed() > 0 && front.refused() == 0,
        "{}",
        applied.all()
    );

    let deployments: Api<Deployment> = Api::namespaced(kube.clone(), "temporal-prod");
    let history = serde_json::to_value(deployments.get("prod-history").await.unwrap()).unwrap();
    let container = &history["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["resources"]["requests"]["memory"], "4Gi");
    assert_eq!(container["resources"]["limits"]["memory"], "8Gi");
    let ui = serde_json::to_value(deployments.get("prod-web-ui").await.unwrap()).unwrap();
    let env = ui["spec"]["template"]["spec"]["containers"][0]["env"].clone();
    for (name, value) in [
        (
            "TEMPORAL_CODEC_ENDPOINT",
            "https://codec.temporal.example.com",
        ),
        ("TEMPORAL_AUTH_ENABLED", "true"),
    ] {
        assert!(
            env.as_array()
                .unwrap()
                .contains(&serde_json::json!({ "name": name, "value": value })),
            "{name}: {env}"
        );
    }
    let ingresses: Api<Ingress> = Api::namespaced(kube.clone(), "temporal-prod");
    let hosts: Vec<String> = ingresses
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|i| {
            serde_json::to_value(&i.spec).unwrap()["rules"][0]["host"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(hosts.len(), 2, "{hosts:?}");
    assert!(hosts.contains(&"temporal.example.com".to_string()));
    assert!(hosts.contains(&"codec.temporal.example.com".to_string()));

    let described = temporal.cli(&[
        "operator",
        "namespace",
        "describe",
        "--namespace",
        "payments",
    ]);
    assert!(described.contains("Payment workflows"), "{described}");
    let state = ws.file("terraform.tfstate");
    assert!(!state.contains(TOKEN), "the API key is not in the state");
}
