//! Payload encryption: the encrypted payload format, the keyring of data keys, and the worker
//! codec. No Terraform and no HTTP here.
//!
//! A worker (or the codec server) loads a [`KeyringDocument`], unwraps it through a
//! [`crate::kms::KeyProvider`] into a [`Keyring`], and hands that to a [`PayloadCodec`]. The byte
//! format is specified in docs/payload-format.md.

pub mod format;
mod key_id;
mod keyring;
mod payload;
mod payload_codec;
pub mod rotation;
pub mod server;

pub use format::FormatError;
pub use key_id::{InvalidKeyId, KeyId, MAX_ID_LEN};
pub use keyring::{
    CustomerKeyLocation, DEFAULT_SEAL_LIMIT, DOCUMENT_FORMAT, DataKey, KeyState, Keyring,
    KeyringDocument, KeyringError, SealLimitReached, WrappedDataKey,
};
pub use payload::{Payload, Payloads};
pub use payload_codec::{CodecError, PayloadCodec};
