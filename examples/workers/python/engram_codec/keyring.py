"""The keyring in memory: the data keys of a keyring document, unwrapped through the KMS.

Key material lives only in memory and is never printed. Retired keys are not unwrapped at all.
Anything with a ``current() -> Keyring`` method is a keyring source for the codec: a `Keyring`
is its own (fixed) source, `engram_codec.KeyringFile` one that follows a file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from engram_codec.document import ACTIVE, RETIRED, KeyringDocument, sealing_key
from engram_codec.errors import KeyringError, KmsError, UnknownKeyError
from engram_codec.format import DATA_KEY_LEN, is_valid_key_id, open_sealed, seal
from engram_codec.wrapped import KeyUnwrapper, WrappedKey


class DataKey:
    """One plaintext data key with its schedule. `repr` shows the id and times, never the key."""

    __slots__ = (
        "id",
        "state",
        "activates_unix_seconds",
        "seal_until_unix_seconds",
        "_material",
        "_wrapped",
    )

    def __init__(
        self,
        id: str,
        material: bytes,
        *,
        state: str = ACTIVE,
        activates_unix_seconds: int = 0,
        seal_until_unix_seconds: int | None = None,
        wrapped: WrappedKey | None = None,
    ) -> None:
        if not is_valid_key_id(id):
            raise KeyringError("not a valid key id: use 1 to 64 characters from A-Z, a-z, 0-9, `.`, `_`, `-`")
        if state not in (ACTIVE, RETIRED):
            raise KeyringError(f"data key `{id}` has a state other than {ACTIVE} or {RETIRED}")
        if len(material) != DATA_KEY_LEN:
            raise KeyringError(f"data key `{id}` is {len(material)} bytes, expected {DATA_KEY_LEN}")
        self.id = id
        self.state = state
        self.activates_unix_seconds = activates_unix_seconds
        self.seal_until_unix_seconds = seal_until_unix_seconds
        self._material = bytes(material)
        self._wrapped = wrapped

    def __repr__(self) -> str:
        return (
            f"DataKey(id={self.id!r}, state={self.state!r}, activates_unix_seconds={self.activates_unix_seconds}, "
            f"seal_until_unix_seconds={self.seal_until_unix_seconds}, material=[redacted])"
        )

    def seal(self, namespace: str, inner: bytes) -> bytes:
        """Seals a serialized Payload as version 2 for `namespace`."""
        return seal(self._material, self.id, namespace, inner)

    def open(self, sealed: bytes, namespace: str | None) -> bytes:
        """Opens version 1 or 2 data sealed under this key (`namespace`: the payload's)."""
        return open_sealed(self._material, self.id, sealed, namespace)


@runtime_checkable
class KeyringSource(Protocol):
    """Gives the keyring to use now."""

    def current(self) -> Keyring: ...


class Keyring:
    """Unwrapped data keys in document order. Retired keys are left out: they open nothing."""

    def __init__(self, keys: Iterable[DataKey], scope: str = "local") -> None:
        self.scope = scope
        self._keys: tuple[DataKey, ...] = tuple(k for k in keys if k.state != RETIRED)
        self._by_id: dict[str, DataKey] = {}
        for key in self._keys:
            if key.id in self._by_id:
                raise KeyringError(f"two data keys have id `{key.id}`")
            self._by_id[key.id] = key

    def __repr__(self) -> str:
        return f"Keyring(scope={self.scope!r}, keys={[k.id for k in self._keys]!r}, material=[redacted])"

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of the keys that open payloads, in document order."""
        return tuple(k.id for k in self._keys)

    def current(self) -> Keyring:
        """A Keyring is a fixed keyring source."""
        return self

    def key_for_sealing(self, now: float) -> DataKey:
        """The key that seals at `now` (unix seconds); see docs/payload-format.md. Raises
        StaleKeyringError or NoSealingKeyError."""
        return sealing_key(self._keys, now)

    def key_for_opening(self, key_id: str) -> DataKey:
        """The key `key_id`, or UnknownKeyError (unknown or retired)."""
        try:
            return self._by_id[key_id]
        except KeyError:
            raise UnknownKeyError(key_id) from None

    def _reusable(self, scope: str, key_id: str, wrapped: WrappedKey) -> DataKey | None:
        key = self._by_id.get(key_id)
        if key is not None and self.scope == scope and key._wrapped == wrapped:
            return key
        return None

    @classmethod
    def unwrap(
        cls,
        document: str | bytes | KeyringDocument,
        kms: KeyUnwrapper,
        *,
        previous: Keyring | None = None,
    ) -> Keyring:
        """Parses a keyring document (version 1 or 2) and unwraps its keys that are not retired
        through `kms`. A key that `previous` already holds with the same scope, id and wrapped
        bytes is taken from it instead of asking the KMS again."""
        doc = document if isinstance(document, KeyringDocument) else KeyringDocument.parse(document)
        keys = []
        for i, entry in enumerate(doc.keys):
            if entry.state == RETIRED:
                continue
            reused = previous._reusable(doc.scope, entry.id, entry.wrapped) if previous else None
            if reused is not None:
                material = reused._material
            else:
                try:
                    material = kms.unwrap(entry.wrapped, doc.context(entry.id))
                except KmsError as e:
                    raise KmsError(f"data key `{entry.id}` (keys[{i}]) did not unwrap: {e}") from None
            if len(material) != DATA_KEY_LEN:
                raise KeyringError(
                    f"data key `{entry.id}` (keys[{i}]) unwrapped to {len(material)} bytes, expected {DATA_KEY_LEN}"
                )
            keys.append(
                DataKey(
                    entry.id,
                    material,
                    activates_unix_seconds=entry.activates_unix_seconds,
                    seal_until_unix_seconds=entry.seal_until_unix_seconds,
                    wrapped=entry.wrapped,
                )
            )
        return cls(keys, scope=doc.scope)
