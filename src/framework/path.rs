//! Attribute paths: where in a configuration a diagnostic points, so Terraform underlines it.

use std::fmt;

/// One step into a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// An attribute or nested block by name.
    Attribute(String),
    /// A map element by key.
    Key(String),
    /// A list element by position.
    Index(i64),
}

/// A path from the root of a resource's (or the provider's) configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttributePath(Vec<Step>);

impl AttributePath {
    /// The path of a top-level attribute.
    pub fn root(name: &str) -> Self {
        Self(vec![Step::Attribute(name.to_string())])
    }

    /// This path, then an attribute.
    pub fn attr(mut self, name: &str) -> Self {
        self.0.push(Step::Attribute(name.to_string()));
        self
    }

    /// This path, then a map key.
    pub fn key(mut self, key: &str) -> Self {
        self.0.push(Step::Key(key.to_string()));
        self
    }

    /// This path, then a list index.
    pub fn index(mut self, i: i64) -> Self {
        self.0.push(Step::Index(i));
        self
    }

    /// Builds a path from its steps.
    pub fn from_steps(steps: Vec<Step>) -> Self {
        Self(steps)
    }

    /// The steps, outermost first.
    pub fn steps(&self) -> &[Step] {
        &self.0
    }
}

impl fmt::Display for AttributePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            match step {
                Step::Attribute(n) if i == 0 => write!(f, "{n}")?,
                Step::Attribute(n) => write!(f, ".{n}")?,
                Step::Key(k) => write!(f, "[{k:?}]")?,
                Step::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_terraform_addresses() {
        let p = AttributePath::root("kubernetes")
            .index(0)
            .attr("host")
            .key("a");
        assert_eq!(p.to_string(), r#"kubernetes[0].host["a"]"#);
    }
}
