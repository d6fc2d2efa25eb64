"""Encrypted Temporal payloads for Python workers, in the format of docs/payload-format.md.

`EncryptionCodec` is a `temporalio.converter.PayloadCodec`; it takes a keyring source (a fixed
`Keyring`, or a `KeyringFile` that follows a mounted Secret) and the worker's namespace.
"""

from engram_codec.codec import DEFAULT_SEAL_LIMIT, PROCESS_SEAL_COUNTER, EncryptionCodec, SealCounter
from engram_codec.document import DocumentKey, KeyringDocument, sealing_key
from engram_codec.errors import (
    CodecError,
    ForeignNamespaceError,
    FormatError,
    KeyringError,
    KmsError,
    NoSealingKeyError,
    SealLimitError,
    StaleKeyringError,
    UnknownKeyError,
)
from engram_codec.format import open_sealed, seal
from engram_codec.keyring import DataKey, Keyring, KeyringSource
from engram_codec.kms import (
    AwsKms,
    AzureAccessToken,
    AzureKeyVault,
    AzureManagedIdentity,
    AzureWorkloadIdentity,
    GcpAccessToken,
    GcpKms,
    GcpMetadataServer,
    VaultTransit,
    azure_credential_from_environment,
    gcp_credential_from_environment,
)
from engram_codec.reload import DEFAULT_RELOAD_INTERVAL_SECONDS, KeyringFile
from engram_codec.wrapped import KeyUnwrapper, WrapContext, WrappedKey

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_RELOAD_INTERVAL_SECONDS",
    "DEFAULT_SEAL_LIMIT",
    "PROCESS_SEAL_COUNTER",
    "AwsKms",
    "AzureAccessToken",
    "AzureKeyVault",
    "AzureManagedIdentity",
    "AzureWorkloadIdentity",
    "CodecError",
    "DataKey",
    "DocumentKey",
    "EncryptionCodec",
    "ForeignNamespaceError",
    "FormatError",
    "GcpAccessToken",
    "GcpKms",
    "GcpMetadataServer",
    "KeyUnwrapper",
    "Keyring",
    "KeyringDocument",
    "KeyringError",
    "KeyringFile",
    "KeyringSource",
    "KmsError",
    "NoSealingKeyError",
    "SealCounter",
    "SealLimitError",
    "StaleKeyringError",
    "UnknownKeyError",
    "VaultTransit",
    "WrapContext",
    "WrappedKey",
    "azure_credential_from_environment",
    "gcp_credential_from_environment",
    "open_sealed",
    "seal",
    "sealing_key",
]
