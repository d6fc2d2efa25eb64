//! Data key rotation with a dual-key window: when a primary key reaches its age it is replaced
//! by a new primary and stays decrypt-only for the decrypt window, so every payload it sealed
//! still opens; only after the window ends is it retired. Retiring a key inside its window is
//! refused, because payloads sealed under it would become undecryptable.

use super::key_id::KeyId;
use super::keyring::{KeyState, KeyringDocument, KeyringError};
use crate::kms::KeyProvider;

const DAY: i64 = 86_400;

/// How often keys rotate and how long a replaced key keeps decrypting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Age at which the primary key is replaced.
    pub rotate_after_days: i64,
    /// How long a replaced key stays decrypt-only before it may be retired.
    pub decrypt_window_days: i64,
}

/// What is due now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RotationDue {
    /// A new primary key is due.
    pub rotate: bool,
    /// Decrypt-only keys whose window has ended.
    pub retire: Vec<KeyId>,
}

/// A retirement that would make payloads undecryptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetireRefused {
    /// The key seals new payloads.
    #[error("data key `{0}` is the primary key; it cannot be retired")]
    Primary(KeyId),
    /// The key was replaced less than the decrypt window ago.
    #[error(
        "data key `{id}` is inside its decrypt window until {until_unix} (Unix seconds); payloads it sealed would become undecryptable"
    )]
    InsideWindow {
        /// The key.
        id: KeyId,
        /// When its window ends.
        until_unix: i64,
    },
    /// No such key.
    #[error("the keyring has no data key `{0}`")]
    Unknown(KeyId),
}

/// When the primary key is due for replacement.
pub fn next_rotation_at(doc: &KeyringDocument, policy: &RotationPolicy) -> i64 {
    let primary_created = doc
        .keys
        .iter()
        .find(|k| k.state == KeyState::Primary)
        .map_or(0, |k| k.created_unix_seconds);
    primary_created.saturating_add(policy.rotate_after_days.saturating_mul(DAY))
}

/// When key `id` stopped sealing: the creation of the key that followed it. `None` for the
/// newest key and unknown ids.
pub fn replaced_at(doc: &KeyringDocument, id: &KeyId) -> Option<i64> {
    let i = doc.keys.iter().position(|k| &k.id == id)?;
    doc.keys.get(i + 1).map(|next| next.created_unix_seconds)
}

/// Checks that retiring `id` at `now` loses nothing.
pub fn check_retire(
    doc: &KeyringDocument,
    id: &KeyId,
    policy: &RotationPolicy,
    now: i64,
) -> Result<(), RetireRefused> {
    let key = doc
        .keys
        .iter()
        .find(|k| &k.id == id)
        .ok_or_else(|| RetireRefused::Unknown(id.clone()))?;
    if key.state == KeyState::Primary {
        return Err(RetireRefused::Primary(id.clone()));
    }
    let until = replaced_at(doc, id)
        .unwrap_or(i64::MAX)
        .saturating_add(policy.decrypt_window_days.saturating_mul(DAY));
    if now < until {
        return Err(RetireRefused::InsideWindow {
            id: id.clone(),
            until_unix: until,
        });
    }
    Ok(())
}

/// What is due at `now` under `policy`.
pub fn due(doc: &KeyringDocument, policy: &RotationPolicy, now: i64) -> RotationDue {
    RotationDue {
        rotate: now >= next_rotation_at(doc, policy),
        retire: doc
            .keys
            .iter()
            .filter(|k| {
                k.state == KeyState::DecryptOnly && check_retire(doc, &k.id, policy, now).is_ok()
            })
            .map(|k| k.id.clone())
            .collect(),
    }
}

/// Carries out what is due at `now`: a new primary created at `now` (the old one turns
/// decrypt-only) and the retirements. Returns the new primary's id when one was made.
pub async fn rotate(
    doc: &mut KeyringDocument,
    due: &RotationDue,
    provider: &dyn KeyProvider,
    now: i64,
) -> Result<Option<KeyId>, KeyringError> {
    let mut new_primary = None;
    if due.rotate {
        let id = doc.add_key(provider).await?;
        if let Some(key) = doc.keys.iter_mut().find(|k| k.id == id) {
            key.created_unix_seconds = now;
        }
        doc.promote(&id)?;
        tracing::info!(scope = %doc.scope, key_id = %id, "rotated data key");
        new_primary = Some(id);
    }
    for id in &due.retire {
        doc.retire(id)?;
        tracing::info!(scope = %doc.scope, key_id = %id, "retired data key past its decrypt window");
    }
    Ok(new_primary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::keyring::{DOCUMENT_FORMAT, WrappedDataKey};
    use crate::kms::WrappedKey;

    fn key(id: &str, state: KeyState, created: i64) -> WrappedDataKey {
        WrappedDataKey {
            id: KeyId::new(id).unwrap(),
            state,
            created_unix_seconds: created,
            wrapped: WrappedKey::new(vec![1, 2, 3]),
        }
    }

    fn doc() -> KeyringDocument {
        KeyringDocument {
            format: DOCUMENT_FORMAT.into(),
            scope: KeyId::new("payments").unwrap(),
            keys: vec![
                key("k1", KeyState::DecryptOnly, 0),
                key("k2", KeyState::Primary, 100 * DAY),
            ],
            customer_key: None,
        }
    }

    const POLICY: RotationPolicy = RotationPolicy {
        rotate_after_days: 90,
        decrypt_window_days: 30,
    };

    #[test]
    fn rotation_is_due_when_the_primary_reaches_its_age() {
        assert!(!due(&doc(), &POLICY, 189 * DAY).rotate);
        assert!(due(&doc(), &POLICY, 190 * DAY).rotate);
        assert_eq!(next_rotation_at(&doc(), &POLICY), 190 * DAY);
    }

    #[test]
    fn a_replaced_key_retires_only_after_its_window() {
        // k1 was replaced when k2 was created (day 100); its window ends on day 130.
        assert!(due(&doc(), &POLICY, 129 * DAY).retire.is_empty());
        assert_eq!(
            due(&doc(), &POLICY, 130 * DAY).retire,
            vec![KeyId::new("k1").unwrap()]
        );
    }

    #[test]
    fn retiring_inside_the_window_or_the_primary_is_refused() {
        let k1 = KeyId::new("k1").unwrap();
        assert_eq!(
            check_retire(&doc(), &k1, &POLICY, 110 * DAY),
            Err(RetireRefused::InsideWindow {
                id: k1.clone(),
                until_unix: 130 * DAY
            })
        );
        let k2 = KeyId::new("k2").unwrap();
        assert_eq!(
            check_retire(&doc(), &k2, &POLICY, 999 * DAY),
            Err(RetireRefused::Primary(k2))
        );
        let k9 = KeyId::new("k9").unwrap();
        assert_eq!(
            check_retire(&doc(), &k9, &POLICY, 0),
            Err(RetireRefused::Unknown(k9))
        );
    }
}
