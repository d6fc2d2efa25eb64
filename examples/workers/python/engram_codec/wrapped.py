"""Wrapped data keys and what unwraps them: the interface every KMS backend implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class WrapContext:
    """What a wrapped data key is bound to: the keyring's scope and the data key's id."""

    scope: str
    key_id: str

    def associated_data(self) -> bytes:
        """``engram-dek:v1:<scope>:<key id>``: the associated data for Vault/OpenBao Transit,
        Google Cloud KMS and the local key file."""
        return f"engram-dek:v1:{self.scope}:{self.key_id}".encode("ascii")

    def pairs(self) -> dict[str, str]:
        """The AWS KMS encryption context."""
        return {"engram-scope": self.scope, "engram-key-id": self.key_id}


@dataclass(frozen=True)
class WrappedKey:
    """A data key encrypted under the customer's key, as the keyring document stores it."""

    ciphertext: bytes = field(repr=False)
    #: The customer key version that wrapped it, where the ciphertext does not say (Azure).
    kek_version: str | None = None

    def __repr__(self) -> str:
        return f"WrappedKey(ciphertext=<{len(self.ciphertext)} bytes>, kek_version={self.kek_version!r})"


@runtime_checkable
class KeyUnwrapper(Protocol):
    """A KMS client that turns a wrapped data key back into its 32 bytes.

    Implementations raise `engram_codec.KmsError` naming the backend, the customer key and the
    address, and never put the plaintext in a message or a repr.
    """

    def unwrap(self, wrapped: WrappedKey, context: WrapContext) -> bytes: ...
