//! AES-256-GCM, the one AEAD the payload format and the local key file use, from aws-lc-rs: the
//! same library rustls already links, and on x86-64 several times faster than a portable
//! implementation because it interleaves AES-NI and carry-less multiplication.
//!
//! Only in-place operations are offered, so sealing and opening never copy the data.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

/// AES-GCM nonce length in bytes (96 bits).
pub const NONCE_LEN: usize = 12;
/// AES-GCM tag length in bytes.
pub const TAG_LEN: usize = 16;
/// AES-256 key length in bytes.
pub const KEY_LEN: usize = 32;

/// The tag did not verify (or the data is too large for AES-GCM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AeadError;

/// An AES-256-GCM key, expanded once. aws-lc clears the expanded key when it frees it; it never
/// shows itself in Debug output.
pub struct Aes256GcmKey(LessSafeKey);

impl Aes256GcmKey {
    /// Expands a 32-byte key; `None` for any other length.
    pub fn new(key: &[u8]) -> Option<Self> {
        if key.len() != KEY_LEN {
            return None;
        }
        UnboundKey::new(&AES_256_GCM, key)
            .ok()
            .map(|k| Self(LessSafeKey::new(k)))
    }

    /// Encrypts `in_out` in place with `nonce` and `aad`; returns the tag.
    pub fn seal_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<[u8; TAG_LEN], AeadError> {
        let tag = self
            .0
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                in_out,
            )
            .map_err(|_| AeadError)?;
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts `ciphertext_and_tag` (the ciphertext followed by its tag) in place; returns the
    /// length of the plaintext, which now starts the slice. Nothing is revealed if the tag fails.
    pub fn open_in_place(
        &self,
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        ciphertext_and_tag: &mut [u8],
    ) -> Result<usize, AeadError> {
        self.0
            .open_in_place(
                Nonce::assume_unique_for_key(*nonce),
                Aad::from(aad),
                ciphertext_and_tag,
            )
            .map(|plain| plain.len())
            .map_err(|_| AeadError)
    }
}

/// Never shows key material.
impl std::fmt::Debug for Aes256GcmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aes256GcmKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NIST's GCM test case 14 (gcm-spec, AES-256, zero key, zero nonce, one zero block).
    #[test]
    fn matches_the_gcm_specification() {
        let key = Aes256GcmKey::new(&[0; 32]).unwrap();
        let mut block = [0u8; 16];
        let tag = key.seal_in_place(&[0; 12], b"", &mut block).unwrap();
        assert_eq!(
            block,
            [
                0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e, 0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3,
                0x9d, 0x18
            ]
        );
        assert_eq!(
            tag,
            [
                0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0, 0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a,
                0xb9, 0x19
            ]
        );
    }

    #[test]
    fn opens_what_it_seals_and_refuses_changes() {
        let key = Aes256GcmKey::new(&[9; 32]).unwrap();
        let mut sealed = b"attack at dawn".to_vec();
        let tag = key.seal_in_place(&[1; 12], b"aad", &mut sealed).unwrap();
        sealed.extend_from_slice(&tag);
        let mut copy = sealed.clone();
        assert_eq!(key.open_in_place(&[1; 12], b"aad", &mut copy), Ok(14));
        assert_eq!(&copy[..14], b"attack at dawn");
        for (nonce, aad, flip) in [
            ([2; 12], &b"aad"[..], None),
            ([1; 12], b"aae", None),
            ([1; 12], b"aad", Some(20)),
        ] {
            let mut copy = sealed.clone();
            if let Some(at) = flip {
                copy[at] ^= 1;
            }
            assert_eq!(key.open_in_place(&nonce, aad, &mut copy), Err(AeadError));
        }
    }

    #[test]
    fn only_32_byte_keys() {
        assert!(Aes256GcmKey::new(&[0; 16]).is_none());
        assert!(Aes256GcmKey::new(&[0; 33]).is_none());
        assert_eq!(
            format!("{:?}", Aes256GcmKey::new(&[0; 32]).unwrap()),
            "Aes256GcmKey([redacted])"
        );
    }
}
