//! Diagnostics: what the user reads when something is wrong (or worth a warning). Each carries
//! a short summary, a detail that says what to do, and the attribute it is about.

use super::path::AttributePath;

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Stops the operation.
    Error,
    /// Shown, does not stop anything.
    Warning,
}

/// One message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One line: what happened.
    pub summary: String,
    /// What it means and what to do about it.
    pub detail: String,
    /// The attribute the message is about, when an input caused it.
    pub attribute: Option<AttributePath>,
}

/// The diagnostics of one operation, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    /// Adds an error.
    pub fn error(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Error, summary.into(), detail.into(), None);
    }

    /// Adds an error about an attribute.
    pub fn attribute_error(
        &mut self,
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Severity::Error, summary.into(), detail.into(), Some(path));
    }

    /// Adds a warning.
    pub fn warning(&mut self, summary: impl Into<String>, detail: impl Into<String>) {
        self.push(Severity::Warning, summary.into(), detail.into(), None);
    }

    /// Adds a warning about an attribute.
    pub fn attribute_warning(
        &mut self,
        path: AttributePath,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) {
        self.push(Severity::Warning, summary.into(), detail.into(), Some(path));
    }

    fn push(
        &mut self,
        severity: Severity,
        summary: String,
        detail: String,
        attribute: Option<AttributePath>,
    ) {
        self.0.push(Diagnostic {
            severity,
            summary,
            detail,
            attribute,
        });
    }

    /// Appends all of `other`.
    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Appends `other`'s diagnostics except errors on an attribute that already has one: a
    /// wrong value gets one error, from the first check that found it.
    pub fn extend_new_errors(&mut self, other: Diagnostics) {
        for d in other.0 {
            let repeated = d.severity == Severity::Error
                && d.attribute.is_some()
                && self
                    .0
                    .iter()
                    .any(|e| e.severity == Severity::Error && e.attribute == d.attribute);
            if !repeated {
                self.0.push(d);
            }
        }
    }

    /// True when any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }

    /// All diagnostics, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_value_keeps_only_its_first_error() {
        let mut first = Diagnostics::default();
        first.attribute_error(
            AttributePath::root("port"),
            "Invalid port",
            "from 1 to 65535",
        );
        let mut second = Diagnostics::default();
        second.attribute_error(AttributePath::root("port"), "Invalid port", "must not be 0");
        second.error("Exactly one backend", "independent");
        second.attribute_error(AttributePath::root("name"), "Invalid name", "letters");
        second.warning("Development only", "kept");
        first.extend_new_errors(second);
        let summaries: Vec<&str> = first.iter().map(|d| d.summary.as_str()).collect();
        assert_eq!(
            summaries,
            [
                "Invalid port",
                "Exactly one backend",
                "Invalid name",
                "Development only"
            ]
        );
    }
}
