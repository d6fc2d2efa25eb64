//! Encryption at rest, read from what Temporal stores: the newest workflows of each namespace
//! and, for each age in [`Sampling::older_ages_seconds`], the newest started before it, their
//! histories' payloads by metadata alone, each checked to be `binary/encrypted` under a
//! key the keyring holds and has not retired. A plaintext payload is named by workflow id and
//! event id, never by its content.

use crate::codec::{KeyState, KeyringDocument};
use crate::evidence::report::{Control, Fact, RmfFunction};
use crate::temporal::{TemporalClient, TemporalEndpoint};
use std::collections::BTreeMap;
use std::time::Duration;

/// The encoding every encrypted payload carries (docs/payload-format.md).
pub const ENCRYPTED: &str = "binary/encrypted";

/// How many offending payloads are named one by one before the rest are only counted.
pub const MAX_NAMED: usize = 50;

/// The default ages of the older samples: a week, a month and a quarter.
pub const OLDER_AGES_SECONDS: [i64; 3] = [7 * 86_400, 30 * 86_400, 90 * 86_400];

/// Bounds on the sampling.
#[derive(Debug, Clone, Copy)]
pub struct Sampling {
    /// Workflows read per namespace, newest first.
    pub workflows_per_namespace: usize,
    /// Ages (seconds before now): for each, the newest workflows started before it are read too,
    /// so that older workflows are sampled besides the newest.
    pub older_ages_seconds: &'static [i64],
    /// Workflows read per age at most.
    pub older_per_age: usize,
    /// Events read per history at most.
    pub max_events: usize,
    /// The whole check's time limit.
    pub timeout: Duration,
}

impl Default for Sampling {
    fn default() -> Self {
        Self {
            workflows_per_namespace: 20,
            older_ages_seconds: &OLDER_AGES_SECONDS,
            older_per_age: 3,
            max_events: 2_000,
            timeout: Duration::from_secs(120),
        }
    }
}

/// The encryption-at-rest control over `namespaces` of the frontend at `endpoint`.
pub async fn encryption_at_rest(
    endpoint: &TemporalEndpoint,
    namespaces: &[String],
    keyring: &KeyringDocument,
    sampling: Sampling,
) -> Control {
    let mut control = Control::new(
        "encryption-at-rest",
        "Encryption at rest: stored workflow payloads are encrypted",
        &[RmfFunction::Measure, RmfFunction::Manage],
        "Encryption at rest (every workflow payload encrypted)",
    );
    match tokio::time::timeout(
        sampling.timeout,
        sample(&mut control, endpoint, namespaces, keyring, sampling),
    )
    .await
    {
        Ok(()) => {}
        Err(_) => control.fact(Fact::now(
            format!(
                "sampling did not finish within {:?}; the facts above are what was read",
                sampling.timeout
            ),
            format!("Temporal frontend {}", endpoint.address),
            false,
        )),
    }
    let failed = control.facts.iter().filter(|f| !f.holds).count();
    control.conclude(if failed == 0 {
        format!(
            "every sampled payload in {} is encrypted under a key the keyring holds",
            namespaces.join(", ")
        )
    } else {
        format!("{failed} findings: payloads not encrypted under a current key, or the system could not be read")
    });
    control
}

#[derive(Default)]
struct Tally {
    workflows: usize,
    events: usize,
    truncated: usize,
    by_key: BTreeMap<String, usize>,
    bad: usize,
}

async fn sample(
    control: &mut Control,
    endpoint: &TemporalEndpoint,
    namespaces: &[String],
    keyring: &KeyringDocument,
    sampling: Sampling,
) {
    let address = &endpoint.address;
    let client = match TemporalClient::connect(endpoint).await {
        Ok(c) => c,
        Err(e) => {
            control.fact(Fact::now(
                e.to_string(),
                format!("connect {address}"),
                false,
            ));
            return;
        }
    };
    let mut named = 0usize;
    for namespace in namespaces {
        let list_method = format!(
            "ListWorkflowExecutions(namespace={namespace}, page_size={}) on {address}",
            sampling.workflows_per_namespace
        );
        let mut runs = match client
            .recent_workflows(namespace, sampling.workflows_per_namespace)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                control.fact(Fact::now(e.to_string(), list_method, false));
                continue;
            }
        };
        let newest = runs.len();
        let now = crate::codec::clock::now_unix();
        let mut list_method = list_method;
        for age in sampling.older_ages_seconds {
            if sampling.older_per_age == 0 {
                break;
            }
            let before = now - age;
            let method = format!(
                "ListWorkflowExecutions(namespace={namespace}, query=StartTime < \"{}\", page_size={}) on {address}",
                crate::codec::clock::rfc3339(before),
                sampling.older_per_age
            );
            match client
                .workflows_started_before(namespace, before, sampling.older_per_age)
                .await
            {
                Ok(older) => {
                    for run in older {
                        if !runs.iter().any(|r| r.run_id == run.run_id) {
                            runs.push(run);
                        }
                    }
                }
                Err(e) => control.fact(Fact::now(e.to_string(), method.clone(), false)),
            }
            list_method.push_str(&format!("; {method}"));
        }
        let older = runs.len() - newest;
        let history_method =
            format!("GetWorkflowExecutionHistory(namespace={namespace}) on {address}");
        let mut tally = Tally::default();
        for run in &runs {
            let history = match client
                .history_payloads(namespace, run, sampling.max_events)
                .await
            {
                Ok(h) => h,
                Err(e) => {
                    control.fact(Fact::now(
                        format!("workflow `{}`: {e}", run.workflow_id),
                        history_method.clone(),
                        false,
                    ));
                    continue;
                }
            };
            tally.workflows += 1;
            tally.events += history.events;
            tally.truncated += usize::from(history.truncated);
            for p in &history.payloads {
                let problem = match (p.encoding.as_deref(), p.key_id.as_deref()) {
                    (Some(ENCRYPTED), Some(id)) => {
                        match keyring.keys.iter().find(|k| k.id.as_str() == id) {
                            Some(k) if k.state == KeyState::Active => None,
                            Some(_) => Some(format!("encrypted under retired key `{id}`")),
                            None => Some(format!(
                                "encrypted under key `{id}`, which the keyring does not hold"
                            )),
                        }
                    }
                    (Some(ENCRYPTED), None) => Some("encrypted but names no key id".to_string()),
                    (encoding, _) => Some(format!(
                        "not encrypted (encoding `{}`)",
                        encoding.unwrap_or("none")
                    )),
                };
                match problem {
                    None => {
                        *tally
                            .by_key
                            .entry(p.key_id.clone().unwrap_or_default())
                            .or_default() += 1;
                    }
                    Some(problem) => {
                        tally.bad += 1;
                        if named < MAX_NAMED {
                            named += 1;
                            control.fact(Fact::now(
                                format!(
                                    "namespace `{namespace}`, workflow `{}` (run `{}`), event {}, field `{}`: payload {problem}",
                                    run.workflow_id, run.run_id, p.event_id, p.field
                                ),
                                history_method.clone(),
                                false,
                            ));
                        }
                    }
                }
            }
        }
        let keys: Vec<String> = tally
            .by_key
            .iter()
            .map(|(k, n)| format!("{n} under `{k}`"))
            .collect();
        let good: usize = tally.by_key.values().sum();
        control.fact(Fact::now(
            format!(
                "namespace `{namespace}`: {} workflows sampled ({newest} newest, {older} older; {} events{}), {} payloads encrypted under a current key ({}), {} not",
                tally.workflows,
                tally.events,
                if tally.truncated > 0 {
                    format!(", {} histories cut at {} events", tally.truncated, sampling.max_events)
                } else {
                    String::new()
                },
                good,
                if keys.is_empty() { "none".to_string() } else { keys.join(", ") },
                tally.bad
            ),
            format!("{list_method}; {history_method}"),
            tally.bad == 0 && tally.workflows > 0,
        ));
    }
    if named == MAX_NAMED {
        control.fact(Fact::now(
            format!("only the first {MAX_NAMED} offending payloads are named; the namespace lines count them all"),
            "bound of this check",
            false,
        ));
    }
}
