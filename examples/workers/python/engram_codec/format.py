"""The bytes of an encrypted payload (docs/payload-format.md): seal version 2, open 1 and 2.

Version 2: ``0x02 || salt (16) || nonce (12) || ciphertext || tag (16)``, AES-256-GCM under a
payload key derived from the data key and the salt with HKDF-SHA256, associated data
``engram-payload:\\x02:<key id>:<namespace>``. Version 1 (read only): ``0x01 || nonce (12) ||
ciphertext || tag (16)``, AES-256-GCM under the data key, associated data
``engram-payload:\\x01:<key id>``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engram_codec.errors import FormatError

VERSION_1 = 1
VERSION_2 = 2
DATA_KEY_LEN = 32
SALT_LEN = 16
NONCE_LEN = 12
TAG_LEN = 16
#: The shortest data of each version: header and tag around an empty ciphertext.
MIN_LEN = {VERSION_1: 1 + NONCE_LEN + TAG_LEN, VERSION_2: 1 + SALT_LEN + NONCE_LEN + TAG_LEN}

METADATA_ENCODING = "encoding"
METADATA_KEY_ID = "encryption-key-id"
METADATA_NAMESPACE = "encryption-namespace"
ENCODING_ENCRYPTED = b"binary/encrypted"

_HKDF_SALT = b"engram-payload-v2"
_HKDF_INFO_PREFIX = b"engram-payload-key:"
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_MAX_NAMESPACE_BYTES = 255


def is_valid_key_id(key_id: str) -> bool:
    """1 to 64 characters from ``A-Z a-z 0-9 . _ -``."""
    return _KEY_ID.fullmatch(key_id) is not None


def is_valid_namespace(namespace: str) -> bool:
    """1 to 255 bytes of UTF-8 without control characters (Unicode category Cc)."""
    try:
        size = len(namespace.encode("utf-8"))
    except UnicodeEncodeError:
        return False
    if not 1 <= size <= _MAX_NAMESPACE_BYTES:
        return False
    return not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in namespace)


def check_key_id(key_id: str) -> str:
    """`key_id`, or FormatError when it is not a valid key id (the value is not quoted)."""
    if not isinstance(key_id, str) or not is_valid_key_id(key_id):
        raise FormatError("not a valid key id: use 1 to 64 characters from A-Z, a-z, 0-9, `.`, `_`, `-`")
    return key_id


def check_namespace(namespace: str) -> str:
    """`namespace`, or FormatError when it is not a valid namespace (the value is not quoted)."""
    if not isinstance(namespace, str) or not is_valid_namespace(namespace):
        raise FormatError("not a valid namespace: use 1 to 255 bytes of UTF-8 without control characters")
    return namespace


def derive_payload_key(data_key: bytes, salt: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) with IKM = data key, salt = ``engram-payload-v2``,
    info = ``engram-payload-key:`` || salt, L = 32: one Extract and one Expand block."""
    if len(data_key) != DATA_KEY_LEN:
        raise ValueError(f"a data key is {DATA_KEY_LEN} bytes, not {len(data_key)}")
    if len(salt) != SALT_LEN:
        raise ValueError(f"a payload salt is {SALT_LEN} bytes, not {len(salt)}")
    prk = hmac.new(_HKDF_SALT, data_key, hashlib.sha256).digest()
    return hmac.new(prk, _HKDF_INFO_PREFIX + salt + b"\x01", hashlib.sha256).digest()


def associated_data(version: int, key_id: str, namespace: str | None = None) -> bytes:
    """The AES-GCM associated data of `version`: it binds the version and the key id, and in
    version 2 the namespace."""
    check_key_id(key_id)
    if version == VERSION_1:
        return b"engram-payload:\x01:" + key_id.encode("ascii")
    if version == VERSION_2:
        if namespace is None:
            raise ValueError("version 2 associated data needs the namespace")
        check_namespace(namespace)
        return b"engram-payload:\x02:" + key_id.encode("ascii") + b":" + namespace.encode("utf-8")
    raise ValueError(f"no payload format version {version}")


def _fixed(value: bytes | None, length: int, what: str) -> bytes:
    if value is None:
        return os.urandom(length)
    if len(value) != length:
        raise ValueError(f"a {what} is {length} bytes, not {len(value)}")
    return value


def seal(
    data_key: bytes,
    key_id: str,
    namespace: str,
    inner: bytes,
    *,
    salt: bytes | None = None,
    nonce: bytes | None = None,
) -> bytes:
    """Seals a serialized Payload as version 2 for `namespace`. The salt and nonce come from the
    operating system's random source; pass them only to reproduce a test vector."""
    salt = _fixed(salt, SALT_LEN, "salt")
    nonce = _fixed(nonce, NONCE_LEN, "nonce")
    cipher = AESGCM(derive_payload_key(data_key, salt))
    aad = associated_data(VERSION_2, key_id, namespace)
    return bytes([VERSION_2]) + salt + nonce + cipher.encrypt(nonce, inner, aad)


def seal_v1(data_key: bytes, key_id: str, inner: bytes, *, nonce: bytes | None = None) -> bytes:
    """Seals as version 1. Writers produce version 2; this exists for tests and migration tools."""
    nonce = _fixed(nonce, NONCE_LEN, "nonce")
    return bytes([VERSION_1]) + nonce + AESGCM(data_key).encrypt(nonce, inner, associated_data(VERSION_1, key_id))


def sealed_version(sealed: bytes) -> int:
    """The format version of `sealed`, after checking it is one this codec reads and that the
    data is at least that version's minimum length."""
    if not sealed:
        raise FormatError("encrypted data is empty")
    version = sealed[0]
    if version not in MIN_LEN:
        raise FormatError(f"encrypted data has format version {version}; this codec reads 1 and 2")
    if len(sealed) < MIN_LEN[version]:
        raise FormatError(
            f"encrypted data is {len(sealed)} bytes, shorter than the {MIN_LEN[version]} of version {version}"
        )
    return version


def open_sealed(data_key: bytes, key_id: str, sealed: bytes, namespace: str | None = None) -> bytes:
    """Opens version 1 or 2 data and returns the serialized inner Payload. `namespace` is the one
    the payload says it was sealed for (its ``encryption-namespace``); version 2 needs it,
    version 1 ignores it."""
    version = sealed_version(sealed)
    if version == VERSION_2:
        if namespace is None:
            raise FormatError(f"a version 2 payload needs `{METADATA_NAMESPACE}` metadata")
        salt = sealed[1 : 1 + SALT_LEN]
        nonce = sealed[1 + SALT_LEN : MIN_LEN[VERSION_2] - TAG_LEN]
        body = sealed[MIN_LEN[VERSION_2] - TAG_LEN :]
        cipher = AESGCM(derive_payload_key(data_key, salt))
        aad = associated_data(VERSION_2, key_id, namespace)
    else:
        nonce = sealed[1 : 1 + NONCE_LEN]
        body = sealed[1 + NONCE_LEN :]
        cipher = AESGCM(data_key)
        aad = associated_data(VERSION_1, key_id)
    try:
        return cipher.decrypt(nonce, body, aad)
    except InvalidTag:
        where = f"key `{key_id}`" + (f" and namespace `{namespace}`" if version == VERSION_2 else "")
        raise FormatError(
            f"version {version} payload did not authenticate under {where}: the data or its "
            "metadata was changed, or it was sealed under another key"
        ) from None
