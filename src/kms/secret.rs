//! Key material in memory: a byte buffer that is wiped when dropped and never printed.
//!
//! Plaintext data keys and bearer tokens pass through the KMS clients and the keyring in this
//! type, so a stray `{:?}` in a log line shows `[redacted]` instead of the secret.

use zeroize::Zeroize;

/// Secret bytes (a plaintext data key, a token). Zeroized on drop; Debug and Display print
/// `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes`; the caller's buffer moves in, so no copy is left behind.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// `len` bytes from the operating system's random source.
    pub fn random(len: usize) -> Result<Self, getrandom::Error> {
        let mut bytes = vec![0u8; len];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// The secret, for the code that must use it (a cipher, an HTTP header).
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretBytes {
    fn from(text: String) -> Self {
        Self(text.into_bytes())
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_redacted() {
        let secret = SecretBytes::new(b"hunter2".to_vec());
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{secret}"), "[redacted]");
        assert_eq!(secret.expose(), b"hunter2");
    }

    #[test]
    fn random_has_requested_length_and_differs() {
        let a = SecretBytes::random(32).unwrap();
        let b = SecretBytes::random(32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
