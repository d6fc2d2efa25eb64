"""The test vectors of docs/payload-format.md, checked against the Python codec."""

import re

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from conftest import ROOT
from engram_codec.format import FormatError, associated_data, open_sealed, seal


def vectors():
    doc = (ROOT / "docs" / "payload-format.md").read_text()
    found = []
    for block in re.findall(r"```text\n(vector:.*?)```", doc, re.S):
        fields = dict(line.split(": ", 1) for line in block.strip().splitlines())
        found.append(fields)
    assert len(found) >= 2
    return found


@pytest.mark.parametrize("v", vectors(), ids=lambda v: v["vector"])
def test_seal_reproduces_vector(v):
    key = AESGCM(bytes.fromhex(v["key"]))
    assert associated_data(v["key_id"]).hex() == v["aad"]
    sealed = seal(key, v["key_id"], bytes.fromhex(v["inner_payload"]), bytes.fromhex(v["nonce"]))
    assert sealed.hex() == v["sealed_data"]


@pytest.mark.parametrize("v", vectors(), ids=lambda v: v["vector"])
def test_open_recovers_inner_payload_and_tampering_fails(v):
    key = AESGCM(bytes.fromhex(v["key"]))
    sealed = bytes.fromhex(v["sealed_data"])
    assert open_sealed(key, v["key_id"], sealed).hex() == v["inner_payload"]
    for i in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[i] ^= 1
        with pytest.raises(FormatError):
            open_sealed(key, v["key_id"], bytes(tampered))
    with pytest.raises(FormatError):
        open_sealed(key, "another-key", sealed)
