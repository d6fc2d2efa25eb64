"""KeyringFile follows its file with real file changes: an edited file, and a Kubernetes Secret
volume's `..data` symlink swap (with the same modification time); a document that does not load
or unwrap keeps the keyring loaded before and logs one warning line without key material or
document content."""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from pathlib import Path

import pytest
from temporalio.api.common.v1 import Payload

from conftest import Key, LocalTestKms, document_v2
from engram_codec import EncryptionCodec, KeyringError, KeyringFile, KmsError


def wait_until(condition: object, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.02)
    return False


def test_an_edited_file_is_reloaded_in_the_background_and_the_codec_follows(
    tmp_path: Path, local_kms: LocalTestKms
) -> None:
    path = tmp_path / "keyring.json"
    a = Key("dek-a", os.urandom(32), activates=0)
    path.write_text(document_v2("orders", [a], local_kms.wrap))
    with KeyringFile(path, local_kms, reload_interval=0.05) as source:
        assert source.reload_interval == 0.05
        codec = EncryptionCodec(source, namespace="orders")
        first = codec.encode_one(Payload(data=b"1"))
        assert first.metadata["encryption-key-id"] == b"dek-a"
        b = Key("dek-b", os.urandom(32), activates=int(time.time()) - 1)
        path.write_text(document_v2("orders", [a, b], local_kms.wrap))
        assert wait_until(lambda: source.current().key_ids == ("dek-a", "dek-b")), "reloaded"
        assert codec.encode_one(Payload(data=b"2")).metadata["encryption-key-id"] == b"dek-b"
        assert codec.decode_one(first) == Payload(data=b"1")


def test_a_kubernetes_secret_symlink_swap_is_seen_by_content(tmp_path: Path, local_kms: LocalTestKms) -> None:
    # The layout kubelet writes: keyring.json -> ..data/keyring.json, ..data -> ..<timestamp>/
    volume = tmp_path / "secret"
    volume.mkdir()

    def publish(name: str, text: str) -> None:
        version = volume / name
        version.mkdir()
        (version / "keyring.json").write_text(text)
        os.utime(version / "keyring.json", (1_000_000, 1_000_000))
        os.symlink(name, volume / "..data_tmp")
        os.replace(volume / "..data_tmp", volume / "..data")

    a = Key("dek-a", os.urandom(32))
    publish("..2026_01_01_00_00_00.1", document_v2("orders", [a], local_kms.wrap))
    os.symlink("..data/keyring.json", volume / "keyring.json")
    source = KeyringFile(volume / "keyring.json", local_kms, watch=False)
    assert source.current().key_ids == ("dek-a",)
    assert source.reload() is False, "unchanged content is not loaded again"
    publish("..2026_01_01_00_10_00.2", document_v2("orders", [a, Key("dek-b", os.urandom(32))], local_kms.wrap))
    assert os.stat(volume / "keyring.json").st_mtime == 1_000_000, "same modification time as before"
    assert source.reload() is True
    assert source.current().key_ids == ("dek-a", "dek-b")


def test_a_document_that_does_not_load_keeps_the_old_keyring_with_one_warning(
    tmp_path: Path, local_kms: LocalTestKms, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keyring.json"
    a = Key("dek-a", os.urandom(32))
    good = document_v2("orders", [a], local_kms.wrap)
    path.write_text(good)
    source = KeyringFile(path, local_kms, watch=False)
    before = source.current()
    broken = json.loads(good)
    broken["keys"][0]["state"] = "SECRET-LOOKING-STATE"
    with caplog.at_level(logging.INFO, logger="engram_codec"):
        path.write_text(json.dumps(broken))
        assert source.reload() is False
        assert source.reload() is False
        path.write_text(good[: len(good) // 2])
        assert source.reload() is False
    assert source.current() is before
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2, "one line per changed document, not one per poll"
    assert str(path) in warnings[0] and "keys[0].state" in warnings[0] and "still using" in warnings[0]
    ciphertext = json.loads(good)["keys"][0]["wrapped"]["ciphertext"]
    for line in warnings:
        assert "\n" not in line
        assert "SECRET-LOOKING-STATE" not in line and ciphertext not in line
        assert base64.b64encode(a.material).decode() not in line and a.material.hex() not in line


def test_a_document_whose_new_key_does_not_unwrap_keeps_the_old_keyring(
    tmp_path: Path, local_kms: LocalTestKms, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keyring.json"
    a = Key("dek-a", os.urandom(32))
    path.write_text(document_v2("orders", [a], local_kms.wrap))
    with KeyringFile(path, local_kms, reload_interval=0.05) as source:
        local_kms.failing = True
        with caplog.at_level(logging.WARNING, logger="engram_codec"):
            path.write_text(document_v2("orders", [a, Key("dek-b", os.urandom(32))], local_kms.wrap))
            assert wait_until(lambda: any(r.levelno == logging.WARNING for r in caplog.records))
            time.sleep(0.3)  # several polls of the same content
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "did not unwrap" in warnings[0] and "endpoint unavailable" in warnings[0]
        assert source.current().key_ids == ("dek-a",)
        # The KMS answers again: the same document is loaded at a later poll.
        local_kms.failing = False
        assert wait_until(lambda: source.current().key_ids == ("dek-a", "dek-b"))


def test_a_removed_file_keeps_the_keyring_and_the_first_load_must_succeed(
    tmp_path: Path, local_kms: LocalTestKms, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "keyring.json"
    with pytest.raises(KeyringError, match="cannot read keyring file"):
        KeyringFile(path, local_kms)
    path.write_text("{}")
    with pytest.raises(KeyringError):
        KeyringFile(path, local_kms)
    path.write_text(document_v2("orders", [Key("dek-a", os.urandom(32))], local_kms.wrap))
    local_kms.failing = True
    with pytest.raises(KmsError):
        KeyringFile(path, local_kms)
    local_kms.failing = False
    source = KeyringFile(path, local_kms, watch=False)
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="engram_codec"):
        assert source.reload() is False
        assert source.reload() is False
    assert source.current().key_ids == ("dek-a",)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    with pytest.raises(ValueError):
        KeyringFile(path, local_kms, reload_interval=0)


def test_close_stops_the_thread(tmp_path: Path, local_kms: LocalTestKms) -> None:
    path = tmp_path / "keyring.json"
    path.write_text(document_v2("orders", [Key("dek-a", os.urandom(32))], local_kms.wrap))
    source = KeyringFile(path, local_kms, reload_interval=0.05)
    thread = source._thread
    assert thread is not None and thread.is_alive() and thread.daemon
    source.close()
    assert not thread.is_alive()
    assert "keyring" in repr(source) and "redacted" in repr(source)
