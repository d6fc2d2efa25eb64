"""Google Cloud KMS over its REST API, as the codec server does (src/kms/gcp.rs):
``POST {endpoint}/v1/{key_name}:decrypt`` with ``{"ciphertext": <base64>,
"additionalAuthenticatedData": <base64 of the wrap context's associated data>}``
(https://cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys/decrypt).

The ciphertext names the key version, so keys wrapped before a rotation still unwrap. The
bearer token is a given one, or comes from the metadata server (Workload Identity on GKE,
Compute Engine). No Google SDK is needed.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
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

BACKEND = "Google Cloud KMS"
DEFAULT_ENDPOINT = "https://cloudkms.googleapis.com"
DEFAULT_METADATA_ENDPOINT = "http://metadata.google.internal"
_TOKEN_PATH = "/computeMetadata/v1/instance/service-accounts/default/token"


@dataclass(frozen=True)
class GcpAccessToken:
    """A fixed OAuth access token."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class GcpMetadataServer:
    """The metadata server's default service account (Workload Identity on GKE)."""

    endpoint: str = DEFAULT_METADATA_ENDPOINT


GcpCredential = GcpAccessToken | GcpMetadataServer


def gcp_credential_from_environment(environ: Mapping[str, str] | None = None) -> GcpMetadataServer:
    """The metadata server, at GCE_METADATA_HOST (``host:port``, as Google's client libraries read
    it) when set."""
    env = os.environ if environ is None else environ
    host = env.get("GCE_METADATA_HOST")
    return GcpMetadataServer(f"http://{host}" if host else DEFAULT_METADATA_ENDPOINT)


class GcpKms:
    """A Cloud KMS symmetric key, ``projects/<p>/locations/<l>/keyRings/<r>/cryptoKeys/<k>``;
    `credential` defaults to `gcp_credential_from_environment()`."""

    def __init__(
        self,
        key_name: str,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        credential: GcpCredential | None = None,
        timeout: float = 10.0,
    ) -> None:
        parts = key_name.split("/")
        if len(parts) != 8 or parts[0::2] != ["projects", "locations", "keyRings", "cryptoKeys"] or "" in parts:
            raise KmsError(
                f"{BACKEND}: key name `{key_name}` is not projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>"
            )
        self._key_name = key_name
        self._base = endpoint.rstrip("/")
        self._credential = gcp_credential_from_environment() if credential is None else credential
        self._endpoint = Endpoint(BACKEND, key_name, timeout)
        self._tokens = TokenCache()

    def __repr__(self) -> str:
        return f"GcpKms(key={self._key_name!r}, endpoint={self._base!r}, credential={type(self._credential).__name__})"

    def unwrap(self, wrapped: WrappedKey, context: WrapContext) -> bytes:
        url = f"{self._base}/v1/{self._key_name}:decrypt"
        body = json.dumps(
            {
                "ciphertext": base64.b64encode(wrapped.ciphertext).decode("ascii"),
                "additionalAuthenticatedData": base64.b64encode(context.associated_data()).decode("ascii"),
            }
        ).encode()
        headers = {"Authorization": f"Bearer {self._access_token()}", "Content-Type": "application/json"}
        answer = self._endpoint.send("POST", url, headers=headers, body=body)
        if answer.status != 200:
            raise self._endpoint.error(url, _status_error(answer))
        try:
            return base64.b64decode(self._endpoint.json_body(url, answer, "plaintext"), validate=True)
        except (binascii.Error, ValueError):
            raise self._endpoint.error(url, "the answer's `plaintext` is not base64") from None

    def _access_token(self) -> str:
        credential = self._credential
        if isinstance(credential, GcpAccessToken):
            return credential.token
        return self._tokens.get(lambda: self._fetch_token(credential))

    def _fetch_token(self, credential: GcpMetadataServer) -> tuple[str, float]:
        url = f"{credential.endpoint.rstrip('/')}{_TOKEN_PATH}"
        answer = self._endpoint.send("GET", url, headers={"Metadata-Flavor": "Google"})
        if answer.status != 200:
            raise self._endpoint.error(
                url,
                f"the metadata server answered HTTP {answer.status}; {HINT_UNAUTHENTICATED} "
                "(Workload Identity for this service account)",
            )
        body = answer.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise self._endpoint.error(url, "the metadata token answer has no access_token")
        assert isinstance(body, dict)
        return token, expires_in(body)


def _status_error(answer: Answer) -> str:
    body = answer.json()
    error = body.get("error") if isinstance(body, dict) else None
    status = safe_code(error.get("status")) if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    shown = f"HTTP {answer.status}" + (f" {status}" if status else "")
    if status == "UNAUTHENTICATED":
        return f"{shown}; {HINT_UNAUTHENTICATED}"
    if status == "PERMISSION_DENIED":
        return f"{shown}; {HINT_PERMISSION}"
    if status == "NOT_FOUND":
        return f"{shown}; {HINT_NOT_FOUND}"
    if status == "FAILED_PRECONDITION":
        return f"{shown}; {HINT_DISABLED}"
    if answer.status == 400 and status == "INVALID_ARGUMENT" and isinstance(message, str) and "ecrypt" in message:
        return f"{shown}; {HINT_CIPHERTEXT}"
    return f"{shown}; {status_hint(answer.status)}"
