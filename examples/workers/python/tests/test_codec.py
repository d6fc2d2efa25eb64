"""EncryptionCodec: seals version 2 for its namespace with the key that seals by the writer's
clock, refuses to seal with a stale keyring (writing nothing), counts seals per key and process,
and opens by the decoding rules of docs/payload-format.md."""

from __future__ import annotations

import asyncio
import logging
import os

import pytest
from temporalio.api.common.v1 import Payload

from engram_codec import (
    CodecError,
    DataKey,
    EncryptionCodec,
    ForeignNamespaceError,
    FormatError,
    Keyring,
    NoSealingKeyError,
    SealCounter,
    SealLimitError,
    StaleKeyringError,
    UnknownKeyError,
)
from engram_codec.format import seal, seal_v1


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def plain(text: str = '"hello"') -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


def rotating() -> tuple[Keyring, dict[str, bytes]]:
    material = {"old": os.urandom(32), "new": os.urandom(32)}
    ring = Keyring(
        [
            DataKey("old", material["old"], activates_unix_seconds=100, seal_until_unix_seconds=2_000),
            DataKey("new", material["new"], activates_unix_seconds=1_000, seal_until_unix_seconds=9_000),
        ],
        scope="orders",
    )
    return ring, material


def codec(ring: Keyring, clock: Clock, namespace: str = "orders", **kwargs: object) -> EncryptionCodec:
    return EncryptionCodec(ring, namespace=namespace, clock=clock, seal_counter=SealCounter(), **kwargs)  # type: ignore[arg-type]


def test_round_trip_seals_version_2_for_the_namespace_with_only_the_two_metadata_keys() -> None:
    ring, _ = rotating()
    c = codec(ring, Clock(500))
    original = plain('"secret order"')
    encoded = asyncio.run(c.encode([original]))
    assert dict(encoded[0].metadata) == {
        "encoding": b"binary/encrypted",
        "encryption-key-id": b"old",
        "encryption-namespace": b"orders",
    }
    assert encoded[0].data[0] == 2 and b"secret order" not in encoded[0].SerializeToString()
    assert asyncio.run(c.decode(encoded)) == [original]
    again = c.encode_one(original)
    assert again.data[1:17] != encoded[0].data[1:17], "a fresh salt per payload"


def test_the_writer_clock_picks_the_key_pending_until_its_activation() -> None:
    ring, _ = rotating()
    clock = Clock(999)
    c = codec(ring, clock)
    assert c.encode_one(plain()).metadata["encryption-key-id"] == b"old"
    clock.now = 1_000
    sealed_new = c.encode_one(plain())
    assert sealed_new.metadata["encryption-key-id"] == b"new"
    clock.now = 999
    assert c.decode_one(sealed_new) == plain(), "a key opens before its activation"


def test_a_stale_keyring_refuses_to_seal_and_writes_nothing() -> None:
    ring, _ = rotating()
    counter = SealCounter()
    c = EncryptionCodec(ring, namespace="orders", clock=Clock(9_000), seal_counter=counter)
    with pytest.raises(StaleKeyringError) as stale:
        asyncio.run(c.encode([plain(), plain()]))
    assert "`new`" in str(stale.value) and "reload the keyring" in str(stale.value)
    assert counter.count("orders", "new") == 0 and counter.count("orders", "old") == 0
    with pytest.raises(NoSealingKeyError):
        codec(ring, Clock(50)).encode_one(plain())


def test_the_seal_counter_is_per_key_shared_by_the_process_and_warns_at_ninety_percent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ring, _ = rotating()
    counter = SealCounter()
    first = EncryptionCodec(ring, namespace="orders", clock=Clock(500), seal_limit=10, seal_counter=counter)
    second = EncryptionCodec(ring, namespace="orders", clock=Clock(500), seal_limit=10, seal_counter=counter)
    with caplog.at_level(logging.WARNING, logger="engram_codec"):
        first.encode_all([plain()] * 6)
        second.encode_all([plain()] * 4)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "`old`" in warnings[0].getMessage() and "9 of the 10" in warnings[0].getMessage()
    with pytest.raises(SealLimitError, match="`old`.* 10 payloads"):
        first.encode_one(plain())
    assert counter.count("orders", "old") == 10
    # Another key has its own count.
    later = EncryptionCodec(ring, namespace="orders", clock=Clock(1_500), seal_limit=10, seal_counter=counter)
    assert later.encode_one(plain()).metadata["encryption-key-id"] == b"new"


def test_the_default_limit_is_two_to_the_48() -> None:
    from engram_codec import DEFAULT_SEAL_LIMIT, PROCESS_SEAL_COUNTER

    assert DEFAULT_SEAL_LIMIT == 2**48
    ring = Keyring([DataKey("process-count", os.urandom(32))], scope="count-test")
    EncryptionCodec(ring, namespace="n").encode_one(plain())
    EncryptionCodec(ring, namespace="n").encode_one(plain())
    assert PROCESS_SEAL_COUNTER.count("count-test", "process-count") == 2


def test_decoding_rules() -> None:
    material = os.urandom(32)
    ring = Keyring([DataKey("k", material), DataKey("retired", os.urandom(32), state="retired")])
    c = codec(ring, Clock(0))
    inner = plain().SerializeToString()

    def encrypted(data: bytes, key_id: bytes | None = b"k", namespace: bytes | None = b"orders") -> Payload:
        metadata = {"encoding": b"binary/encrypted"}
        if key_id is not None:
            metadata["encryption-key-id"] = key_id
        if namespace is not None:
            metadata["encryption-namespace"] = namespace
        return Payload(metadata=metadata, data=data)

    # 1. Not encrypted: unchanged.
    for p in (plain(), Payload(data=b"raw"), Payload(metadata={"encoding": b"binary/null"})):
        assert c.decode_one(p) == p
    good = seal(material, "k", "orders", inner)
    assert c.decode_one(encrypted(good)) == plain()
    # 2. No valid key id.
    for key_id in (None, b"", b"has:colon", b"\xff", b"x" * 65):
        with pytest.raises(FormatError, match="encryption-key-id"):
            c.decode_one(encrypted(good, key_id=key_id))
    # 3. Unknown or retired key: an error naming it.
    for key_id in (b"other", b"retired"):
        with pytest.raises(UnknownKeyError, match=f"`{key_id.decode()}`"):
            c.decode_one(encrypted(seal(os.urandom(32), key_id.decode(), "orders", inner), key_id=key_id))
    # 4. Too short, unknown version, bad tag, not a Payload.
    for data, message in [
        (b"", "empty"),
        (good[:44], "44 bytes, shorter than the 45"),
        (seal_v1(material, "k", inner)[:28], "28 bytes, shorter than the 29"),
        (b"\x03" + good[1:], "version 3"),
        (good[:-1] + bytes([good[-1] ^ 1]), "did not authenticate"),
        (seal(material, "k", "orders", b"\xff\xff\xff"), "not a Temporal Payload"),
    ]:
        with pytest.raises(FormatError, match=message):
            c.decode_one(encrypted(data))
    # 5. Version 2 without a namespace, with an invalid one, or another one.
    for namespace in (None, b"", b"\xff", b"bad\x00ns", b"x" * 256):
        with pytest.raises(FormatError, match="encryption-namespace"):
            c.decode_one(encrypted(good, namespace=namespace))
    foreign = encrypted(seal(material, "k", "payments", inner), namespace=b"payments")
    with pytest.raises(ForeignNamespaceError) as refused:
        c.decode_one(foreign)
    assert (refused.value.payload_namespace, refused.value.reader_namespace) == ("payments", "orders")
    assert "`payments`" in str(refused.value) and "`orders`" in str(refused.value)
    # Refused before any decryption: even under a key the reader does not hold.
    with pytest.raises(ForeignNamespaceError):
        c.decode_one(encrypted(seal(os.urandom(32), "unheld", "payments", inner), key_id=b"unheld", namespace=b"payments"))
    accepting = codec(ring, Clock(0), accepted_source_namespaces=["payments"])
    assert accepting.decode_one(foreign) == plain()
    # Version 1: no namespace binding, opens under any reader namespace.
    v1 = encrypted(seal_v1(material, "k", inner), namespace=None)
    assert codec(ring, Clock(0), namespace="anything").decode_one(v1) == plain()


def test_one_bad_payload_fails_the_whole_decode() -> None:
    ring = Keyring([DataKey("k", os.urandom(32))])
    c = codec(ring, Clock(0))
    good = c.encode_one(plain())
    bad = Payload()
    bad.CopyFrom(good)
    bad.metadata["encryption-key-id"] = b"nope"
    with pytest.raises(UnknownKeyError):
        asyncio.run(c.decode([good, bad]))


def test_codec_arguments_are_checked() -> None:
    ring = Keyring([DataKey("k", os.urandom(32))])
    for namespace in ("", "a\nb", "x" * 256):
        with pytest.raises(CodecError, match="namespace"):
            EncryptionCodec(ring, namespace=namespace)
    with pytest.raises(CodecError, match="list of namespaces"):
        EncryptionCodec(ring, namespace="a", accepted_source_namespaces="payments")
    with pytest.raises(CodecError, match="accepted source namespace"):
        EncryptionCodec(ring, namespace="a", accepted_source_namespaces=["ok", ""])
    with pytest.raises(TypeError):
        EncryptionCodec(ring)  # type: ignore[call-arg]
    c = EncryptionCodec(ring, namespace="orders", accepted_source_namespaces=("payments",))
    assert c.namespace == "orders" and c.accepted_source_namespaces == frozenset({"payments"})
    assert "redacted" in repr(c)
