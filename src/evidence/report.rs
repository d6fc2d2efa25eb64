//! The report: controls, each proved (or not) by facts read from the live system, and the
//! canonical hash that lets a stored report be checked later.
//!
//! The hash rule (docs/guides/security-evidence.md, "The hash"): take the report as a JSON
//! object, remove its top-level `sha256` member, write the rest canonically (object keys sorted
//! by their UTF-8 bytes, no whitespace, strings escaped as JSON requires), and take the SHA-256
//! of those bytes, in lowercase hex.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The schema this code writes; a reader refuses another.
pub const SCHEMA: &str = "engram.security-evidence/v1";

/// The NIST AI RMF 1.0 core functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RmfFunction {
    /// Policies, roles and accountability.
    Govern,
    /// Context and risk identification.
    Map,
    /// Assessment, analysis and tracking.
    Measure,
    /// Prioritising and acting on risks.
    Manage,
}

impl RmfFunction {
    /// The function's name as the framework writes it.
    pub fn name(self) -> &'static str {
        match self {
            RmfFunction::Govern => "Govern",
            RmfFunction::Map => "Map",
            RmfFunction::Measure => "Measure",
            RmfFunction::Manage => "Manage",
        }
    }
}

/// A control's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every fact the control needs was read and holds.
    Pass,
    /// A fact was read and does not hold, or the system could not be read.
    Fail,
    /// The check was not run (no input for it); said plainly, never counted as a pass.
    NotChecked,
}

impl Status {
    /// The status as the report's JSON writes it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotChecked => "not-checked",
        }
    }
}

/// One observation: what was seen, when, and how it was obtained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// What was observed, in words a reviewer reads (never a secret or payload content).
    pub observed: String,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The call, command or endpoint that produced it, e.g. `GET https://codec:8443/metrics`.
    pub method: String,
    /// Whether this fact supports the control (`false` for the fact that made it fail).
    pub holds: bool,
}

impl Fact {
    /// A fact observed now.
    pub fn now(observed: impl Into<String>, method: impl Into<String>, holds: bool) -> Self {
        Self {
            observed: observed.into(),
            at: crate::codec::clock::rfc3339(crate::codec::clock::now_unix()),
            method: method.into(),
            holds,
        }
    }
}

/// One control of the review and its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// Stable id, e.g. `encryption-at-rest`.
    pub id: String,
    /// A short title.
    pub title: String,
    /// The NIST AI RMF functions the control serves.
    pub nist_ai_rmf: Vec<RmfFunction>,
    /// The AI-SEC-01 ("Data Encryption") item it evidences.
    pub ai_sec_01: String,
    /// The result.
    pub status: Status,
    /// One sentence on the result.
    pub summary: String,
    /// The observations, in the order they were made.
    pub facts: Vec<Fact>,
}

impl Control {
    /// A control with no facts yet, not checked.
    pub fn new(id: &str, title: &str, nist_ai_rmf: &[RmfFunction], ai_sec_01: &str) -> Self {
        Self {
            id: id.to_string(),
            title: title.to_string(),
            nist_ai_rmf: nist_ai_rmf.to_vec(),
            ai_sec_01: ai_sec_01.to_string(),
            status: Status::NotChecked,
            summary: String::new(),
            facts: Vec::new(),
        }
    }

    /// Adds a fact.
    pub fn fact(&mut self, fact: Fact) {
        self.facts.push(fact);
    }

    /// Sets the status from the facts: not checked without facts, fail when any fact does not
    /// hold, pass otherwise; with `summary`.
    pub fn conclude(&mut self, summary: impl Into<String>) {
        self.status = if self.facts.is_empty() {
            Status::NotChecked
        } else if self.facts.iter().any(|f| !f.holds) {
            Status::Fail
        } else {
            Status::Pass
        };
        self.summary = summary.into();
    }

    /// Adds facts read from another source and concludes again, the summary extended with
    /// `note` (or replaced by it when the control had no facts before).
    pub fn extend(&mut self, facts: Vec<Fact>, note: &str) {
        if facts.is_empty() {
            return;
        }
        let summary = if self.facts.is_empty() {
            note.to_string()
        } else {
            format!("{}; {note}", self.summary)
        };
        self.facts.extend(facts);
        self.conclude(summary);
    }

    /// Marks the control not checked, saying why.
    pub fn not_checked(&mut self, why: impl Into<String>) {
        self.status = Status::NotChecked;
        self.summary = why.into();
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When the report was made, RFC 3339 UTC.
    pub generated_at: String,
    /// The version of `engram` that made it.
    pub generator: String,
    /// The controls, in a fixed order.
    pub controls: Vec<Control>,
    /// SHA-256 of the canonical content (see the module comment), lowercase hex.
    pub sha256: String,
}

/// Why a stored report could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not JSON, or not an object.
    #[error("the report is not a JSON object: {0}")]
    NotJson(String),
    /// No `sha256` string.
    #[error("the report has no sha256 member")]
    NoHash,
}

impl Report {
    /// The control `id` (e.g. `encryption-at-rest`), for a reader of a report.
    pub fn control(&self, id: &str) -> Option<&Control> {
        self.controls.iter().find(|c| c.id == id)
    }

    /// The controls that failed, in report order.
    pub fn failed(&self) -> impl Iterator<Item = &Control> {
        self.controls.iter().filter(|c| c.status == Status::Fail)
    }

    /// A report of `controls`, made now, with its hash.
    pub fn new(controls: Vec<Control>) -> Self {
        let mut report = Self {
            schema: SCHEMA.to_string(),
            generated_at: crate::codec::clock::rfc3339(crate::codec::clock::now_unix()),
            generator: format!("engram {}", env!("CARGO_PKG_VERSION")),
            controls,
            sha256: String::new(),
        };
        report.seal();
        report
    }

    /// Recomputes the hash over the current content.
    pub fn seal(&mut self) {
        self.sha256.clear();
        let value = serde_json::to_value(&*self).unwrap_or(Value::Null);
        self.sha256 = content_hash(&value);
    }

    /// Whether any control failed.
    pub fn any_failed(&self) -> bool {
        self.controls.iter().any(|c| c.status == Status::Fail)
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The hash of a report's JSON value: SHA-256 over the canonical form of the value without
/// its top-level `sha256` member, lowercase hex.
pub fn content_hash(report: &Value) -> String {
    let mut value = report.clone();
    if let Value::Object(map) = &mut value {
        map.remove("sha256");
    }
    let mut canonical = String::new();
    write_canonical(&value, &mut canonical);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Checks a stored report's text: whether its `sha256` matches its content.
pub fn verify(json: &str) -> Result<bool, VerifyError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| VerifyError::NotJson(e.to_string()))?;
    if !value.is_object() {
        return Err(VerifyError::NotJson("not an object".into()));
    }
    let stated = value
        .get("sha256")
        .and_then(Value::as_str)
        .ok_or(VerifyError::NoHash)?;
    Ok(stated == content_hash(&value))
}

/// Canonical JSON: keys sorted by UTF-8 bytes, no whitespace, strings in serde_json's escaping.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut c = Control::new("x", "X", &[RmfFunction::Measure], "item");
        c.fact(Fact::now("seen", "GET /x", true));
        c.conclude("ok");
        Report::new(vec![c])
    }

    #[test]
    fn the_hash_verifies_and_detects_an_edit() {
        let report = sample();
        let json = report.to_json();
        assert!(verify(&json).unwrap());
        let edited = json.replace("\"pass\"", "\"fail\"");
        assert!(!verify(&edited).unwrap());
    }

    #[test]
    fn the_hash_does_not_depend_on_key_order_or_whitespace() {
        let a: Value =
            serde_json::from_str(r#"{"b":1,"a":[1,{"d":"x","c":null}],"sha256":"z"}"#).unwrap();
        let b: Value =
            serde_json::from_str(r#"{ "a" : [1, {"c":null, "d":"x"}], "b": 1 }"#).unwrap();
        assert_eq!(content_hash(&a), content_hash(&b));
        let mut s = String::new();
        write_canonical(&b, &mut s);
        assert_eq!(s, r#"{"a":[1,{"c":null,"d":"x"}],"b":1}"#);
    }

    #[test]
    fn a_control_without_facts_is_not_checked_and_one_failing_fact_fails_it() {
        let mut c = Control::new("x", "X", &[RmfFunction::Manage], "item");
        c.conclude("nothing read");
        assert_eq!(c.status, Status::NotChecked);
        c.fact(Fact::now("good", "m", true));
        c.fact(Fact::now("bad", "m", false));
        c.conclude("one bad");
        assert_eq!(c.status, Status::Fail);
    }
}
