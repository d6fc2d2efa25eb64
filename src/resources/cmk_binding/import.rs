//! Import of `engram_cmk_binding`: the keyring document is the binding's only record, so import
//! starts from a copy of it: the codec server's keyring Secret (`secret:NAMESPACE/NAME`) or a
//! file saved from the `keyring` output (`file:PATH`). The document names its customer key, which
//! gives the backend block back.

use super::backends;
use crate::codec::KeyringDocument;
use crate::framework::{Context, Diagnostics, Value};
use crate::provider::ProviderSettings;
use crate::resources::deploy_support as support;
use std::path::PathBuf;

/// What the import ID names.
#[derive(Debug, PartialEq, Eq)]
enum Source {
    /// A Kubernetes Secret holding the document under `keyring.json`.
    Secret { namespace: String, name: String },
    /// A file holding the document.
    File(PathBuf),
}

const ID_FORMATS: &str = "Give `secret:NAMESPACE/NAME` (a Kubernetes Secret with the keyring under `keyring.json`, such as the codec server's `<name>-keyring`) or `file:PATH` (a keyring document saved from the `keyring` output).";

fn parse_id(id: &str) -> Result<Source, String> {
    if let Some(rest) = id.strip_prefix("secret:") {
        return match rest.split_once('/') {
            Some((namespace, name))
                if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
            {
                Ok(Source::Secret {
                    namespace: namespace.into(),
                    name: name.into(),
                })
            }
            _ => Err(format!(
                "{id:?}: the Secret must be given as NAMESPACE/NAME. {ID_FORMATS}"
            )),
        };
    }
    if let Some(path) = id.strip_prefix("file:").filter(|p| !p.is_empty()) {
        return Ok(Source::File(PathBuf::from(path)));
    }
    Err(format!("{id:?} is not a keyring source. {ID_FORMATS}"))
}

/// The keyring document the import ID names, checked.
pub(super) async fn document(
    ctx: &Context<ProviderSettings>,
    id: &str,
    diags: &mut Diagnostics,
) -> Option<KeyringDocument> {
    let source = match parse_id(id) {
        Ok(source) => source,
        Err(e) => {
            diags.error("Invalid import ID", e);
            return None;
        }
    };
    let text = match &source {
        Source::Secret { namespace, name } => {
            let settings = ctx.provider(diags)?;
            let deployer = support::deployer(&settings, diags).await?;
            match deployer.keyring_from_secret(namespace, name).await {
                Ok(text) => text,
                Err(e) => {
                    diags.error("Cannot read the keyring Secret", e.to_string());
                    return None;
                }
            }
        }
        Source::File(path) => match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                diags.error(
                    "Cannot read the keyring file",
                    format!("{}: {e}. {ID_FORMATS}", path.display()),
                );
                return None;
            }
        },
    };
    let doc = match KeyringDocument::from_json(&text) {
        Ok(doc) => doc,
        Err(e) => {
            diags.error(
                "Not a keyring document",
                format!(
                    "{id}: {e}. Import a copy of the `keyring` output of an engram_cmk_binding."
                ),
            );
            return None;
        }
    };
    if doc.customer_key.is_none() {
        diags.error(
            "The keyring does not name its customer key",
            format!("The keyring document from {id} was written before keyrings recorded their customer key, so import cannot tell which KMS key unwraps it. Add a \"customer_key\" object to the document as docs/payload-format.md describes (for example {{\"backend\": \"vault_transit\", \"settings\": {{\"address\": \"https://vault:8200\", \"mount\": \"transit\", \"key_name\": \"payments\"}}}}), then import from that copy."),
        );
        return None;
    }
    Some(doc)
}

/// The state's configuration part for an imported `doc`: its scope and customer key, every
/// other setting at its default (set them in configuration; the next plan shows the difference).
pub(super) fn configuration(doc: &KeyringDocument, diags: &mut Diagnostics) -> Option<Value> {
    let location = doc.customer_key.as_ref()?;
    let Some(blocks) = backends::blocks_for(location) else {
        diags.error(
            "Unknown customer key backend",
            format!(
                "The keyring names backend {:?}; this provider knows {}.",
                location.backend,
                backends::names()
            ),
        );
        return None;
    };
    let mut state = Value::object([
        ("scope", Value::string(doc.scope.to_string())),
        (
            "rotate_after_days",
            Value::int(super::DEFAULT_ROTATE_AFTER_DAYS),
        ),
        (
            "decrypt_window_days",
            Value::int(super::DEFAULT_DECRYPT_WINDOW_DAYS),
        ),
        (
            "seal_grace_days",
            Value::int(super::DEFAULT_SEAL_GRACE_DAYS),
        ),
        (
            "activation_delay_seconds",
            // A document converted from version 1 records none; the default applies then.
            Value::int(
                if doc.activation_delay_seconds >= super::MIN_ACTIVATION_DELAY_SECONDS {
                    doc.activation_delay_seconds
                } else {
                    super::DEFAULT_ACTIVATION_DELAY_SECONDS
                },
            ),
        ),
        (
            "namespace_retention_days",
            Value::int(super::DEFAULT_RETENTION_DAYS),
        ),
        (
            "longest_workflow_run_days",
            Value::int(super::DEFAULT_RUN_DAYS),
        ),
        ("deletion_protection", Value::Bool(true)),
    ]);
    for (name, block) in blocks {
        state.set(name, block);
    }
    Some(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_ids_name_a_secret_or_a_file() {
        assert_eq!(
            parse_id("secret:temporal/codec-keyring"),
            Ok(Source::Secret {
                namespace: "temporal".into(),
                name: "codec-keyring".into()
            })
        );
        assert_eq!(
            parse_id("file:/backups/keyring.json"),
            Ok(Source::File("/backups/keyring.json".into()))
        );
        for bad in [
            "secret:codec-keyring",
            "secret:/x",
            "secret:a/b/c",
            "file:",
            "payments",
        ] {
            let err = parse_id(bad).unwrap_err();
            assert!(err.contains("secret:NAMESPACE/NAME"), "{bad}: {err}");
        }
    }
}
