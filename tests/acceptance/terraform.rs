//! Drives a real Terraform CLI against the built provider: one temporary working directory per
//! test, the provider loaded through `dev_overrides`, nothing from a registry.

use crate::support;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A Terraform version the project supports.
#[derive(Clone, Copy, Debug)]
pub enum Version {
    /// The main version: every acceptance test runs on it.
    V1_15_5,
    /// The oldest supported: a smoke subset runs on it.
    V1_0_3,
}

impl Version {
    fn binary(self) -> PathBuf {
        support::tool(match self {
            Version::V1_15_5 => "terraform",
            Version::V1_0_3 => "terraform-1.0.3",
        })
    }
}

/// The outcome of one Terraform command.
pub struct Run {
    /// Exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// Both streams, for assertions on diagnostics (Terraform prints errors to stderr).
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }

    /// Both streams with every run of whitespace as one space, for assertions on sentences that
    /// Terraform wraps at its terminal width.
    pub fn words(&self) -> String {
        self.all().split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// A working directory with a root module and a Terraform to run in it.
pub struct Workspace {
    version: Version,
    dir: tempfile::TempDir,
    env: std::cell::RefCell<Vec<(String, String)>>,
}

impl Workspace {
    /// A workspace with `main.tf` holding `config`.
    pub fn new(version: Version, config: &str) -> Self {
        let dir = support::temp_dir("engram-acc-");
        std::fs::write(dir.path().join("main.tf"), config).expect("write main.tf");
        let plugin_dir = Path::new(env!("CARGO_BIN_EXE_terraform-provider-engram"))
            .parent()
            .expect("binary has a folder")
            .to_path_buf();
        let cli_config = format!(
            "provider_installation {{\n  dev_overrides {{\n    \"engram/engram\" = \"{}\"\n  }}\n  direct {{}}\n}}\n",
            plugin_dir.display()
        );
        std::fs::write(dir.path().join("cli.tfrc"), cli_config).expect("write cli.tfrc");
        Self {
            version,
            dir,
            env: Default::default(),
        }
    }

    /// A workspace with `main.tf` holding `config` whose Terraform installs providers as
    /// `cli_config` (a CLI configuration: `provider_installation` with mirrors, no
    /// `dev_overrides`) says, as a user's Terraform would.
    pub fn with_cli_config(version: Version, config: &str, cli_config: &str) -> Self {
        let dir = support::temp_dir("engram-acc-");
        std::fs::write(dir.path().join("main.tf"), config).expect("write main.tf");
        std::fs::write(dir.path().join("cli.tfrc"), cli_config).expect("write cli.tfrc");
        Self {
            version,
            dir,
            env: Default::default(),
        }
    }

    /// The workspace's folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A workspace holding a copy of an example under `examples/terraform/`.
    pub fn from_example(version: Version, name: &str) -> Self {
        let path = support::repo_root()
            .join("examples/terraform")
            .join(name)
            .join("main.tf");
        Self::new(version, &support::read(&path))
    }

    /// Replaces `main.tf`.
    pub fn write_config(&self, config: &str) {
        std::fs::write(self.dir.path().join("main.tf"), config).expect("write main.tf");
    }

    /// The current `main.tf`.
    pub fn config(&self) -> String {
        self.file("main.tf")
    }

    /// Writes `terraform.tfvars`.
    pub fn set_vars(&self, tfvars: &str) {
        std::fs::write(self.dir.path().join("terraform.tfvars"), tfvars).expect("write tfvars");
    }

    /// Sets an environment variable for every later Terraform command (and so the provider).
    pub fn set_env(&self, key: &str, value: &str) {
        let mut env = self.env.borrow_mut();
        env.retain(|(k, _)| k != key);
        env.push((key.to_string(), value.to_string()));
    }

    /// Runs `terraform ARGS…` in the workspace.
    pub fn run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(self.version.binary());
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("TF_CLI_CONFIG_FILE", self.dir.path().join("cli.tfrc"))
            .env("TF_IN_AUTOMATION", "1")
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("TF_LOG")
            .env_remove("TF_CLI_ARGS")
            .envs(
                self.env
                    .borrow()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            );
        let Output {
            status,
            stdout,
            stderr,
        } = cmd.output().expect("run terraform");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Runs a command that must succeed; panics with its output otherwise.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        assert_eq!(run.code, 0, "terraform {args:?} failed:\n{}", run.all());
        run
    }

    /// `terraform apply -auto-approve`, which must succeed.
    pub fn apply(&self) -> Run {
        self.ok(&["apply", "-auto-approve", "-no-color", "-input=false"])
    }

    /// `terraform plan -detailed-exitcode`: 0 no changes, 2 changes, 1 error.
    pub fn plan_exit_code(&self) -> Run {
        self.run(&["plan", "-detailed-exitcode", "-no-color", "-input=false"])
    }

    /// Asserts the next plan is empty: no perpetual diff.
    pub fn assert_no_changes(&self) {
        let run = self.plan_exit_code();
        assert_eq!(run.code, 0, "expected an empty plan, got:\n{}", run.all());
    }

    /// `terraform output -json` as JSON: output name → value.
    pub fn outputs(&self) -> Json {
        let run = self.ok(&["output", "-json"]);
        let raw: Json = serde_json::from_str(&run.stdout).expect("output -json is JSON");
        let map = raw
            .as_object()
            .expect("outputs object")
            .iter()
            .map(|(k, v)| (k.clone(), v["value"].clone()))
            .collect();
        Json::Object(map)
    }

    /// True when the workspace has a file of that name.
    pub fn file_exists(&self, name: &str) -> bool {
        self.dir.path().join(name).exists()
    }

    /// The state as JSON.
    pub fn state(&self) -> Json {
        serde_json::from_str(&self.file("terraform.tfstate")).expect("state is JSON")
    }

    /// The attributes of the one resource of `type_name` in state.
    pub fn resource(&self, type_name: &str) -> Json {
        let state = self.state();
        let resource = state["resources"]
            .as_array()
            .and_then(|rs| rs.iter().find(|r| r["type"] == type_name))
            .unwrap_or_else(|| panic!("no {type_name} in state"));
        resource["instances"][0]["attributes"].clone()
    }

    /// A file in the workspace, e.g. the state.
    pub fn file(&self, name: &str) -> String {
        support::read(&self.dir.path().join(name))
    }
}

/// `config` with the resource `engram_cmk_binding.<binding>` replaced by a variable `keyring`
/// that its `.keyring` references now read: for checks (an import, an empty plan) of the
/// resources that consume a keyring, apart from the binding that makes it.
pub fn keyring_as_variable(config: &str, binding: &str) -> String {
    let header = format!("resource \"engram_cmk_binding\" \"{binding}\"");
    let from = config.find(&header).expect("the binding's block");
    let to = from + config[from..].find("\n}\n").expect("the block's end") + 3;
    config
        .replace(
            &config[from..to],
            "variable \"keyring\" {\n  type = string\n}\n",
        )
        .replace(
            &format!("engram_cmk_binding.{binding}.keyring"),
            "var.keyring",
        )
}

/// A `terraform.tfvars` line setting the variable `keyring`.
pub fn keyring_tfvars(keyring: &str) -> String {
    format!(
        "keyring = {}\n",
        serde_json::to_string(keyring).expect("a string")
    )
}
