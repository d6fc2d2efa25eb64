"""Encrypted Temporal payloads for Python workers (see docs/payload-format.md)."""

from engram_codec.codec import EncryptionCodec
from engram_codec.format import FormatError, open_sealed, seal
from engram_codec.keyring import Keyring, KeyringError, UnknownKeyError
from engram_codec.kms import AwsKms, KmsError, VaultTransit

__all__ = [
    "AwsKms",
    "EncryptionCodec",
    "FormatError",
    "Keyring",
    "KeyringError",
    "KmsError",
    "UnknownKeyError",
    "VaultTransit",
    "open_sealed",
    "seal",
]
