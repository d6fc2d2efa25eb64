"""The encrypted payload format, version 1: seal and open one payload's bytes."""

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = 1
NONCE_LEN = 12
TAG_LEN = 16
HEADER_LEN = 1 + NONCE_LEN
METADATA_ENCODING = "encoding"
METADATA_KEY_ID = "encryption-key-id"
ENCODING_ENCRYPTED = b"binary/encrypted"


class FormatError(Exception):
    """Sealed bytes that cannot be opened: too short, unknown version, or failed authentication."""


def associated_data(key_id: str) -> bytes:
    """The AES-GCM associated data binding the format version and the key id."""
    return b"engram-payload:" + bytes([FORMAT_VERSION]) + b":" + key_id.encode("ascii")


def seal(key: AESGCM, key_id: str, inner: bytes, nonce: bytes | None = None) -> bytes:
    """Seals a serialized Payload; the nonce is fresh and random unless a test supplies one."""
    nonce = os.urandom(NONCE_LEN) if nonce is None else nonce
    return bytes([FORMAT_VERSION]) + nonce + key.encrypt(nonce, inner, associated_data(key_id))


def open_sealed(key: AESGCM, key_id: str, sealed: bytes) -> bytes:
    """Opens sealed bytes and returns the serialized inner Payload."""
    if len(sealed) < HEADER_LEN + TAG_LEN:
        raise FormatError(f"encrypted data is {len(sealed)} bytes, shorter than the minimum")
    if sealed[0] != FORMAT_VERSION:
        raise FormatError(f"encrypted data has format version {sealed[0]}; this codec reads 1")
    try:
        return key.decrypt(sealed[1:HEADER_LEN], sealed[HEADER_LEN:], associated_data(key_id))
    except InvalidTag:
        raise FormatError(
            f"authentication failed under key `{key_id}`: the data was changed, "
            "or sealed under another key"
        ) from None
