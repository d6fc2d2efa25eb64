//! Environment presets: the smallest shard count and history pod count worth running in each.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where the cluster runs. Each preset sets floors below which the calculator never goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A developer's cluster: Temporal's own development default of 4 shards, one pod.
    Dev,
    /// Shared test: enough shards to exercise parallelism.
    Test,
    /// User acceptance: production-like parallelism on smaller hardware.
    Uat,
    /// Production: 512 shards, the usual starting point, and three history pods for availability.
    Prod,
}

impl Environment {
    /// Every preset, in order of size.
    pub const ALL: [Environment; 4] = [Self::Dev, Self::Test, Self::Uat, Self::Prod];

    /// The accepted spellings, for error messages.
    pub const NAMES: [&'static str; 4] = ["dev", "test", "uat", "prod"];

    /// The fewest history shards recommended for this environment.
    pub fn minimum_shards(self) -> u32 {
        match self {
            Self::Dev => 4,
            Self::Test => 16,
            Self::Uat => 128,
            Self::Prod => 512,
        }
    }

    /// The fewest history pods recommended for this environment.
    pub fn minimum_history_pods(self) -> u32 {
        match self {
            Self::Dev | Self::Test => 1,
            Self::Uat => 2,
            Self::Prod => 3,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::NAMES[*self as usize])
    }
}

impl FromStr for Environment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::NAMES
            .iter()
            .position(|n| *n == s)
            .map(|i| Self::ALL[i])
            .ok_or_else(|| format!("expected one of {}, got {s:?}", Self::NAMES.join(", ")))
    }
}
