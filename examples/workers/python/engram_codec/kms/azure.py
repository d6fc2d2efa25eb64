"""Azure Key Vault (or Managed HSM) over its REST API, as the codec server does (src/kms/azure.rs):
``POST {vault}/keys/{name}/{kek_version}/unwrapkey?api-version=7.4`` with
``{"alg": "RSA-OAEP-256", "value": <base64url>}``
(https://learn.microsoft.com/rest/api/keyvault/keys/unwrap-key/unwrap-key).

RSA key wrap takes no associated data, so the wrap context is not sent; the keyring still binds
every payload to its data key id. The key version that wrapped is stored beside the ciphertext
(``wrapped.kek_version``), because unwrapping must name it.

The bearer token for ``https://vault.azure.net`` is a given one, or comes from workload identity
(the federated token file AKS projects, exchanged at Microsoft Entra ID) or managed identity
(the instance metadata service). No Azure SDK is needed.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from engram_codec.errors import KmsError
from engram_codec.kms._http import (
    HINT_CIPHERTEXT,
    HINT_DISABLED,
    HINT_NOT_FOUND,
    HINT_PERMISSION,
    HINT_UNAUTHENTICATED,
    Answer,
    Endpoint,
    TokenCache,
    expires_in,
    safe_code,
    status_hint,
)
from engram_codec.wrapped import WrapContext, WrappedKey

BACKEND = "Azure Key Vault"
API_VERSION = "7.4"
ALGORITHM = "RSA-OAEP-256"
DEFAULT_IMDS_ENDPOINT = "http://169.254.169.254/metadata/identity/oauth2/token"
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
RESOURCE = "https://vault.azure.net"


@dataclass(frozen=True)
class AzureAccessToken:
    """A fixed access token for ``https://vault.azure.net``."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class AzureManagedIdentity:
    """Managed identity through the instance metadata service; `client_id` picks a
    user-assigned identity (None: the system-assigned one)."""

    endpoint: str = DEFAULT_IMDS_ENDPOINT
    client_id: str | None = None


@dataclass(frozen=True)
class AzureWorkloadIdentity:
    """Workload identity: the federated service account token in `token_file` (read again for
    every exchange, since it is rotated) exchanged at Microsoft Entra ID."""

    tenant_id: str
    client_id: str
    token_file: str
    authority_host: str = DEFAULT_AUTHORITY_HOST


AzureCredential = AzureAccessToken | AzureManagedIdentity | AzureWorkloadIdentity


def azure_credential_from_environment(
    client_id: str | None = None, environ: Mapping[str, str] | None = None
) -> AzureCredential:
    """The credential a pod offers, as Azure's SDKs pick it: workload identity when
    AZURE_FEDERATED_TOKEN_FILE is set (with AZURE_TENANT_ID, AZURE_CLIENT_ID and optionally
    AZURE_AUTHORITY_HOST), else managed identity. `client_id` overrides AZURE_CLIENT_ID."""
    env = os.environ if environ is None else environ
    token_file = env.get("AZURE_FEDERATED_TOKEN_FILE")
    if not token_file:
        return AzureManagedIdentity(client_id=client_id)
    tenant_id = env.get("AZURE_TENANT_ID")
    if not tenant_id:
        raise KmsError(
            f"{BACKEND}: AZURE_FEDERATED_TOKEN_FILE is set but AZURE_TENANT_ID is not; set the tenant of the workload identity"
        )
    client = client_id or env.get("AZURE_CLIENT_ID")
    if not client:
        raise KmsError(f"{BACKEND}: AZURE_FEDERATED_TOKEN_FILE is set but no client id: set AZURE_CLIENT_ID or client_id")
    return AzureWorkloadIdentity(
        tenant_id=tenant_id,
        client_id=client,
        token_file=token_file,
        authority_host=env.get("AZURE_AUTHORITY_HOST") or DEFAULT_AUTHORITY_HOST,
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _from_b64url(text: str) -> bytes:
    text = text.rstrip("=")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AzureKeyVault:
    """An RSA key in Azure Key Vault. `vault_url` is ``https://<vault>.vault.azure.net``;
    `credential` defaults to `azure_credential_from_environment()`."""

    def __init__(
        self,
        vault_url: str,
        key_name: str,
        credential: AzureCredential | None = None,
        *,
        timeout: float = 10.0,
    ) -> None:
        if not vault_url.startswith("https://"):
            # Key Vault serves HTTPS only; over http the token and the wrapped keys would travel
            # in the clear.
            raise ValueError(
                "the vault URL must start with https:// (Key Vault serves HTTPS only), "
                "e.g. https://NAME.vault.azure.net"
            )
        self._key_url = f"{vault_url.rstrip('/')}/keys/{key_name}"
        self._credential = azure_credential_from_environment() if credential is None else credential
        self._endpoint = Endpoint(BACKEND, self._key_url, timeout)
        self._tokens = TokenCache()

    def __repr__(self) -> str:
        return f"AzureKeyVault(key={self._key_url!r}, credential={type(self._credential).__name__})"

    def unwrap(self, wrapped: WrappedKey, context: WrapContext) -> bytes:
        if not wrapped.kek_version:
            raise KmsError(
                f"{BACKEND} key `{self._key_url}`: the wrapped key of data key `{context.key_id}` does not record "
                "the key version that wrapped it (`wrapped.kek_version`); it was not wrapped by Azure Key Vault"
            )
        version = urllib.parse.quote(wrapped.kek_version, safe="")
        url = f"{self._key_url}/{version}/unwrapkey?api-version={API_VERSION}"
        body = json.dumps({"alg": ALGORITHM, "value": _b64url(wrapped.ciphertext)}).encode()
        headers = {
            "Authorization": f"Bearer {self._access_token()}",
            "Content-Type": "application/json",
        }
        answer = self._endpoint.send("POST", url, headers=headers, body=body)
        if answer.status != 200:
            raise self._endpoint.error(url, _status_error(answer))
        try:
            return _from_b64url(self._endpoint.json_body(url, answer, "value"))
        except ValueError:
            raise self._endpoint.error(url, "the answer's `value` is not base64url") from None

    def _access_token(self) -> str:
        credential = self._credential
        if isinstance(credential, AzureAccessToken):
            return credential.token
        return self._tokens.get(lambda: self._fetch_token(credential))

    def _fetch_token(self, credential: AzureManagedIdentity | AzureWorkloadIdentity) -> tuple[str, float]:
        if isinstance(credential, AzureManagedIdentity):
            query = [("api-version", "2018-02-01"), ("resource", RESOURCE)]
            if credential.client_id:
                query.append(("client_id", credential.client_id))
            url = f"{credential.endpoint}?{urllib.parse.urlencode(query)}"
            answer = self._endpoint.send("GET", url, headers={"Metadata": "true"})
            what = "managed identity"
        else:
            try:
                with open(credential.token_file, encoding="utf-8") as f:
                    assertion = f.read().strip()
            except OSError as e:
                raise KmsError(
                    f"{BACKEND} key `{self._key_url}`: cannot read the federated token file {credential.token_file} "
                    f"({e.strerror or type(e).__name__}); {HINT_UNAUTHENTICATED}"
                ) from None
            url = f"{credential.authority_host.rstrip('/')}/{credential.tenant_id}/oauth2/v2.0/token"
            form = urllib.parse.urlencode(
                [
                    ("client_id", credential.client_id),
                    ("scope", f"{RESOURCE}/.default"),
                    ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                    ("client_assertion", assertion),
                    ("grant_type", "client_credentials"),
                ]
            ).encode()
            answer = self._endpoint.send(
                "POST", url, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=form
            )
            what = "workload identity"
        if answer.status != 200:
            raise self._endpoint.error(
                url,
                f"the {what} token request answered HTTP {answer.status}; {HINT_UNAUTHENTICATED} "
                "(the identity's federation and client id)",
            )
        body = answer.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise self._endpoint.error(url, f"the {what} token answer has no access_token")
        assert isinstance(body, dict)
        return token, expires_in(body)


def _status_error(answer: Answer) -> str:
    body = answer.json()
    error = body.get("error") if isinstance(body, dict) else None
    code = safe_code(error.get("code")) if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    shown = f"HTTP {answer.status}" + (f" {code}" if code else "")
    if isinstance(message, str) and "disabled" in message.lower():
        return f"{shown}; {HINT_DISABLED}"
    if code == "KeyNotFound":
        return f"{shown}; {HINT_NOT_FOUND}"
    if code == "Unauthorized":
        return f"{shown}; {HINT_UNAUTHENTICATED}"
    if code == "Forbidden":
        return f"{shown}; {HINT_PERMISSION}"
    if answer.status == 400:
        return f"{shown}; {HINT_CIPHERTEXT}"
    return f"{shown}; {status_hint(answer.status)}"
