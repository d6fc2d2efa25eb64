"""The Temporal PayloadCodec: seals every payload as version 2 for the codec's namespace and
opens versions 1 and 2 by the decoding rules of docs/payload-format.md."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterable, Sequence

from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from engram_codec.clock import now as clock_now
from engram_codec.errors import CodecError, ForeignNamespaceError, FormatError, SealLimitError
from engram_codec.format import (
    ENCODING_ENCRYPTED,
    METADATA_ENCODING,
    METADATA_KEY_ID,
    METADATA_NAMESPACE,
    VERSION_2,
    check_namespace,
    is_valid_key_id,
    is_valid_namespace,
    sealed_version,
)
from engram_codec.keyring import DataKey, Keyring, KeyringSource

#: The most payloads one process seals with one data key (docs/payload-format.md).
DEFAULT_SEAL_LIMIT = 2**48

_log = logging.getLogger("engram_codec")


class SealCounter:
    """How many payloads this process sealed with each data key (by keyring scope and key id),
    shared by every codec of the process unless a codec is given its own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}

    def count(self, scope: str, key_id: str) -> int:
        with self._lock:
            return self._counts.get((scope, key_id), 0)

    def reserve(self, scope: str, key_id: str, limit: int) -> int:
        """Counts one more seal and returns the new count, or raises SealLimitError (counting
        nothing) when `limit` seals were already counted."""
        with self._lock:
            count = self._counts.get((scope, key_id), 0)
            if count >= limit:
                raise SealLimitError(key_id, limit)
            self._counts[(scope, key_id)] = count + 1
            return count + 1


#: The counter every codec of this process shares by default.
PROCESS_SEAL_COUNTER = SealCounter()


class EncryptionCodec(PayloadCodec):
    """Encrypts payloads for `namespace` with the key that seals now; decrypts payloads sealed
    for `namespace` or for one of `accepted_source_namespaces` (version 2), and version 1
    payloads under any namespace. Payloads that are not encrypted pass through unchanged.

    `keyring_source` is a `Keyring` or anything with ``current() -> Keyring`` (a `KeyringFile`
    that reloads); it is asked once per `encode`/`decode` call. `clock` gives the writer's time
    in unix seconds (the system clock, or the test clock of `engram_codec.clock`, unless a test
    injects one).
    """

    def __init__(
        self,
        keyring_source: Keyring | KeyringSource,
        *,
        namespace: str,
        accepted_source_namespaces: Iterable[str] = (),
        clock: Callable[[], float] = clock_now,
        seal_limit: int = DEFAULT_SEAL_LIMIT,
        seal_counter: SealCounter | None = None,
    ) -> None:
        if not isinstance(namespace, str) or not is_valid_namespace(namespace):
            raise CodecError("namespace is not valid: use 1 to 255 bytes of UTF-8 without control characters")
        if isinstance(accepted_source_namespaces, str):
            raise CodecError("accepted_source_namespaces is a list of namespaces, not one string")
        accepted = tuple(accepted_source_namespaces)
        for name in accepted:
            if not isinstance(name, str) or not is_valid_namespace(name):
                raise CodecError("an accepted source namespace is not a valid namespace")
        if seal_limit < 1:
            raise CodecError("seal_limit must be at least 1")
        self._source = keyring_source
        self._namespace = namespace
        self._accepted = frozenset(accepted)
        self._clock = clock
        self._seal_limit = seal_limit
        self._warn_at = math.ceil(seal_limit * 0.9)
        self._counter = PROCESS_SEAL_COUNTER if seal_counter is None else seal_counter

    def __repr__(self) -> str:
        return (
            f"EncryptionCodec(namespace={self._namespace!r}, "
            f"accepted_source_namespaces={sorted(self._accepted)!r}, keyring={self._source!r})"
        )

    @property
    def namespace(self) -> str:
        """The namespace this codec seals for and reads."""
        return self._namespace

    @property
    def accepted_source_namespaces(self) -> frozenset[str]:
        """Other namespaces whose version 2 payloads this codec opens."""
        return self._accepted

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.encode_all(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return self.decode_all(payloads)

    def encode_all(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Seals every payload with the key that seals now, or raises before sealing any (stale
        keyring, no sealing key)."""
        keyring = self._source.current()
        key = keyring.key_for_sealing(self._clock())
        return [self._seal(keyring, key, p) for p in payloads]

    def encode_one(self, payload: Payload) -> Payload:
        """Seals one payload."""
        return self.encode_all([payload])[0]

    def decode_all(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Opens every encrypted payload; others are returned unchanged."""
        keyring = self._source.current()
        return [self._open(keyring, p) for p in payloads]

    def decode_one(self, payload: Payload) -> Payload:
        """Opens one payload (or returns it unchanged when it is not encrypted)."""
        return self.decode_all([payload])[0]

    def _seal(self, keyring: Keyring, key: DataKey, payload: Payload) -> Payload:
        count = self._counter.reserve(keyring.scope, key.id, self._seal_limit)
        if count == self._warn_at:
            _log.warning(
                "engram_codec: data key `%s` has sealed %d of the %d payloads one process may seal with it; "
                "rotate the data key",
                key.id,
                count,
                self._seal_limit,
            )
        sealed = key.seal(self._namespace, payload.SerializeToString(deterministic=True))
        return Payload(
            metadata={
                METADATA_ENCODING: ENCODING_ENCRYPTED,
                METADATA_KEY_ID: key.id.encode("ascii"),
                METADATA_NAMESPACE: self._namespace.encode("utf-8"),
            },
            data=sealed,
        )

    def _open(self, keyring: Keyring, payload: Payload) -> Payload:
        metadata = payload.metadata
        if metadata.get(METADATA_ENCODING) != ENCODING_ENCRYPTED:
            return payload
        key_id = _text(metadata.get(METADATA_KEY_ID))
        if key_id is None or not is_valid_key_id(key_id):
            raise FormatError(f"encrypted payload has no valid `{METADATA_KEY_ID}` metadata")
        version = sealed_version(payload.data)
        namespace = None
        if version == VERSION_2:
            namespace = _text(metadata.get(METADATA_NAMESPACE))
            if namespace is None:
                raise FormatError(f"version 2 payload has no valid `{METADATA_NAMESPACE}` metadata")
            try:
                check_namespace(namespace)
            except FormatError:
                raise FormatError(f"version 2 payload has no valid `{METADATA_NAMESPACE}` metadata") from None
            if namespace != self._namespace and namespace not in self._accepted:
                raise ForeignNamespaceError(namespace, self._namespace)
        key = keyring.key_for_opening(key_id)
        inner = Payload()
        plaintext = key.open(payload.data, namespace)
        try:
            inner.ParseFromString(plaintext)
        except DecodeError:
            raise FormatError(f"payload under key `{key_id}` decrypted to something that is not a Temporal Payload") from None
        return inner


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None
