"""Every exception the codec raises, under one base class.

Messages name what failed (a key id, a namespace, a KMS key and address) and what to do. They
never carry key material, payload content, keyring document content or KMS response bodies.
"""

from __future__ import annotations


class CodecError(Exception):
    """The base of every error raised by engram_codec."""


class FormatError(CodecError):
    """An encrypted payload that cannot be opened: malformed metadata, too short, an unknown
    format version, failed authentication, or a plaintext that is not a Temporal Payload."""


class ForeignNamespaceError(CodecError):
    """A version 2 payload sealed for a namespace other than the reader's, which the reader does
    not accept (see `accepted_source_namespaces`). Refused before any decryption."""

    def __init__(self, payload_namespace: str, reader_namespace: str):
        super().__init__(
            f"payload was sealed for namespace `{payload_namespace}` and this codec reads namespace "
            f"`{reader_namespace}`; it is refused. If payloads of `{payload_namespace}` must be opened "
            f"here on purpose (a Nexus operation), add `{payload_namespace}` to "
            "accepted_source_namespaces"
        )
        self.payload_namespace = payload_namespace
        self.reader_namespace = reader_namespace


class UnknownKeyError(CodecError):
    """A payload sealed under a data key this keyring does not hold, or holds as retired."""

    def __init__(self, key_id: str):
        super().__init__(
            f"payload is encrypted under data key `{key_id}`, which this keyring does not hold "
            "(unknown or retired); load the current keyring document"
        )
        self.key_id = key_id


class KeyringError(CodecError):
    """A keyring document that is invalid, or a keyring that cannot do what was asked."""


class NoSealingKeyError(KeyringError):
    """No key of the keyring seals at the writer's time (every key is pending, retired or
    decrypt-only)."""

    def __init__(self, now: float):
        super().__init__(
            f"no key of the keyring seals at {int(now)} (unix seconds): every key is retired, "
            "decrypt-only or not yet activated; reload the keyring, or check this host's clock"
        )
        self.now = now


class StaleKeyringError(KeyringError):
    """The key that seals at the writer's time has passed its `seal_until_unix_seconds`: a newer
    keyring document names its successor. Nothing is sealed."""

    def __init__(self, key_id: str, seal_until_unix_seconds: int, now: float):
        super().__init__(
            f"data key `{key_id}` sealed until {seal_until_unix_seconds} (unix seconds) and it is now "
            f"{int(now)}: this keyring is stale, so nothing was sealed; reload the keyring (a newer "
            "document names the key that seals now)"
        )
        self.key_id = key_id
        self.seal_until_unix_seconds = seal_until_unix_seconds
        self.now = now


class SealLimitError(CodecError):
    """This process has sealed as many payloads with one data key as it may."""

    def __init__(self, key_id: str, limit: int):
        super().__init__(
            f"data key `{key_id}` has sealed {limit} payloads in this process, the most it may; "
            "nothing was sealed: add a new data key to the keyring (rotate) and reload it"
        )
        self.key_id = key_id
        self.limit = limit


class KmsError(CodecError):
    """A KMS call failed; the message names the backend, the customer key, the address and what
    to check, and never quotes the response body."""
