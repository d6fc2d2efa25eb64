"""The Temporal PayloadCodec: encrypts every payload under the keyring's primary data key."""

from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from engram_codec.format import (
    ENCODING_ENCRYPTED,
    METADATA_ENCODING,
    METADATA_KEY_ID,
    open_sealed,
    seal,
)
from engram_codec.keyring import Keyring

SEAL_LIMIT = 2**32


class EncryptionCodec(PayloadCodec):
    """Seals payloads as in docs/payload-format.md; passes through payloads that are not encrypted."""

    def __init__(self, keyring: Keyring, seal_limit: int = SEAL_LIMIT):
        self._keyring = keyring
        self._seal_limit = seal_limit
        self._seals = 0

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encode_one(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decode_one(p) for p in payloads]

    def encode_one(self, payload: Payload) -> Payload:
        key_id = self._keyring.primary
        if self._seals >= self._seal_limit:
            raise RuntimeError(
                f"data key `{key_id}` has sealed {self._seal_limit} payloads; add and promote a new data key"
            )
        self._seals += 1
        sealed = seal(self._keyring.key(key_id), key_id, payload.SerializeToString(deterministic=True))
        return Payload(
            metadata={METADATA_ENCODING: ENCODING_ENCRYPTED, METADATA_KEY_ID: key_id.encode()},
            data=sealed,
        )

    def decode_one(self, payload: Payload) -> Payload:
        if payload.metadata.get(METADATA_ENCODING) != ENCODING_ENCRYPTED:
            return payload
        key_id = payload.metadata.get(METADATA_KEY_ID, b"").decode("utf-8", errors="replace")
        if not key_id:
            raise ValueError(f"encrypted payload has no `{METADATA_KEY_ID}` metadata")
        inner = Payload()
        inner.ParseFromString(open_sealed(self._keyring.key(key_id), key_id, payload.data))
        return inner
