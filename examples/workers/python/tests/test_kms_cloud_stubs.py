"""Azure Key Vault and Google Cloud KMS against the project's STUB servers
(tests/codec_common/stub.rs), NOT the real services: no cloud account is reachable from the test
machine. tests/codec_python.rs starts the stubs, passes their URLs in ENGRAM_AZURE_STUB_URL and
ENGRAM_GCP_STUB_URL, and after this suite asserts the exact requests the Python clients sent
(method, path and query, headers, body) as the services document them.

The Azure stub "wraps" by reversing the bytes and names key version v7; the GCP stub's
ciphertext carries the additional authenticated data, so decrypt refuses another wrap context
as the service does. Transport behaviour (timeouts, unreachable addresses, redirects, error
bodies) is checked against small local servers."""

from __future__ import annotations

import asyncio
import base64
import http.server
import json
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.common.v1 import Payload

from conftest import Key, document_v2, free_port
from engram_codec import (
    AzureAccessToken,
    AzureKeyVault,
    AzureManagedIdentity,
    AzureWorkloadIdentity,
    EncryptionCodec,
    GcpAccessToken,
    GcpKms,
    GcpMetadataServer,
    Keyring,
    KmsError,
    WrapContext,
    WrappedKey,
    azure_credential_from_environment,
    gcp_credential_from_environment,
)
from engram_codec.kms.azure import DEFAULT_AUTHORITY_HOST, DEFAULT_IMDS_ENDPOINT

GCP_KEY = "projects/p1/locations/global/keyRings/engram/cryptoKeys/payloads"


def post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def azure_wrap(stub: str, material: bytes) -> tuple[bytes, str]:
    """What the provider does to add a key: wrapKey under the current version (at the stub)."""
    value = base64.urlsafe_b64encode(material).rstrip(b"=").decode()
    answer = post(f"{stub}/keys/engram/wrapkey?api-version=7.4", {"alg": "RSA-OAEP-256", "value": value})
    ciphertext = base64.urlsafe_b64decode(answer["value"] + "=" * (-len(answer["value"]) % 4))
    return ciphertext, answer["kid"].rsplit("/", 1)[-1]


def gcp_wrap(stub: str, material: bytes, context: WrapContext) -> bytes:
    answer = post(
        f"{stub}/v1/{GCP_KEY}:encrypt",
        {
            "plaintext": base64.b64encode(material).decode(),
            "additionalAuthenticatedData": base64.b64encode(context.associated_data()).decode(),
        },
    )
    return base64.b64decode(answer["ciphertext"])


def round_trip(keyring: Keyring) -> None:
    codec = EncryptionCodec(keyring, namespace="orders")
    original = Payload(metadata={"encoding": b"json/plain"}, data=b'"card 4111"')
    assert asyncio.run(codec.decode(asyncio.run(codec.encode([original])))) == [original]


def azure_document(stub: str, keys: list[Key]) -> str:
    versions = set()
    wrapped = {}
    for key in keys:
        wrapped[key.id], version = azure_wrap(stub, key.material)
        versions.add(version)
    assert versions == {"v7"}
    return document_v2("orders", keys, lambda material, context: wrapped[context.key_id], kek_version="v7")


def test_azure_managed_identity_unwraps_with_rsa_oaep_256_and_caches_the_token(azure_stub: str) -> None:
    keys = [Key("dek-1", os.urandom(32)), Key("dek-2", os.urandom(32), activates=10)]
    vault = AzureKeyVault(
        azure_stub,
        "engram",
        AzureManagedIdentity(endpoint=f"{azure_stub}/metadata/identity/oauth2/token", client_id="11111111-aaaa"),
    )
    keyring = Keyring.unwrap(azure_document(azure_stub, keys), vault)
    assert keyring.key_ids == ("dek-1", "dek-2")
    round_trip(keyring)
    assert "entra-token" not in repr(vault)


def test_azure_workload_identity_exchanges_the_federated_token(azure_stub: str, tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text("federated.jwt.python\n")
    credential = azure_credential_from_environment(
        environ={
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
            "AZURE_TENANT_ID": "tenant-py",
            "AZURE_CLIENT_ID": "client-py",
            "AZURE_AUTHORITY_HOST": azure_stub,
        }
    )
    assert credential == AzureWorkloadIdentity("tenant-py", "client-py", str(token_file), azure_stub)
    keyring = Keyring.unwrap(azure_document(azure_stub, [Key("dek-1", os.urandom(32))]), AzureKeyVault(azure_stub, "engram", credential))
    round_trip(keyring)


def test_azure_errors_name_the_key_and_address_and_do_not_quote_the_answer(azure_stub: str, tmp_path: Path) -> None:
    ciphertext, version = azure_wrap(azure_stub, os.urandom(32))
    context = WrapContext("orders", "dek-1")
    missing = AzureKeyVault(azure_stub, "missing", AzureAccessToken("t"))
    with pytest.raises(KmsError) as refused:
        missing.unwrap(WrappedKey(ciphertext, version), context)
    text = str(refused.value)
    assert text.startswith(f"Azure Key Vault key `{azure_stub}/keys/missing` at {azure_stub}:"), text
    assert "HTTP 404 KeyNotFound" in text and "key not found" in text
    assert "was not found in this key vault" not in text, "the answer's message is not quoted"
    with pytest.raises(KmsError, match="kek_version"):
        AzureKeyVault(azure_stub, "engram", AzureAccessToken("t")).unwrap(WrappedKey(ciphertext), context)
    absent = AzureWorkloadIdentity("t", "c", str(tmp_path / "no-such-token"), azure_stub)
    with pytest.raises(KmsError, match="cannot read the federated token file"):
        AzureKeyVault(azure_stub, "engram", absent).unwrap(WrappedKey(ciphertext, version), context)


def test_azure_vault_url_over_plain_http_is_refused() -> None:
    with pytest.raises(ValueError, match="must start with https://"):
        AzureKeyVault("http://payments.vault.azure.net", "engram", AzureAccessToken("t"))


def test_azure_credential_from_the_environment() -> None:
    assert azure_credential_from_environment(environ={}) == AzureManagedIdentity(DEFAULT_IMDS_ENDPOINT, None)
    assert azure_credential_from_environment("c2", environ={}) == AzureManagedIdentity(client_id="c2")
    federated = {"AZURE_FEDERATED_TOKEN_FILE": "/var/run/token", "AZURE_TENANT_ID": "t1", "AZURE_CLIENT_ID": "c1"}
    assert azure_credential_from_environment(environ=federated) == AzureWorkloadIdentity(
        "t1", "c1", "/var/run/token", DEFAULT_AUTHORITY_HOST
    )
    with pytest.raises(KmsError, match="AZURE_TENANT_ID"):
        azure_credential_from_environment(environ={"AZURE_FEDERATED_TOKEN_FILE": "/t"})
    with pytest.raises(KmsError, match="AZURE_CLIENT_ID"):
        azure_credential_from_environment(environ={"AZURE_FEDERATED_TOKEN_FILE": "/t", "AZURE_TENANT_ID": "t"})


def test_gcp_metadata_token_decrypt_with_the_wrap_context(gcp_stub: str) -> None:
    keys = [Key("dek-1", os.urandom(32)), Key("dek-2", os.urandom(32), activates=10)]
    doc = document_v2("orders", keys, lambda material, context: gcp_wrap(gcp_stub, material, context))
    kms = GcpKms(GCP_KEY, endpoint=gcp_stub, credential=GcpMetadataServer(gcp_stub))
    keyring = Keyring.unwrap(doc, kms)
    round_trip(keyring)
    assert "gke-token" not in repr(kms)
    moved = json.loads(doc)
    moved["scope"] = "payments"
    with pytest.raises(KmsError) as refused:
        Keyring.unwrap(json.dumps(moved), kms)
    text = str(refused.value)
    assert f"Google Cloud KMS key `{GCP_KEY}` at {gcp_stub}" in text and "HTTP 400 INVALID_ARGUMENT" in text
    assert "does not decrypt under this key" in text and "Decryption failed" not in text


def test_gcp_given_token(gcp_stub: str) -> None:
    context = WrapContext("orders", "dek-given")
    material = os.urandom(32)
    kms = GcpKms(GCP_KEY, endpoint=gcp_stub, credential=GcpAccessToken("given-token"))
    assert kms.unwrap(WrappedKey(gcp_wrap(gcp_stub, material, context)), context) == material
    assert "given-token" not in repr(kms)


def test_gcp_credential_and_key_name_checks() -> None:
    assert gcp_credential_from_environment({}) == GcpMetadataServer("http://metadata.google.internal")
    assert gcp_credential_from_environment({"GCE_METADATA_HOST": "127.0.0.1:9"}) == GcpMetadataServer("http://127.0.0.1:9")
    for bad in ("payloads", "projects/p/locations/l/keyRings/r", "projects/p/locations/l/keyRings/r/cryptoKeys/"):
        with pytest.raises(KmsError, match="not projects/"):
            GcpKms(bad)


# Transport behaviour, against small local servers (not KMS stand-ins).


class Recorder(http.server.BaseHTTPRequestHandler):
    answers: list[tuple[int, dict[str, str], bytes]] = []
    seen: list[dict[str, str]] = []

    def _answer(self) -> None:
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        status, headers, body = type(self).answers[0]
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args: object) -> None:
        pass


def serve(answers: list[tuple[int, dict[str, str], bytes]]) -> tuple[str, type[Recorder], http.server.HTTPServer]:
    handler = type("Handler", (Recorder,), {"answers": answers, "seen": []})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}", handler, server


@pytest.fixture
def servers() -> Iterator[list[http.server.HTTPServer]]:
    started: list[http.server.HTTPServer] = []
    yield started
    for server in started:
        server.shutdown()
        server.server_close()


def test_redirects_are_not_followed_so_the_token_stays_put(servers: list[http.server.HTTPServer]) -> None:
    elsewhere, seen_elsewhere, s1 = serve([(200, {}, b'{"plaintext": ""}')])
    redirecting, _, s2 = serve([(307, {"Location": f"{elsewhere}/v1/{GCP_KEY}:decrypt"}, b"")])
    servers.extend([s1, s2])
    kms = GcpKms(GCP_KEY, endpoint=redirecting, credential=GcpAccessToken("bearer-secret"))
    with pytest.raises(KmsError, match="HTTP 307"):
        kms.unwrap(WrappedKey(b"x"), WrapContext("s", "k"))
    assert seen_elsewhere.seen == []


def test_error_bodies_are_never_quoted_and_server_errors_are_retried(servers: list[http.server.HTTPServer]) -> None:
    url, handler, server = serve([(503, {}, b'{"error": {"code": 503, "message": "SECRET-IN-BODY", "status": "UNAVAILABLE"}}')])
    servers.append(server)
    kms = GcpKms(GCP_KEY, endpoint=url, credential=GcpAccessToken("t"))
    with pytest.raises(KmsError) as refused:
        kms.unwrap(WrappedKey(b"x"), WrapContext("s", "k"))
    assert "SECRET-IN-BODY" not in str(refused.value) and "HTTP 503 UNAVAILABLE" in str(refused.value)
    assert len(handler.seen) == 3, "three attempts for an idempotent call"


def test_an_unreachable_address_and_a_silent_one_are_named() -> None:
    port = free_port()
    kms = GcpKms(GCP_KEY, endpoint=f"http://127.0.0.1:{port}", credential=GcpAccessToken("t"), timeout=2)
    with pytest.raises(KmsError, match=f"at http://127.0.0.1:{port}: endpoint unavailable"):
        kms.unwrap(WrappedKey(b"x"), WrapContext("s", "k"))

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        address = f"https://127.0.0.1:{silent.getsockname()[1]}"
        vault = AzureKeyVault(address, "engram", AzureAccessToken("t"), timeout=0.3)
        started = time.monotonic()
        with pytest.raises(KmsError, match=rf"at {address}: no answer within 0.3 s"):
            vault.unwrap(WrappedKey(b"x", "v1"), WrapContext("s", "k"))
        assert time.monotonic() - started < 5
    finally:
        silent.close()
