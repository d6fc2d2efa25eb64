//! The time key lifecycle decisions are made with: rotation due dates, activation of a pending
//! data key, the end of a key's sealing, decrypt windows. Each reader and writer decides with its
//! own clock, so no coordination is needed.
//!
//! It is the system clock, unless a test moves it: `ENGRAM_NOW` (RFC 3339) fixes it for a
//! process, and `ENGRAM_NOW_FILE` names a file holding an RFC 3339 time that is re-read on every
//! call, for processes (codec servers, workers) that run through a test's time jumps.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The variable that fixes the clock.
pub const NOW_VAR: &str = "ENGRAM_NOW";
/// The variable naming a file that holds the clock's time.
pub const NOW_FILE_VAR: &str = "ENGRAM_NOW_FILE";

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    let parse = |s: &str| OffsetDateTime::parse(s.trim(), &Rfc3339).ok();
    std::env::var(NOW_VAR)
        .ok()
        .and_then(|s| parse(&s))
        .or_else(|| {
            let path = std::env::var_os(NOW_FILE_VAR)?;
            parse(&std::fs::read_to_string(path).ok()?)
        })
        .unwrap_or_else(OffsetDateTime::now_utc)
        .unix_timestamp()
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
    fn formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
    }
}
