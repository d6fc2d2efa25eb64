//! The data key lifecycle, decided in one place: what is due at a given time (add a pending key,
//! record an activation, re-wrap under a newer customer key version, retire), and carrying it out
//! with the events the keyring's history records.
//!
//! A rotation never makes a payload undecryptable, for any reader or writer:
//! - a new key enters *pending*, activating `activation_delay_seconds` later, so every reader
//!   (codec servers, workers) loads it before any writer seals with it;
//! - every key stops sealing at its `seal_until` (its activation + `rotate_after_days` +
//!   `seal_grace_days`), even in a writer that never loads a newer document;
//! - a key is retired only after its `seal_until` plus the decrypt window, so every payload it
//!   sealed has outlived its retention by then.
//!
//! `engram_cmk_binding` calls [`due`] at plan time (no KMS needed) and [`advance`] at apply.

use crate::codec::clock;
use crate::codec::key_id::KeyId;
use crate::codec::keyring::{
    KeyEvent, KeyEventKind, KeyState, KeyTimes, KeyringDocument, KeyringError, WrappedDataKey,
};
use crate::kms::KeyProvider;

const DAY: i64 = 86_400;

/// How keys rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LifecyclePolicy {
    /// Age (from activation) at which the sealing key is replaced.
    pub rotate_after_days: i64,
    /// How long after it stops sealing a key keeps decrypting before it is retired.
    pub decrypt_window_days: i64,
    /// How long past its rotation date a key may still seal, for writers that have not loaded its
    /// successor.
    pub seal_grace_days: i64,
    /// How long after it is added a key starts sealing.
    pub activation_delay_seconds: i64,
}

impl LifecyclePolicy {
    /// The defaults `engram_cmk_binding` documents: rotate every 90 days, decrypt for 400 days
    /// after a key stops sealing, seal up to 30 days past the rotation date, activate an hour
    /// after adding.
    pub const DEFAULT: Self = Self {
        rotate_after_days: 90,
        decrypt_window_days: 400,
        seal_grace_days: 30,
        activation_delay_seconds: 3_600,
    };
}

impl LifecyclePolicy {
    /// The sealing times of a key activating at `activates`.
    fn times_from(&self, activates: i64) -> KeyTimes {
        KeyTimes {
            activates,
            seal_until: Some(activates.saturating_add(
                (self.rotate_after_days.saturating_add(self.seal_grace_days)).saturating_mul(DAY),
            )),
        }
    }
}

/// What the caller observed besides the document: the time and the customer key's versions.
#[derive(Debug, Clone, Default)]
pub struct Observed<'a> {
    /// Now, Unix seconds (the caller's clock).
    pub now: i64,
    /// The customer key's newest version in the KMS, where it versions keys and was reachable.
    pub live_version: Option<&'a str>,
    /// The version the data keys are wrapped under, as last recorded.
    pub wrapped_version: Option<&'a str>,
    /// Keys the operator asked to retire early.
    pub retire_requested: &'a [KeyId],
}

/// Why a key is retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetireReason {
    /// Its decrypt window ended at this time.
    WindowEnded(i64),
    /// The operator asked, and its window has ended.
    Requested,
}

/// One step the lifecycle takes, with its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A rotation: a new key is added, pending until `times.activates`.
    AddPending {
        /// The sealing key it will replace.
        replacing: KeyId,
        /// When the rotation fell due.
        due_since: i64,
        /// When the new key activates and stops sealing.
        times: KeyTimes,
    },
    /// A pending key's activation has passed; it is recorded in the history.
    Activate {
        /// The key.
        key_id: KeyId,
        /// When it activated.
        at: i64,
    },
    /// The customer key was rotated in the KMS; every data key is re-wrapped (the data keys stay
    /// the same).
    Rewrap {
        /// The version they are wrapped under.
        from: Option<String>,
        /// The newest version.
        to: String,
    },
    /// A key stops opening payloads.
    Retire {
        /// The key.
        key_id: KeyId,
        /// Why.
        reason: RetireReason,
    },
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = clock::rfc3339;
        match self {
            Self::AddPending {
                replacing,
                due_since,
                times,
            } => write!(
                f,
                "add a pending data key: rotation of {replacing} is due since {}; the new key activates at {} (every reader loads it first) and seals until {}; {replacing} keeps decrypting",
                t(*due_since),
                t(times.activates),
                times.seal_until.map_or_else(|| "no end".into(), t)
            ),
            Self::Activate { key_id, at } => {
                write!(
                    f,
                    "record activation: {key_id} seals new payloads since {}",
                    t(*at)
                )
            }
            Self::Rewrap { from, to } => write!(
                f,
                "rewrap data keys: the customer key was rotated in the KMS (version {} -> {to}); the data keys stay the same",
                from.as_deref().unwrap_or("?")
            ),
            Self::Retire {
                key_id,
                reason: RetireReason::WindowEnded(at),
            } => write!(
                f,
                "retire data key {key_id}: its decrypt window ended at {}",
                t(*at)
            ),
            Self::Retire {
                key_id,
                reason: RetireReason::Requested,
            } => write!(
                f,
                "retire data key {key_id} (requested; its decrypt window has ended)"
            ),
        }
    }
}

/// A retirement that would make payloads undecryptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetireRefused {
    /// The key seals now, or will once its activation comes.
    #[error(
        "data key `{0}` is the newest key (it seals, or will once it activates); it cannot be retired"
    )]
    Newest(KeyId),
    /// The key may still be needed.
    #[error(
        "data key `{id}` is inside its decrypt window until {until}; payloads it sealed would become undecryptable"
    )]
    InsideWindow {
        /// The key.
        id: KeyId,
        /// When its window ends, RFC 3339.
        until: String,
    },
    /// No such key.
    #[error("the keyring has no data key `{0}`")]
    Unknown(KeyId),
}

/// Why the lifecycle could not advance.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// A requested retirement is refused.
    #[error(transparent)]
    Refused(#[from] RetireRefused),
    /// The KMS or the document failed.
    #[error(transparent)]
    Keyring(#[from] KeyringError),
}

/// When the newest key is due for replacement (`None` for an empty keyring).
pub fn next_rotation_at(doc: &KeyringDocument, policy: &LifecyclePolicy) -> Option<i64> {
    doc.newest_active().map(|k| {
        k.activates_unix_seconds
            .saturating_add(policy.rotate_after_days.saturating_mul(DAY))
    })
}

/// When `key`'s decrypt window ends: its seal end (or, with none, the next key's activation)
/// plus the window. `None` while it has no end.
fn window_ends_at(
    doc: &KeyringDocument,
    key: &WrappedDataKey,
    policy: &LifecyclePolicy,
) -> Option<i64> {
    let stopped = key.seal_until_unix_seconds.or_else(|| {
        doc.keys
            .iter()
            .filter(|k| k.activates_unix_seconds > key.activates_unix_seconds)
            .map(|k| k.activates_unix_seconds)
            .min()
    })?;
    Some(stopped.saturating_add(policy.decrypt_window_days.saturating_mul(DAY)))
}

/// Checks that retiring `id` at `now` loses nothing.
pub fn check_retire(
    doc: &KeyringDocument,
    id: &KeyId,
    policy: &LifecyclePolicy,
    now: i64,
) -> Result<(), RetireRefused> {
    check_retire_replacing(doc, id, policy, now, None)
}

/// [`check_retire`], where `replaced` is the newest key that this same step replaces (it is no
/// longer the newest once its successor is added).
fn check_retire_replacing(
    doc: &KeyringDocument,
    id: &KeyId,
    policy: &LifecyclePolicy,
    now: i64,
    replaced: Option<&KeyId>,
) -> Result<(), RetireRefused> {
    let key = doc
        .keys
        .iter()
        .find(|k| &k.id == id)
        .ok_or_else(|| RetireRefused::Unknown(id.clone()))?;
    if key.state == KeyState::Retired {
        return Ok(());
    }
    let newest = doc
        .newest_active()
        .is_some_and(|n| &n.id == id && replaced != Some(id));
    if newest || key.times().pending_at(now) {
        return Err(RetireRefused::Newest(id.clone()));
    }
    match window_ends_at(doc, key, policy) {
        Some(until) if now >= until => Ok(()),
        until => Err(RetireRefused::InsideWindow {
            id: id.clone(),
            until: until.map_or_else(|| "it stops sealing".into(), clock::rfc3339),
        }),
    }
}

/// What is due, in the order [`advance`] carries it out. A requested retirement that is refused is
/// an error; one that is already due, or already done, adds nothing.
pub fn due(
    doc: &KeyringDocument,
    policy: &LifecyclePolicy,
    observed: &Observed<'_>,
) -> Result<Vec<Step>, RetireRefused> {
    let now = observed.now;
    let mut steps = Vec::new();
    if let Some(live) = observed.live_version
        && observed.wrapped_version != Some(live)
    {
        steps.push(Step::Rewrap {
            from: observed.wrapped_version.map(str::to_string),
            to: live.to_string(),
        });
    }
    if let (Some(newest), Some(due_since)) = (doc.newest_active(), next_rotation_at(doc, policy))
        && now >= due_since
    {
        let activates = now.saturating_add(policy.activation_delay_seconds);
        steps.push(Step::AddPending {
            replacing: newest.id.clone(),
            due_since,
            times: policy.times_from(activates),
        });
    }
    for key in &doc.keys {
        let created = doc
            .history
            .iter()
            .any(|e| e.event == KeyEventKind::Created && e.key_id.as_ref() == Some(&key.id));
        let recorded = doc
            .history
            .iter()
            .any(|e| e.event == KeyEventKind::Activated && e.key_id.as_ref() == Some(&key.id));
        if key.state == KeyState::Active && created && !recorded && !key.times().pending_at(now) {
            steps.push(Step::Activate {
                key_id: key.id.clone(),
                at: key.activates_unix_seconds,
            });
        }
    }
    let replaced = steps.iter().find_map(|s| match s {
        Step::AddPending { replacing, .. } => Some(replacing.clone()),
        _ => None,
    });
    for key in doc.keys.iter().filter(|k| k.state == KeyState::Active) {
        if check_retire_replacing(doc, &key.id, policy, now, replaced.as_ref()).is_ok()
            && let Some(at) = window_ends_at(doc, key, policy)
        {
            steps.push(Step::Retire {
                key_id: key.id.clone(),
                reason: RetireReason::WindowEnded(at),
            });
        }
    }
    for id in observed.retire_requested {
        check_retire_replacing(doc, id, policy, now, replaced.as_ref())?;
        let listed = steps
            .iter()
            .any(|s| matches!(s, Step::Retire { key_id, .. } if key_id == id));
        let active = doc
            .keys
            .iter()
            .any(|k| &k.id == id && k.state == KeyState::Active);
        if active && !listed {
            steps.push(Step::Retire {
                key_id: id.clone(),
                reason: RetireReason::Requested,
            });
        }
    }
    Ok(steps)
}

/// The result of [`advance`] and [`create`].
#[derive(Debug)]
pub struct Advanced {
    /// The new document (its history already holds the events).
    pub document: KeyringDocument,
    /// The events of this call, oldest first.
    pub events: Vec<KeyEvent>,
    /// The customer key version the data keys are now wrapped under.
    pub wrapped_version: Option<String>,
}

/// A new keyring in `scope` whose first key seals at once (no reader exists yet).
pub async fn create(
    scope: KeyId,
    policy: &LifecyclePolicy,
    provider: &dyn KeyProvider,
    now: i64,
    version: Option<&str>,
) -> Result<Advanced, KeyringError> {
    let mut doc = KeyringDocument::empty(scope, policy.activation_delay_seconds);
    let id = doc.add_key(provider, now, policy.times_from(now)).await?;
    let event = |kind| KeyEvent {
        event: kind,
        key_id: Some(id.clone()),
        at_unix_seconds: now,
        customer_key_version: version.map(str::to_string),
    };
    let events = vec![event(KeyEventKind::Created), event(KeyEventKind::Activated)];
    doc.history.extend(events.iter().cloned());
    tracing::info!(scope = %doc.scope, key_id = %id, "created keyring");
    Ok(Advanced {
        document: doc,
        events,
        wrapped_version: version.map(str::to_string),
    })
}

/// Carries out what [`due`] lists, on a copy of `doc`: nothing changes unless every step succeeds.
pub async fn advance(
    doc: &KeyringDocument,
    policy: &LifecyclePolicy,
    provider: &dyn KeyProvider,
    observed: &Observed<'_>,
) -> Result<Advanced, LifecycleError> {
    let steps = due(doc, policy, observed)?;
    let now = observed.now;
    let mut doc = doc.clone();
    doc.activation_delay_seconds = policy.activation_delay_seconds;
    let mut version = observed.wrapped_version.map(str::to_string);
    let mut events = Vec::new();
    let mut event = |kind, key_id: Option<&KeyId>, at, version: &Option<String>| {
        events.push(KeyEvent {
            event: kind,
            key_id: key_id.cloned(),
            at_unix_seconds: at,
            customer_key_version: version.clone(),
        });
    };
    for step in &steps {
        match step {
            Step::Rewrap { to, .. } => {
                doc.rewrap_all(provider).await?;
                version = Some(to.clone());
                event(KeyEventKind::Rewrapped, None, now, &version);
            }
            Step::AddPending {
                replacing, times, ..
            } => {
                let replaced = doc.key_mut(replacing)?;
                if replaced.seal_until_unix_seconds.is_none() {
                    // A key converted from a version 1 document gets its end now.
                    replaced.seal_until_unix_seconds = Some(
                        times
                            .activates
                            .saturating_add(policy.seal_grace_days.saturating_mul(DAY)),
                    );
                }
                let id = doc.add_key(provider, now, *times).await?;
                tracing::info!(scope = %doc.scope, key_id = %id, activates = times.activates, "added pending data key");
                event(KeyEventKind::Created, Some(&id), now, &version);
            }
            Step::Activate { key_id, at } => {
                event(KeyEventKind::Activated, Some(key_id), *at, &version);
            }
            Step::Retire { key_id, .. } => {
                doc.key_mut(key_id)?.state = KeyState::Retired;
                tracing::info!(scope = %doc.scope, key_id = %key_id, "retired data key");
                event(KeyEventKind::Retired, Some(key_id), now, &version);
            }
        }
    }
    doc.history.extend(events.iter().cloned());
    doc.validate()?;
    Ok(Advanced {
        document: doc,
        events,
        wrapped_version: version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kms::local::LocalKeyFile;

    const POLICY: LifecyclePolicy = LifecyclePolicy {
        rotate_after_days: 90,
        decrypt_window_days: 30,
        seal_grace_days: 10,
        activation_delay_seconds: 3_600,
    };

    fn observed(now: i64) -> Observed<'static> {
        Observed {
            now,
            ..Observed::default()
        }
    }

    async fn fresh() -> (tempfile::TempDir, LocalKeyFile, KeyringDocument) {
        let dir = tempfile::tempdir().unwrap();
        let provider = LocalKeyFile::create(&dir.path().join("kek")).unwrap();
        let doc = create(KeyId::new("orders").unwrap(), &POLICY, &provider, 0, None)
            .await
            .unwrap()
            .document;
        (dir, provider, doc)
    }

    #[tokio::test]
    async fn a_rotation_adds_a_pending_key_that_activates_after_the_delay() {
        let (_dir, provider, doc) = fresh().await;
        let first = doc.keys[0].id.clone();
        assert_eq!(doc.keys[0].seal_until_unix_seconds, Some(100 * DAY));
        assert!(
            due(&doc, &POLICY, &observed(90 * DAY - 1))
                .unwrap()
                .is_empty()
        );
        let rotated = advance(&doc, &POLICY, &provider, &observed(90 * DAY))
            .await
            .unwrap()
            .document;
        let second = rotated.keys[1].id.clone();
        let activates = 90 * DAY + 3_600;
        assert_eq!(rotated.keys[1].activates_unix_seconds, activates);
        // Until the activation every writer keeps sealing with the first key.
        assert_eq!(rotated.sealing_key_at(activates - 1).unwrap().id, first);
        assert_eq!(rotated.sealing_key_at(activates).unwrap().id, second);
        // Nothing more is due until the activation, which is then recorded once.
        assert!(
            due(&rotated, &POLICY, &observed(activates - 1))
                .unwrap()
                .is_empty()
        );
        let steps = due(&rotated, &POLICY, &observed(activates)).unwrap();
        assert_eq!(
            steps,
            vec![Step::Activate {
                key_id: second.clone(),
                at: activates
            }]
        );
        let recorded = advance(&rotated, &POLICY, &provider, &observed(activates))
            .await
            .unwrap();
        assert_eq!(recorded.events.len(), 1);
        assert!(
            due(&recorded.document, &POLICY, &observed(activates + 1))
                .unwrap()
                .is_empty()
        );
        let kinds: Vec<KeyEventKind> = recorded.document.history.iter().map(|e| e.event).collect();
        assert_eq!(
            kinds,
            [
                KeyEventKind::Created,
                KeyEventKind::Activated,
                KeyEventKind::Created,
                KeyEventKind::Activated
            ]
        );
    }

    #[tokio::test]
    async fn retirement_waits_for_the_seal_end_plus_the_window() {
        let (_dir, provider, doc) = fresh().await;
        let first = doc.keys[0].id.clone();
        let rotated = advance(&doc, &POLICY, &provider, &observed(90 * DAY))
            .await
            .unwrap()
            .document;
        // The first key seals until day 100 (90 + 10 grace) at the latest; its window ends on day 130.
        let refused = check_retire(&rotated, &first, &POLICY, 130 * DAY - 1).unwrap_err();
        assert!(
            matches!(refused, RetireRefused::InsideWindow { .. }),
            "{refused}"
        );
        let requested = [first.clone()];
        let early = Observed {
            retire_requested: &requested,
            ..observed(120 * DAY)
        };
        assert!(matches!(
            advance(&rotated, &POLICY, &provider, &early).await,
            Err(LifecycleError::Refused(RetireRefused::InsideWindow { .. }))
        ));
        let steps = due(&rotated, &POLICY, &observed(130 * DAY)).unwrap();
        assert!(steps.contains(&Step::Retire {
            key_id: first.clone(),
            reason: RetireReason::WindowEnded(130 * DAY)
        }));
        let second = rotated.keys[1].id.clone();
        assert_eq!(
            check_retire(&rotated, &second, &POLICY, 999 * DAY),
            Err(RetireRefused::Newest(second))
        );
    }

    #[tokio::test]
    async fn a_key_long_past_its_window_is_replaced_and_retired_in_one_step() {
        let (_dir, provider, doc) = fresh().await;
        let first = doc.keys[0].id.clone();
        let late = observed(200 * DAY);
        let steps = due(&doc, &POLICY, &late).unwrap();
        assert!(matches!(steps[0], Step::AddPending { .. }), "{steps:?}");
        assert!(steps.contains(&Step::Retire {
            key_id: first.clone(),
            reason: RetireReason::WindowEnded(130 * DAY)
        }));
        let done = advance(&doc, &POLICY, &provider, &late)
            .await
            .unwrap()
            .document;
        assert!(
            due(&done, &POLICY, &observed(200 * DAY))
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn a_customer_key_rotation_rewraps_and_is_recorded_with_its_version() {
        let (_dir, provider, doc) = fresh().await;
        let seen = Observed {
            live_version: Some("2"),
            wrapped_version: Some("1"),
            ..observed(DAY)
        };
        let done = advance(&doc, &POLICY, &provider, &seen).await.unwrap();
        assert_eq!(done.wrapped_version.as_deref(), Some("2"));
        assert_eq!(done.events[0].event, KeyEventKind::Rewrapped);
        assert_eq!(done.events[0].customer_key_version.as_deref(), Some("2"));
        assert_eq!(done.document.keys[0].id, doc.keys[0].id);
    }
}
