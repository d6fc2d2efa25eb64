"""Fixtures: a real OpenBao dev server and a moto KMS server from the project's .tools/."""

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[4]
TOOLS = ROOT / ".tools" / "bin"


def _tool(name: str) -> Path:
    path = TOOLS / name
    if not path.exists():
        pytest.fail(f"tool `{name}` is missing at {path}; run scripts/install-tools")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int, what: str) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"{what} did not listen on {port}")


@pytest.fixture
def openbao():
    port = _free_port()
    token = "engram-test-root"
    process = subprocess.Popen(
        [_tool("bao"), "server", "-dev", f"-dev-root-token-id={token}", f"-dev-listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(port, "bao")
        address = f"http://127.0.0.1:{port}"

        def call(path, body):
            request = urllib.request.Request(
                f"{address}/v1/{path}",
                data=json.dumps(body).encode(),
                headers={"X-Vault-Token": token},
                method="POST",
            )
            for _ in range(50):
                try:
                    urllib.request.urlopen(request, timeout=10).read()
                    return
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
def moto():
    port = _free_port()
    process = subprocess.Popen(
        [_tool("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    try:
        _wait(port, "moto_server")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait()
