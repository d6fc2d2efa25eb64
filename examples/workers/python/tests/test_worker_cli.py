"""worker.py's command line: the interface tests/codec_temporal.rs and scripts/demo use still
parses, each KMS option builds its client, and the namespace defaults to the client's."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from engram_codec import AwsKms, AzureKeyVault, GcpKms, VaultTransit


def load_worker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("engram_example_worker", Path(__file__).resolve().parents[1] / "worker.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WORKER = load_worker()
BASE = ["worker.py", "worker", "--address", "127.0.0.1:7233", "--keyring", "keyring.json"]


def parse(monkeypatch: pytest.MonkeyPatch, *extra: str) -> object:
    monkeypatch.setattr(sys, "argv", BASE + list(extra))
    return WORKER.parse_args()


def test_the_existing_vault_interface_still_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEMPORAL_NAMESPACE", raising=False)
    monkeypatch.setenv("VAULT_TOKEN", "root")
    args = parse(monkeypatch, "--vault-addr", "http://127.0.0.1:8200", "--vault-key", "temporal-payloads")
    assert args.namespace == "default" and args.accept_source_namespace == [] and args.reload_interval == 10.0  # type: ignore[attr-defined]
    kms = WORKER.key_unwrapper(args)
    assert isinstance(kms, VaultTransit) and "transit/keys/temporal-payloads" in repr(kms)


def test_namespace_options_and_other_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "orders")
    args = parse(monkeypatch, "--gcp-key", "projects/p/locations/l/keyRings/r/cryptoKeys/k", "--accept-source-namespace", "a", "--accept-source-namespace", "b", "--reload-interval", "2")
    assert args.namespace == "orders" and args.accept_source_namespace == ["a", "b"] and args.reload_interval == 2.0  # type: ignore[attr-defined]
    assert isinstance(WORKER.key_unwrapper(args), GcpKms)
    args = parse(monkeypatch, "--azure-vault-url", "https://v.vault.azure.net", "--azure-key", "engram", "--namespace", "x")
    assert args.namespace == "x"  # type: ignore[attr-defined]
    assert isinstance(WORKER.key_unwrapper(args), AzureKeyVault)
    args = parse(monkeypatch, "--aws-kms-key", "alias/engram", "--aws-region", "eu-west-1")
    assert isinstance(WORKER.key_unwrapper(args), AwsKms)
    with pytest.raises(SystemExit):
        parse(monkeypatch, "--vault-addr", "http://v", "--gcp-key", "k")
    with pytest.raises(SystemExit):
        parse(monkeypatch)
