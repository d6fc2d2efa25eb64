"""Unwrapping data keys through the customer's KMS: Vault/OpenBao Transit and AWS KMS."""

import base64
import json
import urllib.error
import urllib.request

from engram_codec.keyring import WrapContext


class KmsError(Exception):
    """A KMS call failed; the message names the backend, the key and what to check."""


class VaultTransit:
    """Vault/OpenBao Transit over HTTP with a token (from any auth method)."""

    def __init__(self, address: str, key_name: str, token: str, mount: str = "transit", timeout: float = 10.0):
        self._address = address.rstrip("/")
        self._mount = mount
        self._key_name = key_name
        self._token = token
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"VaultTransit(key={self._mount}/keys/{self._key_name}, token=[redacted])"

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytes:
        body = json.dumps(
            {
                "ciphertext": wrapped.decode("ascii"),
                "associated_data": base64.b64encode(context.associated_data()).decode(),
            }
        ).encode()
        request = urllib.request.Request(
            f"{self._address}/v1/{self._mount}/decrypt/{self._key_name}",
            data=body,
            headers={"X-Vault-Token": self._token, "Content-Type": "application/json"},
            method="POST",
        )
        where = f"Vault Transit key `{self._mount}/keys/{self._key_name}`"
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                data = json.load(response)["data"]
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise KmsError(f"{where}: HTTP {e.code}: {detail}; check the token's policy and the key") from None
        except (urllib.error.URLError, TimeoutError) as e:
            raise KmsError(f"{where}: endpoint unavailable ({e}); check the address and network") from None
        return base64.b64decode(data["plaintext"])


class AwsKms:
    """AWS KMS through boto3, with the wrap context as encryption context."""

    def __init__(self, key_id: str, region: str | None = None, endpoint_url: str | None = None, timeout: float = 10.0):
        import boto3
        from botocore.config import Config

        self._key_id = key_id
        self._client = boto3.client(
            "kms",
            region_name=region,
            endpoint_url=endpoint_url,
            config=Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 3}),
        )

    def __repr__(self) -> str:
        return f"AwsKms(key={self._key_id})"

    def unwrap(self, wrapped: bytes, context: WrapContext) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._client.decrypt(
                KeyId=self._key_id, CiphertextBlob=wrapped, EncryptionContext=context.pairs()
            )
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "Unknown")
            raise KmsError(
                f"AWS KMS key `{self._key_id}`: {code}; check credentials, the key policy and the key state"
            ) from None
        except BotoCoreError as e:
            raise KmsError(f"AWS KMS key `{self._key_id}`: {e}; check the endpoint and network") from None
        return response["Plaintext"]
