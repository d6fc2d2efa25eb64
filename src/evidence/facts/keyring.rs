//! Facts from the keyring document itself (docs/payload-format.md): which customer key wraps
//! the data keys, the keys' states and ages, and the rotation history against the policy.
//! Optionally the KMS's own account of the customer key ([`KeyProvider::describe_key`]).

use crate::codec::clock::rfc3339;
use crate::codec::lifecycle::{LifecyclePolicy, next_rotation_at};
use crate::codec::{KeyEventKind, KeyState, KeyringDocument};
use crate::evidence::report::{Control, Fact, RmfFunction};
use crate::kms::KeyProvider;
use std::time::Duration;

/// How long the KMS may take to describe its key.
pub const KMS_TIMEOUT: Duration = Duration::from_secs(15);

const DAY: i64 = 86_400;

/// The key-management control: the document names a customer-managed key (not a local key
/// file), and every data key is wrapped, with its state and age.
pub fn key_management(doc: &KeyringDocument, source: &str, now: i64) -> Control {
    let mut control = Control::new(
        "key-management",
        "Key management: data keys wrapped under a customer-managed key",
        &[RmfFunction::Govern, RmfFunction::Manage],
        "Key management through customer-managed keys",
    );
    let method = format!("read keyring document {source}");
    match &doc.customer_key {
        Some(location) => {
            let settings: Vec<String> = location
                .settings
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let managed = location.backend != "local";
            control.fact(Fact::now(
                format!(
                    "keyring scope `{}`: data keys are wrapped by backend `{}` ({}){}",
                    doc.scope,
                    location.backend,
                    settings.join(", "),
                    if managed {
                        ""
                    } else {
                        "; a local key file is not a customer-managed KMS key"
                    }
                ),
                format!("{method}: customer_key"),
                managed,
            ));
        }
        None => control.fact(Fact::now(
            format!(
                "keyring scope `{}` does not name the customer key that wraps it (written before customer_key existed)",
                doc.scope
            ),
            format!("{method}: customer_key"),
            false,
        )),
    }
    for key in &doc.keys {
        let state = match key.state {
            KeyState::Active => "active",
            KeyState::Retired => "retired",
        };
        let age_days = (now - key.created_unix_seconds).max(0) / DAY;
        control.fact(Fact::now(
            format!(
                "data key `{}`: {state}, created {} ({age_days} days ago), activates {}, seals until {}; stored only wrapped ({} bytes of ciphertext)",
                key.id,
                rfc3339(key.created_unix_seconds),
                rfc3339(key.activates_unix_seconds),
                key.seal_until_unix_seconds
                    .map(rfc3339)
                    .unwrap_or_else(|| "no end".into()),
                key.wrapped.ciphertext.len(),
            ),
            format!("{method}: keys[]"),
            true,
        ));
    }
    let summary = if control.facts.iter().all(|f| f.holds) {
        format!(
            "{} data keys, all wrapped under the customer's key",
            doc.keys.len()
        )
    } else {
        "the keyring's data keys are not shown to be wrapped under a customer-managed key".into()
    };
    control.conclude(summary);
    control
}

/// Adds the KMS's account of the customer key to `control` (enabled, newest version), within
/// [`KMS_TIMEOUT`].
pub async fn describe_customer_key(control: &mut Control, provider: &dyn KeyProvider) {
    let method = "KeyProvider::describe_key (the KMS's DescribeKey / key configuration)";
    let fact = match tokio::time::timeout(KMS_TIMEOUT, provider.describe_key()).await {
        Ok(Ok(d)) => Fact::now(
            format!(
                "the KMS reports key `{}` {}, newest version {}",
                d.key,
                if d.enabled { "enabled" } else { "disabled" },
                d.latest_version.as_deref().unwrap_or("not versioned")
            ),
            method,
            d.enabled,
        ),
        Ok(Err(e)) => Fact::now(
            format!("the KMS could not describe the key: {e}"),
            method,
            false,
        ),
        Err(_) => Fact::now(
            format!("the KMS did not answer within {KMS_TIMEOUT:?}"),
            method,
            false,
        ),
    };
    control.fact(fact);
    let summary = control.summary.clone();
    control.conclude(summary);
}

/// The rotation control: the last rotation, the next due date under `policy`, and whether it
/// is overdue at `now`.
pub fn rotation(
    doc: &KeyringDocument,
    source: &str,
    policy: &LifecyclePolicy,
    now: i64,
) -> Control {
    let mut control = Control::new(
        "key-rotation",
        "Key rotation: data keys rotate on schedule",
        &[RmfFunction::Manage, RmfFunction::Measure],
        "Automated key rotation",
    );
    let method = format!("read keyring document {source}");
    let counts = |kind: KeyEventKind| doc.history.iter().filter(|e| e.event == kind).count();
    control.fact(Fact::now(
        format!(
            "history: {} events ({} created, {} activated, {} re-wrapped, {} retired){}",
            doc.history.len(),
            counts(KeyEventKind::Created),
            counts(KeyEventKind::Activated),
            counts(KeyEventKind::Rewrapped),
            counts(KeyEventKind::Retired),
            doc.history
                .last()
                .map(|e| format!("; newest at {}", rfc3339(e.at_unix_seconds)))
                .unwrap_or_default()
        ),
        format!("{method}: history[]"),
        true,
    ));
    match (doc.newest_active(), next_rotation_at(doc, policy)) {
        (Some(newest), Some(due)) => {
            let overdue = now >= due;
            control.fact(Fact::now(
                format!(
                    "the newest sealing key `{}` activated {}; rotate after {} days: next rotation due {}{}",
                    newest.id,
                    rfc3339(newest.activates_unix_seconds),
                    policy.rotate_after_days,
                    rfc3339(due),
                    if overdue {
                        format!(", overdue by {} days", (now - due) / DAY)
                    } else {
                        format!(", in {} days", (due - now) / DAY)
                    }
                ),
                format!("{method}: keys[].activates_unix_seconds"),
                !overdue,
            ));
            control.conclude(if overdue {
                format!("rotation is overdue since {}", rfc3339(due))
            } else {
                format!("rotated within policy; next due {}", rfc3339(due))
            });
        }
        _ => {
            control.fact(Fact::now(
                "the keyring has no active key that seals",
                format!("{method}: keys[]"),
                false,
            ));
            control.conclude("no key seals, so none rotates");
        }
    }
    control
}
