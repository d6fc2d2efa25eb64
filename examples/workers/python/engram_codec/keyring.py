"""The keyring document (wrapped data keys) and its unwrapped, in-memory form."""

import base64
import json
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

DOCUMENT_FORMAT = "engram-keyring/v1"
_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeyringError(Exception):
    """A keyring document that is invalid or cannot be unwrapped."""


class UnknownKeyError(Exception):
    """A payload sealed under a data key this keyring does not hold (or holds as retired)."""

    def __init__(self, key_id: str):
        super().__init__(
            f"payload is encrypted under data key `{key_id}`, which this keyring does not hold "
            "(unknown or retired); load the current keyring document"
        )
        self.key_id = key_id


@dataclass(frozen=True)
class WrapContext:
    """What a wrapped data key is bound to: the keyring scope and the key id."""

    scope: str
    key_id: str

    def associated_data(self) -> bytes:
        return f"engram-dek:v1:{self.scope}:{self.key_id}".encode("ascii")

    def pairs(self) -> dict[str, str]:
        return {"engram-scope": self.scope, "engram-key-id": self.key_id}


class Keyring:
    """Unwrapped data keys by id; exactly one is primary. Key bytes are never printed."""

    def __init__(self, keys: dict[str, AESGCM], primary: str):
        if primary not in keys:
            raise KeyringError(f"primary key `{primary}` is not in the keyring")
        self._keys = keys
        self.primary = primary

    def __repr__(self) -> str:
        return f"Keyring(primary={self.primary!r}, keys={sorted(self._keys)!r}, material=[redacted])"

    @classmethod
    def unwrap(cls, document: str, kms) -> "Keyring":
        """Parses a keyring document and unwraps its non-retired keys through `kms`."""
        try:
            doc = json.loads(document)
        except json.JSONDecodeError as e:
            raise KeyringError(f"keyring document is not valid JSON: {e}") from None
        if doc.get("format") != DOCUMENT_FORMAT:
            raise KeyringError(f"keyring document format is {doc.get('format')!r}, expected {DOCUMENT_FORMAT}")
        scope = doc.get("scope", "")
        if not _ID.match(scope):
            raise KeyringError(f"invalid scope {scope!r}")
        primaries = [k["id"] for k in doc.get("keys", []) if k.get("state") == "primary"]
        if len(primaries) != 1:
            raise KeyringError(f"keyring must have exactly one primary key, found {len(primaries)}")
        keys = {}
        for entry in doc["keys"]:
            if entry.get("state") == "retired":
                continue
            key_id = entry["id"]
            if not _ID.match(key_id):
                raise KeyringError(f"invalid key id {key_id!r}")
            wrapped = base64.b64decode(entry["wrapped"]["ciphertext"])
            material = kms.unwrap(wrapped, WrapContext(scope, key_id))
            if len(material) != 32:
                raise KeyringError(f"data key `{key_id}` is {len(material)} bytes, expected 32")
            keys[key_id] = AESGCM(material)
        return cls(keys, primaries[0])

    def key(self, key_id: str) -> AESGCM:
        """The cipher for `key_id`, or UnknownKeyError naming it."""
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKeyError(key_id) from None
