//! Temporal versions and the upgrade rule: Temporal's schema and server must move one minor
//! version at a time, so a jump from 1.27 to 1.29 is refused before anything is written.

use std::fmt;
use std::str::FromStr;

/// A Temporal server version, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TemporalVersion {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub patch: u32,
}

impl FromStr for TemporalVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('.').collect();
        let number = |s: &str| s.parse::<u32>().ok();
        match parts.as_slice() {
            [a, b, c] => match (number(a), number(b), number(c)) {
                (Some(major), Some(minor), Some(patch)) => Ok(Self {
                    major,
                    minor,
                    patch,
                }),
                _ => Err(format!("`{text}` is not a version like 1.29.1")),
            },
            _ => Err(format!("`{text}` is not a version like 1.29.1")),
        }
    }
}

impl fmt::Display for TemporalVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl TemporalVersion {
    /// The version as a DNS-label-safe suffix, e.g. `1-29-1`.
    pub fn slug(&self) -> String {
        format!("{}-{}-{}", self.major, self.minor, self.patch)
    }
}

/// Why moving from the running version to the requested one is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpgradeError {
    /// More than one minor version at once.
    #[error(
        "upgrading Temporal from {from} to {to} skips minor versions; Temporal upgrades one minor version at a time: apply {next} first, then continue"
    )]
    SkipsMinor {
        /// The running version.
        from: TemporalVersion,
        /// The requested version.
        to: TemporalVersion,
        /// The next version to apply.
        next: String,
    },
    /// Going back to an older minor or major version.
    #[error(
        "Temporal {from} cannot go back to {to}: its database schema has already moved on; keep version {from} or newer"
    )]
    Downgrade {
        /// The running version.
        from: TemporalVersion,
        /// The requested version.
        to: TemporalVersion,
    },
    /// A different major version.
    #[error(
        "Temporal {from} to {to} changes the major version, which needs Temporal's own migration guide; deploy it as a new cluster"
    )]
    MajorChange {
        /// The running version.
        from: TemporalVersion,
        /// The requested version.
        to: TemporalVersion,
    },
}

/// Checks that `to` can follow `from` (patch changes and one minor step are allowed).
pub fn check_upgrade(from: TemporalVersion, to: TemporalVersion) -> Result<(), UpgradeError> {
    if from.major != to.major {
        return Err(UpgradeError::MajorChange { from, to });
    }
    if to.minor < from.minor {
        return Err(UpgradeError::Downgrade { from, to });
    }
    if to.minor > from.minor + 1 {
        return Err(UpgradeError::SkipsMinor {
            from,
            to,
            next: format!("{}.{}.x", from.major, from.minor + 1),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> TemporalVersion {
        text.parse().unwrap()
    }

    #[test]
    fn one_minor_step_and_patches_pass() {
        assert!(check_upgrade(v("1.28.3"), v("1.29.0")).is_ok());
        assert!(check_upgrade(v("1.29.0"), v("1.29.4")).is_ok());
        assert!(check_upgrade(v("1.29.4"), v("1.29.4")).is_ok());
    }

    #[test]
    fn skipping_and_going_back_are_refused() {
        let skip = check_upgrade(v("1.27.1"), v("1.29.0")).unwrap_err();
        assert!(skip.to_string().contains("apply 1.28.x first"), "{skip}");
        assert!(matches!(
            check_upgrade(v("1.29.0"), v("1.28.9")),
            Err(UpgradeError::Downgrade { .. })
        ));
        assert!(matches!(
            check_upgrade(v("1.29.0"), v("2.0.0")),
            Err(UpgradeError::MajorChange { .. })
        ));
    }

    #[test]
    fn parse_rejects_non_versions() {
        assert!("1.29".parse::<TemporalVersion>().is_err());
        assert!("v1.29.1".parse::<TemporalVersion>().is_err());
        assert_eq!(v("1.29.1").slug(), "1-29-1");
    }
}
