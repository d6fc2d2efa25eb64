"""Clients of the customer's key management service: each unwraps the data keys of a keyring
document. Vault/OpenBao Transit, Azure Key Vault and Google Cloud KMS use the standard library
only; AWS KMS needs boto3 (the `aws` extra)."""

from engram_codec.kms.aws import AwsKms
from engram_codec.kms.azure import (
    AzureAccessToken,
    AzureCredential,
    AzureKeyVault,
    AzureManagedIdentity,
    AzureWorkloadIdentity,
    azure_credential_from_environment,
)
from engram_codec.kms.gcp import (
    GcpAccessToken,
    GcpCredential,
    GcpKms,
    GcpMetadataServer,
    gcp_credential_from_environment,
)
from engram_codec.kms.vault import VaultTransit

__all__ = [
    "AwsKms",
    "AzureAccessToken",
    "AzureCredential",
    "AzureKeyVault",
    "AzureManagedIdentity",
    "AzureWorkloadIdentity",
    "GcpAccessToken",
    "GcpCredential",
    "GcpKms",
    "GcpMetadataServer",
    "VaultTransit",
    "azure_credential_from_environment",
    "gcp_credential_from_environment",
]
