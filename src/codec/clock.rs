//! The time key lifecycle decisions are made with: rotation due dates, activation of a pending
//! data key, the end of a key's sealing, decrypt windows. Each reader and writer decides with its
//! own clock, so no coordination is needed.
//!
//! It is the system clock, unless a test moves it: `ENGRAM_NOW` (RFC 3339) fixes it for a
//! process, and `ENGRAM_NOW_FILE` names a file holding an RFC 3339 time that is re-read on every
//! call, for processes (codec servers, workers) that run through a test's time jumps.
//!
//! The environment is read once, at the first call, so the codec server's hot path costs one
//! system clock read and no environment lookup.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The variable that fixes the clock.
pub const NOW_VAR: &str = "ENGRAM_NOW";
/// The variable naming a file that holds the clock's time.
pub const NOW_FILE_VAR: &str = "ENGRAM_NOW_FILE";

/// Where the time comes from, chosen once per process.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// `ENGRAM_NOW`: a fixed time.
    Fixed(i64),
    /// `ENGRAM_NOW_FILE`: the time in this file, re-read on every call.
    File(PathBuf),
    /// The system clock.
    System,
}

impl Source {
    /// `ENGRAM_NOW` if it parses, else `ENGRAM_NOW_FILE` if set, else the system clock.
    fn from_env() -> Self {
        if let Some(fixed) = std::env::var(NOW_VAR).ok().and_then(|s| parse(&s)) {
            return Self::Fixed(fixed);
        }
        std::env::var_os(NOW_FILE_VAR).map_or(Self::System, |path| Self::File(path.into()))
    }

    fn now(&self) -> i64 {
        match self {
            Self::Fixed(unix) => *unix,
            Self::File(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|text| parse(&text))
                .unwrap_or_else(system_now),
            Self::System => system_now(),
        }
    }
}

fn parse(text: &str) -> Option<i64> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

fn system_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    static SOURCE: OnceLock<Source> = OnceLock::new();
    SOURCE.get_or_init(Source::from_env).now()
}

/// Unix seconds as RFC 3339 (UTC), for state and messages.
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_tells_its_time() {
        assert_eq!(Source::Fixed(42).now(), 42);
        let dir = std::env::temp_dir().join(format!("engram-clock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("now");
        std::fs::write(&file, "2027-01-15T08:00:00Z\n").unwrap();
        let source = Source::File(file.clone());
        assert_eq!(source.now(), 1_800_000_000);
        std::fs::write(&file, "2027-01-15T08:00:10Z").unwrap();
        assert_eq!(
            source.now(),
            1_800_000_010,
            "the file is re-read on every call"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let system = OffsetDateTime::now_utc().unix_timestamp();
        assert!((Source::System.now() - system).abs() <= 1);
        assert!(
            (source.now() - system).abs() <= 1,
            "an unreadable file falls back to the system clock"
        );
    }

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
    }
}
