//! Identifiers for data keys and keyring scopes.
//!
//! Ids travel in payload metadata, in the authenticated data of every sealed payload and in KMS
//! requests, so they are restricted to a short, unambiguous alphabet: 1 to 64 bytes of ASCII
//! letters, digits, `.`, `_` and `-`. The `:` that separates fields in authenticated data can
//! therefore never appear inside one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest id accepted, in bytes.
pub const MAX_ID_LEN: usize = 64;

/// A validated data key id (or keyring scope).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

/// Why a string is not a valid id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{id}` is not a valid key id: use 1 to {MAX_ID_LEN} characters from A-Z, a-z, 0-9, `.`, `_`, `-`"
)]
pub struct InvalidKeyId {
    /// The rejected text, shortened to a printable prefix.
    pub id: String,
}

impl KeyId {
    /// Validates `id`.
    pub fn new(id: &str) -> Result<Self, InvalidKeyId> {
        let valid = !id.is_empty()
            && id.len() <= MAX_ID_LEN
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if valid {
            Ok(Self(id.to_string()))
        } else {
            Err(InvalidKeyId {
                id: id.chars().take(MAX_ID_LEN + 1).collect(),
            })
        }
    }

    /// A fresh random id, `dek-` and 16 hex digits.
    pub fn random() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self(format!("dek-{hex}")))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        KeyId::new(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        assert!(KeyId::new("dek-2026.01_a").is_ok());
        assert!(KeyId::new(&"a".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn rejects_everything_else() {
        for bad in ["", "a:b", "a b", "ä", "a/b", &"a".repeat(MAX_ID_LEN + 1)] {
            assert!(KeyId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let a = KeyId::random().unwrap();
        let b = KeyId::random().unwrap();
        assert_ne!(a, b);
        assert_eq!(KeyId::new(a.as_str()).unwrap(), a);
    }
}
