"""AWS KMS through boto3 (the `aws` extra): ``Decrypt`` with the wrap context as encryption
context."""

from __future__ import annotations

from typing import Any

from engram_codec.errors import KmsError
from engram_codec.wrapped import WrapContext, WrappedKey

BACKEND = "AWS KMS"


class AwsKms:
    """An AWS KMS key. Credentials come from boto3's usual chain (environment, profile, IRSA or
    EKS Pod Identity, instance role)."""

    def __init__(
        self,
        key_id: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise KmsError(f"{BACKEND} key `{key_id}`: boto3 is not installed; pip install 'engram-codec[aws]'") from None
        self._key_id = key_id
        self._where = endpoint_url or (f"region {region}" if region else "the default region")
        session = boto3.session.Session(profile_name=profile) if profile else boto3.session.Session()
        self._client: Any = session.client(
            "kms",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 3}),
        )

    def __repr__(self) -> str:
        return f"AwsKms(key={self._key_id!r}, at={self._where!r})"

    def unwrap(self, wrapped: WrappedKey, context: WrapContext) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client.decrypt(
                KeyId=self._key_id, CiphertextBlob=wrapped.ciphertext, EncryptionContext=context.pairs()
            )
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "Unknown")
            raise KmsError(
                f"{BACKEND} key `{self._key_id}` at {self._where}: {code}; check the credentials, the key policy, "
                "the key state, and that the keyring document belongs to this key and scope"
            ) from None
        except BotoCoreError as e:
            raise KmsError(
                f"{BACKEND} key `{self._key_id}` at {self._where}: {e}; check the endpoint, "
                "region and network"
            ) from None
        plaintext = answer.get("Plaintext")
        if not isinstance(plaintext, bytes):
            raise KmsError(f"{BACKEND} key `{self._key_id}` at {self._where}: the answer has no plaintext")
        return plaintext
