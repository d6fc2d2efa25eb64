"""Vault/OpenBao Transit: ``POST /v1/<mount>/decrypt/<key>`` with the wrap context as
associated data (https://openbao.org/api-docs/secret/transit/#decrypt-data)."""

from __future__ import annotations

import base64
import json

from engram_codec.errors import KmsError
from engram_codec.kms._http import HINT_CIPHERTEXT, Endpoint, status_hint
from engram_codec.wrapped import WrapContext, WrappedKey

BACKEND = "Vault Transit"


class VaultTransit:
    """A Transit key, called with a Vault token (from any auth method). `namespace` is the Vault
    Enterprise / OpenBao namespace, sent as ``X-Vault-Namespace``."""

    def __init__(
        self,
        address: str,
        key_name: str,
        token: str,
        *,
        mount: str = "transit",
        namespace: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._address = address.rstrip("/")
        self._mount = mount.strip("/")
        self._key_name = key_name
        self._token = token
        self._namespace = namespace
        self._endpoint = Endpoint(BACKEND, f"{self._mount}/keys/{key_name}", timeout)

    def __repr__(self) -> str:
        return f"VaultTransit(address={self._address!r}, key={self._mount}/keys/{self._key_name}, token=[redacted])"

    def unwrap(self, wrapped: WrappedKey, context: WrapContext) -> bytes:
        try:
            ciphertext = wrapped.ciphertext.decode("ascii")
        except UnicodeDecodeError:
            raise KmsError(
                f"{BACKEND} key `{self._endpoint.key}`: the wrapped key is not a Transit ciphertext; {HINT_CIPHERTEXT}"
            ) from None
        url = f"{self._address}/v1/{self._mount}/decrypt/{self._key_name}"
        headers = {"X-Vault-Token": self._token, "Content-Type": "application/json"}
        if self._namespace:
            headers["X-Vault-Namespace"] = self._namespace
        body = json.dumps(
            {"ciphertext": ciphertext, "associated_data": base64.b64encode(context.associated_data()).decode()}
        ).encode()
        answer = self._endpoint.send("POST", url, headers=headers, body=body)
        if answer.status != 200:
            hint = HINT_CIPHERTEXT if answer.status == 400 else status_hint(answer.status)
            raise self._endpoint.error(url, f"HTTP {answer.status}; {hint}")
        data = answer.json()
        plaintext = data.get("data", {}).get("plaintext") if isinstance(data, dict) else None
        if not isinstance(plaintext, str):
            raise self._endpoint.error(url, "the answer has no `data.plaintext`; check the address is Vault or OpenBao")
        return base64.b64decode(plaintext)
