"""Fixtures: a real OpenBao dev server and a real moto KMS server from the project's .tools/; the
Azure Key Vault and Google Cloud KMS STUBS (not the real services) that tests/codec_python.rs
starts; and helpers that write keyring documents."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from engram_codec import KmsError, WrapContext, WrappedKey

ROOT = Path(__file__).resolve().parents[4]
TOOLS = ROOT / ".tools" / "bin"


def tool(name: str) -> Path:
    path = TOOLS / name
    if not path.exists():
        pytest.fail(f"tool `{name}` is missing at {path}; run scripts/install-tools")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, what: str) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} did not listen on {port}")


class LocalTestKms:
    """A TEST STAND-IN for a KMS that binds the wrap context like Vault Transit does: AES-GCM
    under a random key with the context's associated data, so a wrapped key moved to another
    scope or id does not unwrap. It counts unwrap calls and can be told to fail."""

    def __init__(self) -> None:
        self._kek = AESGCM(os.urandom(32))
        self.unwraps: list[WrapContext] = []
        self.failing = False

    def wrap(self, material: bytes, context: WrapContext) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._kek.encrypt(nonce, material, context.associated_data())

    def unwrap(self, wrapped: WrappedKey, context: WrapContext) -> bytes:
        self.unwraps.append(context)
        if self.failing:
            raise KmsError("test KMS key `local`: endpoint unavailable; check the endpoint address, TLS and network")
        try:
            return self._kek.decrypt(wrapped.ciphertext[:12], wrapped.ciphertext[12:], context.associated_data())
        except InvalidTag:
            raise KmsError("test KMS key `local`: the wrapped data key does not decrypt under this key") from None


@dataclass
class Key:
    """A data key for a test document: its plaintext and schedule."""

    id: str
    material: bytes
    activates: int = 0
    seal_until: int | None = None
    state: str = "active"
    created: int = 0


def document_v2(
    scope: str,
    keys: Sequence[Key],
    wrap: Callable[[bytes, WrapContext], bytes],
    *,
    kek_version: str | None = None,
) -> str:
    entries: list[dict[str, Any]] = []
    for k in keys:
        wrapped: dict[str, Any] = {"ciphertext": base64.b64encode(wrap(k.material, WrapContext(scope, k.id))).decode()}
        if kek_version:
            wrapped["kek_version"] = kek_version
        entry: dict[str, Any] = {
            "id": k.id,
            "state": k.state,
            "created_unix_seconds": k.created,
            "activates_unix_seconds": k.activates,
            "wrapped": wrapped,
        }
        if k.seal_until is not None:
            entry["seal_until_unix_seconds"] = k.seal_until
        entries.append(entry)
    return json.dumps(
        {
            "format": "engram-keyring/v2",
            "scope": scope,
            "activation_delay_seconds": 3600,
            "keys": entries,
            "history": [{"event": "created", "key_id": keys[0].id, "at_unix_seconds": 0}] if keys else [],
        }
    )


def document_v1(scope: str, entries: Sequence[tuple[str, str, int, bytes]]) -> str:
    """(id, state, created, wrapped ciphertext) per key."""
    return json.dumps(
        {
            "format": "engram-keyring/v1",
            "scope": scope,
            "keys": [
                {"id": i, "state": s, "created_unix_seconds": c, "wrapped": {"ciphertext": base64.b64encode(w).decode()}}
                for i, s, c, w in entries
            ],
        }
    )


@pytest.fixture
def local_kms() -> LocalTestKms:
    return LocalTestKms()


@pytest.fixture
def openbao() -> Iterator[dict[str, Any]]:
    port = free_port()
    token = "engram-test-root"
    process = subprocess.Popen(
        [tool("bao"), "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, "bao")
        address = f"http://127.0.0.1:{port}"

        def call(path: str, body: dict[str, Any]) -> Any:
            request = urllib.request.Request(
                f"{address}/v1/{path}",
                data=json.dumps(body).encode(),
                headers={"X-Vault-Token": token},
                method="POST",
            )
            for _ in range(50):
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        text = answer.read()
                        return json.loads(text) if text else None
                except OSError:
                    time.sleep(0.1)
            pytest.fail(f"OpenBao call {path} failed")

        call("sys/mounts/transit", {"type": "transit"})
        call("transit/keys/engram", {})
        yield {"address": address, "token": token, "call": call}
    finally:
        process.kill()
        process.wait()


@pytest.fixture
def moto() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        wait_for_port(port, "moto_server")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()


def _stub(variable: str, what: str) -> str:
    url = os.environ.get(variable)
    if not url:
        pytest.fail(
            f"{variable} is not set: the {what} STUB server is started by tests/codec_python.rs; run "
            "`cargo nextest run --test codec_python` (or start the stub and set the variable)"
        )
    return url.rstrip("/")


@pytest.fixture
def azure_stub() -> str:
    """The base URL of the project's Azure Key Vault stub (tests/codec_common/stub.rs,
    azure_stub_answer): a stand-in that reverses the bytes to "wrap", not the real service."""
    return _stub("ENGRAM_AZURE_STUB_URL", "Azure Key Vault")


@pytest.fixture
def gcp_stub() -> str:
    """The base URL of the project's Google Cloud KMS stub (tests/codec_common/stub.rs,
    gcp_stub_answer): a stand-in that checks the additional authenticated data, not the real
    service."""
    return _stub("ENGRAM_GCP_STUB_URL", "Google Cloud KMS")
