//! The codec as the Temporal Rust SDK's `PayloadCodec`, for Rust workers and clients.
//!
//! A Rust worker sets [`WorkerCodec`] as its client's data converter codec; every payload the
//! SDK sends is sealed for the worker's namespace under the key that seals now, and every
//! payload it receives is opened, with the keyring kept current by a [`KeyringFile`] (a mounted
//! Secret that `engram_cmk_binding` rotates).

use std::collections::BTreeSet;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use prost::Message;
use temporalio_common::data_converters::{
    PayloadCodec as SdkPayloadCodec, PayloadConversionError, SerializationContextData,
};
use temporalio_common::protos::temporal::api::common::v1::Payload as SdkPayload;

use crate::codec::keyring_file::KeyringFile;
use crate::codec::namespace::Namespace;
use crate::codec::payload::Payload;
use crate::codec::payload_codec::{CodecError, PayloadCodec};

/// Seals and opens a worker's payloads with the keyring of a [`KeyringFile`], for one namespace.
#[derive(Clone)]
pub struct WorkerCodec {
    keyring: Arc<KeyringFile>,
    namespace: Namespace,
    accepted: Arc<BTreeSet<Namespace>>,
}

impl WorkerCodec {
    /// A codec for a worker of `namespace` (its client's namespace).
    pub fn new(keyring: Arc<KeyringFile>, namespace: Namespace) -> Self {
        Self {
            keyring,
            namespace,
            accepted: Arc::default(),
        }
    }

    /// Also opens payloads sealed for these namespaces (Nexus operations that cross on purpose).
    pub fn accepting(mut self, sources: impl IntoIterator<Item = Namespace>) -> Self {
        self.accepted = Arc::new(sources.into_iter().collect());
        self
    }

    fn codec(&self) -> PayloadCodec {
        PayloadCodec::new(self.keyring.current(), self.namespace.clone())
            .accepting(self.accepted.clone())
    }

    fn convert(
        &self,
        payloads: Vec<SdkPayload>,
        each: impl Fn(&PayloadCodec, Payload) -> Result<Payload, CodecError>,
    ) -> Result<Vec<SdkPayload>, PayloadConversionError> {
        let codec = self.codec();
        payloads
            .into_iter()
            .map(|payload| {
                // Both are the same protobuf message; the bytes carry every field across.
                let ours = Payload::decode(payload.encode_to_vec().as_slice()).map_err(failed)?;
                let done = each(&codec, ours).map_err(failed)?;
                SdkPayload::decode(done.encode_to_vec().as_slice()).map_err(failed)
            })
            .collect()
    }
}

fn failed(e: impl std::error::Error + Send + Sync + 'static) -> PayloadConversionError {
    PayloadConversionError::EncodingError(Box::new(e))
}

impl SdkPayloadCodec for WorkerCodec {
    fn encode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<SdkPayload>,
    ) -> BoxFuture<'static, Result<Vec<SdkPayload>, PayloadConversionError>> {
        let result = self.convert(payloads, |codec, p| codec.encode_one(&p));
        Box::pin(async move { result })
    }

    fn decode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<SdkPayload>,
    ) -> BoxFuture<'static, Result<Vec<SdkPayload>, PayloadConversionError>> {
        let result = self.convert(payloads, |codec, p| codec.decode_one(p));
        Box::pin(async move { result })
    }
}
