//! The payload codec's AES-256-GCM (`engram::codec::aead`, aws-lc-rs) against an independent
//! implementation, the RustCrypto `aes-gcm` crate: for random keys, nonces, associated data and
//! messages, each opens what the other sealed, byte for byte, and both refuse the same tampering.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use engram::codec::aead::Aes256GcmKey;
use proptest::prelude::*;

proptest! {
    #[test]
    fn both_implementations_seal_the_same_bytes_and_open_each_other(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 12]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..64),
        message in proptest::collection::vec(any::<u8>(), 0..4096),
        flip in any::<usize>(),
    ) {
        let ours = Aes256GcmKey::new(&key).unwrap();
        let reference = Aes256Gcm::new_from_slice(&key).unwrap();

        let mut sealed = message.clone();
        let tag = ours.seal_in_place(&nonce, &aad, &mut sealed).unwrap();
        let mut reference_sealed = message.clone();
        let reference_tag = reference
            .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut reference_sealed)
            .unwrap();
        prop_assert_eq!(&sealed, &reference_sealed);
        prop_assert_eq!(&tag[..], &reference_tag[..]);

        // The reference opens what the codec sealed.
        let mut opened = sealed.clone();
        reference
            .decrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut opened, Tag::from_slice(&tag))
            .unwrap();
        prop_assert_eq!(&opened, &message);

        // A flipped bit anywhere in ciphertext or tag is refused by both.
        let mut with_tag = sealed.clone();
        with_tag.extend_from_slice(&tag);
        let at = flip % with_tag.len();
        with_tag[at] ^= 1;
        let mut ours_copy = with_tag.clone();
        prop_assert!(ours.open_in_place(&nonce, &aad, &mut ours_copy).is_err());
        let (body, bad_tag) = with_tag.split_at_mut(sealed.len());
        prop_assert!(reference
            .decrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, body, Tag::from_slice(bad_tag))
            .is_err());
    }
}
