//! Temporal namespace names, as payloads of format version 2 are bound to them.
//!
//! A version 2 payload names the namespace it was sealed for in its metadata and authenticates
//! that name, so a reader can refuse a payload from another namespace before decrypting it. The
//! codec server takes the same names from request paths and `X-Namespace`, so one rule serves
//! both.

use std::fmt;

/// Temporal caps namespace names at 255 bytes.
pub const MAX_NAMESPACE_LEN: usize = 255;

/// A validated Temporal namespace name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Namespace(String);

/// Why a string is not a namespace name. Carries no part of the text, since the text may come
/// from an untrusted request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a Temporal namespace name (1 to {MAX_NAMESPACE_LEN} letters, digits, `-`, `_` or `.`, at least one letter or digit)"
)]
pub struct InvalidNamespace;

impl Namespace {
    /// Validates `name`: 1 to 255 letters, digits, `-`, `_` and `.` with at least one letter or
    /// digit (a name of dots alone, `.` or `..`, is a dot-segment in a URL path, RFC 3986
    /// section 5.2.4, and names no namespace).
    pub fn new(name: &str) -> Result<Self, InvalidNamespace> {
        let valid_chars = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        let named = name.bytes().any(|b| b.is_ascii_alphanumeric());
        if name.is_empty() || name.len() > MAX_NAMESPACE_LEN || !valid_chars || !named {
            return Err(InvalidNamespace);
        }
        Ok(Self(name.to_string()))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_temporal_accepts_and_nothing_else() {
        for good in ["orders", "payments.eu-west", "a", "x_1", &"n".repeat(255)] {
            assert!(Namespace::new(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a:b", "ä", "a b", &"n".repeat(256)] {
            assert_eq!(Namespace::new(bad), Err(InvalidNamespace), "{bad}");
        }
    }
}
