//! The list-type data server-side apply merges by is Kubernetes' published OpenAPI data, not a
//! hand-written copy: regenerating it from `kubernetes-validate==1.37.0` gives the committed file.

use std::path::Path;
use std::process::Command;

#[test]
fn list_type_data_matches_the_published_openapi_definitions() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("python3")
        .arg(crate_dir.join("scripts/extract-list-types.py"))
        .arg("--check")
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
