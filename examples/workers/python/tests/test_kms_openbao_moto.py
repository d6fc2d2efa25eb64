"""The codec with real KMS servers: OpenBao Transit (`bao server -dev`) and AWS KMS (moto)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import urllib.request
from typing import Any

import boto3
import pytest
from temporalio.api.common.v1 import Payload

from conftest import Key, document_v1, document_v2
from engram_codec import AwsKms, EncryptionCodec, Keyring, KmsError, UnknownKeyError, VaultTransit, WrapContext


def vault_wrap(openbao: dict[str, Any], material: bytes, context: WrapContext) -> bytes:
    request = urllib.request.Request(
        f"{openbao['address']}/v1/transit/encrypt/engram",
        data=json.dumps(
            {
                "plaintext": base64.b64encode(material).decode(),
                "associated_data": base64.b64encode(context.associated_data()).decode(),
            }
        ).encode(),
        headers={"X-Vault-Token": openbao["token"]},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.load(answer)["data"]["ciphertext"]).encode()


def test_vault_transit_unwraps_v1_and_v2_documents_and_errors_name_the_key(openbao: dict[str, Any]) -> None:
    kms = VaultTransit(openbao["address"], "engram", openbao["token"])
    assert "[redacted]" in repr(kms) and openbao["token"] not in repr(kms)
    doc = document_v2("orders", [Key("dek-1", os.urandom(32))], lambda m, c: vault_wrap(openbao, m, c))
    codec = EncryptionCodec(Keyring.unwrap(doc, kms), namespace="orders")
    original = Payload(metadata={"encoding": b"json/plain"}, data=b'"secret order"')
    encoded = asyncio.run(codec.encode([original]))
    assert encoded[0].metadata["encoding"] == b"binary/encrypted"
    assert b"secret order" not in encoded[0].SerializeToString()
    assert asyncio.run(codec.decode(encoded)) == [original]
    encoded[0].metadata["encryption-key-id"] = b"dek-unknown"
    with pytest.raises(UnknownKeyError, match="dek-unknown"):
        asyncio.run(codec.decode(encoded))

    wrapped = vault_wrap(openbao, os.urandom(32), WrapContext("orders", "dek-1"))
    v1 = Keyring.unwrap(document_v1("orders", [("dek-1", "primary", 1, wrapped)]), kms)
    assert v1.key_ids == ("dek-1",)
    # Moved to another scope: Transit refuses the associated data.
    with pytest.raises(KmsError, match="Vault Transit key `transit/keys/engram` at http://127.0.0.1:") as refused:
        Keyring.unwrap(document_v1("payments", [("dek-1", "primary", 1, wrapped)]), kms)
    assert "HTTP 400" in str(refused.value) and "scope" in str(refused.value)
    with pytest.raises(KmsError, match="HTTP 403"):
        Keyring.unwrap(document_v1("orders", [("dek-1", "primary", 1, wrapped)]), VaultTransit(openbao["address"], "engram", "wrong-token"))


def test_aws_kms_unwraps_with_the_encryption_context(moto: str) -> None:
    client = boto3.client("kms", region_name="us-east-1", endpoint_url=moto)
    key_id = client.create_key()["KeyMetadata"]["KeyId"]

    def wrap(material: bytes, context: WrapContext) -> bytes:
        blob = client.encrypt(KeyId=key_id, Plaintext=material, EncryptionContext=context.pairs())["CiphertextBlob"]
        return bytes(blob)

    kms = AwsKms(key_id, region="us-east-1", endpoint_url=moto)
    doc = document_v2("orders", [Key("dek-1", os.urandom(32))], wrap)
    codec = EncryptionCodec(Keyring.unwrap(doc, kms), namespace="orders")
    original = Payload(metadata={"encoding": b"json/plain"}, data=b"42")
    assert asyncio.run(codec.decode(asyncio.run(codec.encode([original])))) == [original]

    moved = json.loads(doc)
    moved["scope"] = "payments"
    with pytest.raises(KmsError, match=f"AWS KMS key `{key_id}` at {moto}"):
        Keyring.unwrap(json.dumps(moved), kms)
