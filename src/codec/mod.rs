//! Payload encryption: the encrypted payload format, the keyring of data keys and its lifecycle,
//! and the worker codec. No Terraform and no HTTP here.
//!
//! A worker (or the codec server) loads a [`KeyringDocument`], unwraps it through a
//! [`crate::kms::KeyProvider`] into a [`Keyring`], and hands that to a [`PayloadCodec`] for its
//! namespace ([`KeyringFile`] keeps it current as the document changes). The byte format is
//! specified in docs/payload-format.md.

pub mod aead;
pub mod clock;
pub mod format;
mod key_id;
mod keyring;
mod keyring_file;
pub mod lifecycle;
mod namespace;
mod payload;
mod payload_codec;
pub mod server;
mod temporal_sdk;

pub use format::FormatError;
pub use key_id::{InvalidKeyId, KeyId, MAX_ID_LEN};
pub use keyring::{
    CustomerKeyLocation, DEFAULT_SEAL_LIMIT, DOCUMENT_FORMAT, DOCUMENT_FORMAT_V1, DataKey,
    KeyEvent, KeyEventKind, KeyState, KeyTimes, Keyring, KeyringDocument, KeyringError,
    SealRefused, WrappedDataKey,
};
pub use keyring_file::{KeyringFile, LoadError};
pub use namespace::{InvalidNamespace, MAX_NAMESPACE_LEN, Namespace};
pub use payload::{Payload, Payloads};
pub use payload_codec::{CodecError, PayloadCodec};
pub use temporal_sdk::WorkerCodec;
