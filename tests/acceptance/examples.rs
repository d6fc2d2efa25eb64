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
