//! The time resources reason with (rotation due dates, decrypt windows). It is the system clock,
//! unless `ENGRAM_NOW` (RFC 3339) is set: tests use it to move time forward without sleeping.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The variable that overrides the clock.
pub const NOW_VAR: &str = "ENGRAM_NOW";

/// Now, in Unix seconds.
pub fn now_unix() -> i64 {
    std::env::var(NOW_VAR)
        .ok()
        .and_then(|s| OffsetDateTime::parse(&s, &Rfc3339).ok())
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
