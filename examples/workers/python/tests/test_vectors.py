"""Every test vector of docs/payload-format.md (versions 1 and 2), checked against the Python
codec: sealing reproduces `sealed_data`, opening recovers `inner_payload`, and every change
fails (any flipped byte, another key id, and for version 2 another namespace)."""

from __future__ import annotations

import re

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from temporalio.api.common.v1 import Payload

from conftest import ROOT
from engram_codec import DataKey, EncryptionCodec, ForeignNamespaceError, FormatError, Keyring, SealCounter
from engram_codec.format import associated_data, derive_payload_key, open_sealed, seal, seal_v1

FIELDS = {
    1: {"vector", "version", "key", "key_id", "nonce", "aad", "inner_payload", "sealed_data"},
    2: {"vector", "version", "key", "key_id", "namespace", "salt", "nonce", "payload_key", "aad", "inner_payload", "sealed_data"},
}


def vectors() -> list[dict[str, str]]:
    doc = (ROOT / "docs" / "payload-format.md").read_text()
    found = []
    for block in re.findall(r"```text\n(vector:.*?)```", doc, re.S):
        fields = dict(line.split(": ", 1) for line in block.strip().splitlines())
        assert set(fields) == FIELDS[int(fields["version"])], fields["vector"]
        found.append(fields)
    assert {v["version"] for v in found} == {"1", "2"}, "the document has vectors of both versions"
    assert len(found) >= 4
    return found


VECTORS = vectors()


def by_version(version: int) -> list[dict[str, str]]:
    return [v for v in VECTORS if v["version"] == str(version)]


def ids(v: dict[str, str]) -> str:
    return v["vector"]


def h(v: dict[str, str], name: str) -> bytes:
    return bytes.fromhex(v[name])


@pytest.mark.parametrize("v", by_version(2), ids=ids)
def test_v2_payload_key_aad_and_seal_reproduce_the_vector(v: dict[str, str]) -> None:
    key, salt = h(v, "key"), h(v, "salt")
    assert derive_payload_key(key, salt).hex() == v["payload_key"]
    reference = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"engram-payload-v2", info=b"engram-payload-key:" + salt
    ).derive(key)
    assert reference.hex() == v["payload_key"], "the derivation is HKDF-SHA256 of RFC 5869"
    assert associated_data(2, v["key_id"], v["namespace"]).hex() == v["aad"]
    sealed = seal(key, v["key_id"], v["namespace"], h(v, "inner_payload"), salt=salt, nonce=h(v, "nonce"))
    assert sealed.hex() == v["sealed_data"]


@pytest.mark.parametrize("v", by_version(1), ids=ids)
def test_v1_aad_and_seal_reproduce_the_vector(v: dict[str, str]) -> None:
    assert associated_data(1, v["key_id"]).hex() == v["aad"]
    assert seal_v1(h(v, "key"), v["key_id"], h(v, "inner_payload"), nonce=h(v, "nonce")).hex() == v["sealed_data"]


@pytest.mark.parametrize("v", VECTORS, ids=ids)
def test_open_recovers_the_inner_payload_and_every_change_fails(v: dict[str, str]) -> None:
    key, sealed, key_id = h(v, "key"), h(v, "sealed_data"), v["key_id"]
    namespace = v.get("namespace")
    assert open_sealed(key, key_id, sealed, namespace).hex() == v["inner_payload"]
    for i in range(len(sealed)):
        for bit in (0x01, 0x80):
            tampered = bytearray(sealed)
            tampered[i] ^= bit
            with pytest.raises(FormatError):
                open_sealed(key, key_id, bytes(tampered), namespace)
    for cut in (1, len(sealed) // 2, len(sealed) - 1):
        with pytest.raises(FormatError):
            open_sealed(key, key_id, sealed[:cut], namespace)
    with pytest.raises(FormatError):
        open_sealed(key, key_id, sealed + b"\x00", namespace)
    with pytest.raises(FormatError):
        open_sealed(key, "another-key", sealed, namespace)
    with pytest.raises(FormatError):
        open_sealed(bytes(32), key_id, sealed, namespace)
    if namespace is not None:
        for other in ("another-namespace", namespace + "x", namespace[:-1]):
            with pytest.raises(FormatError):
                open_sealed(key, key_id, sealed, other)
        with pytest.raises(FormatError, match="encryption-namespace"):
            open_sealed(key, key_id, sealed, None)
    else:
        assert open_sealed(key, key_id, sealed, "any-namespace").hex() == v["inner_payload"], (
            "version 1 is not bound to a namespace"
        )


def envelope(v: dict[str, str]) -> Payload:
    metadata = {"encoding": b"binary/encrypted", "encryption-key-id": v["key_id"].encode()}
    if "namespace" in v:
        metadata["encryption-namespace"] = v["namespace"].encode()
    return Payload(metadata=metadata, data=h(v, "sealed_data"))


def codec_for(v: dict[str, str], namespace: str, **kwargs: object) -> EncryptionCodec:
    keyring = Keyring([DataKey(v["key_id"], h(v, "key")), DataKey("same-material", h(v, "key"))])
    return EncryptionCodec(keyring, namespace=namespace, seal_counter=SealCounter(), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("v", VECTORS, ids=ids)
def test_the_codec_opens_the_vector_as_a_temporal_payload(v: dict[str, str]) -> None:
    inner = Payload()
    inner.ParseFromString(h(v, "inner_payload"))
    namespace = v.get("namespace", "orders")
    assert codec_for(v, namespace).decode_one(envelope(v)) == inner

    moved = envelope(v)
    moved.metadata["encryption-key-id"] = b"same-material"
    with pytest.raises(FormatError, match="same-material"):
        codec_for(v, namespace).decode_one(moved)

    if v["version"] == "2":
        with pytest.raises(ForeignNamespaceError) as refused:
            codec_for(v, "sandbox").decode_one(envelope(v))
        assert f"`{v['namespace']}`" in str(refused.value) and "`sandbox`" in str(refused.value)
        accepting = codec_for(v, "sandbox", accepted_source_namespaces=[v["namespace"]])
        assert accepting.decode_one(envelope(v)) == inner

        relabelled = envelope(v)
        relabelled.metadata["encryption-namespace"] = b"sandbox"
        with pytest.raises(FormatError):
            codec_for(v, "sandbox").decode_one(relabelled)

        missing = envelope(v)
        del missing.metadata["encryption-namespace"]
        with pytest.raises(FormatError, match="encryption-namespace"):
            codec_for(v, namespace).decode_one(missing)

        downgraded = envelope(v)
        downgraded.data = b"\x01" + downgraded.data[1:]
        with pytest.raises(FormatError):
            codec_for(v, namespace).decode_one(downgraded)
    else:
        assert codec_for(v, "any-namespace").decode_one(envelope(v)) == inner
