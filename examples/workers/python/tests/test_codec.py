"""The Python codec end to end with real KMS backends: OpenBao Transit and AWS KMS (moto)."""

import asyncio
import base64
import json

import boto3
import pytest
from temporalio.api.common.v1 import Payload

from engram_codec import AwsKms, EncryptionCodec, Keyring, KmsError, UnknownKeyError, VaultTransit
from engram_codec.keyring import WrapContext


def document(scope, entries):
    return json.dumps(
        {
            "format": "engram-keyring/v1",
            "scope": scope,
            "keys": [
                {"id": i, "state": s, "created_unix_seconds": 0, "wrapped": {"ciphertext": base64.b64encode(w).decode()}}
                for i, s, w in entries
            ],
        }
    )


def vault_wrap(openbao, context, key=b"\x07" * 32):
    import urllib.request

    request = urllib.request.Request(
        f"{openbao['address']}/v1/transit/encrypt/engram",
        data=json.dumps(
            {
                "plaintext": base64.b64encode(key).decode(),
                "associated_data": base64.b64encode(context.associated_data()).decode(),
            }
        ).encode(),
        headers={"X-Vault-Token": openbao["token"]},
        method="POST",
    )
    return json.load(urllib.request.urlopen(request))["data"]["ciphertext"].encode()


def test_vault_keyring_round_trip_and_errors(openbao):
    wrapped = vault_wrap(openbao, WrapContext("orders", "dek-1"))
    kms = VaultTransit(openbao["address"], "engram", openbao["token"])
    keyring = Keyring.unwrap(document("orders", [("dek-1", "primary", wrapped)]), kms)
    assert "[redacted]" in repr(keyring) and "[redacted]" in repr(kms)
    codec = EncryptionCodec(keyring)
    original = Payload(metadata={"encoding": b"json/plain"}, data=b'"secret order"')
    encoded = asyncio.run(codec.encode([original]))
    assert encoded[0].metadata["encoding"] == b"binary/encrypted"
    assert b"secret order" not in encoded[0].SerializeToString()
    assert asyncio.run(codec.decode(encoded)) == [original]

    plain = Payload(metadata={"encoding": b"json/plain"}, data=b"1")
    assert asyncio.run(codec.decode([plain])) == [plain]

    encoded[0].metadata["encryption-key-id"] = b"dek-unknown"
    with pytest.raises(UnknownKeyError, match="dek-unknown"):
        asyncio.run(codec.decode(encoded))

    with pytest.raises(KmsError, match="Vault Transit key `transit/keys/engram`"):
        Keyring.unwrap(document("payments", [("dek-1", "primary", wrapped)]), kms)


def test_aws_kms_keyring_round_trip(moto):
    client = boto3.client("kms", region_name="us-east-1", endpoint_url=moto)
    key_id = client.create_key()["KeyMetadata"]["KeyId"]
    context = WrapContext("orders", "dek-1")
    generated = client.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=context.pairs())
    kms = AwsKms(key_id, region="us-east-1", endpoint_url=moto)
    keyring = Keyring.unwrap(document("orders", [("dek-1", "primary", generated["CiphertextBlob"])]), kms)
    codec = EncryptionCodec(keyring)
    original = Payload(metadata={"encoding": b"json/plain"}, data=b"42")
    assert asyncio.run(codec.decode(asyncio.run(codec.encode([original])))) == [original]

    with pytest.raises(KmsError, match=key_id):
        Keyring.unwrap(document("payments", [("dek-1", "primary", generated["CiphertextBlob"])]), kms)
