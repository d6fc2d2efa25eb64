"""Keyring documents of versions 1 and 2 load as docs/payload-format.md specifies, and the rule
"which key seals at time t" holds: a pending key is not used before its activation and is after
it; a key past its seal end makes the keyring stale; decrypt-only keys of version 1 never seal
(except in their own past window); retired keys never open and are never unwrapped."""

from __future__ import annotations

import json
import os

import pytest

from conftest import Key, LocalTestKms, document_v1, document_v2
from engram_codec import (
    DataKey,
    Keyring,
    KeyringDocument,
    KeyringError,
    KmsError,
    NoSealingKeyError,
    StaleKeyringError,
    UnknownKeyError,
    WrapContext,
)


def m() -> bytes:
    return os.urandom(32)


def test_pending_key_seals_only_from_its_activation() -> None:
    ring = Keyring(
        [
            DataKey("old", m(), activates_unix_seconds=100, seal_until_unix_seconds=2000),
            DataKey("new", m(), activates_unix_seconds=1000, seal_until_unix_seconds=5000),
        ]
    )
    assert ring.key_for_sealing(999.9).id == "old"
    assert ring.key_for_sealing(1000).id == "new"
    assert ring.key_for_sealing(1999).id == "new"
    # A pending key opens payloads before it seals any.
    assert ring.key_for_opening("new").id == "new"
    with pytest.raises(NoSealingKeyError):
        ring.key_for_sealing(99)


def test_past_seal_until_the_keyring_is_stale_and_names_the_key() -> None:
    ring = Keyring([DataKey("dek-a", m(), activates_unix_seconds=100, seal_until_unix_seconds=500)])
    assert ring.key_for_sealing(499).id == "dek-a"
    with pytest.raises(StaleKeyringError) as stale:
        ring.key_for_sealing(500)
    assert stale.value.key_id == "dek-a"
    assert "`dek-a`" in str(stale.value) and "reload the keyring" in str(stale.value)


def test_the_latest_activation_wins_even_when_stale_and_ties_go_to_the_later_key() -> None:
    ring = Keyring(
        [
            DataKey("a", m(), activates_unix_seconds=100, seal_until_unix_seconds=10_000),
            DataKey("b", m(), activates_unix_seconds=200, seal_until_unix_seconds=300),
        ]
    )
    # b activated last; past its end the writer is stale (a newer document names b's successor),
    # it does not fall back to a.
    with pytest.raises(StaleKeyringError, match="`b`"):
        ring.key_for_sealing(300)
    tie = Keyring(
        [
            DataKey("first", m(), activates_unix_seconds=100),
            DataKey("second", m(), activates_unix_seconds=100),
        ]
    )
    assert tie.key_for_sealing(150).id == "second"


def test_a_key_whose_seal_end_is_not_after_its_activation_never_seals_but_opens() -> None:
    ring = Keyring(
        [
            DataKey("seals", m(), activates_unix_seconds=100),
            DataKey("opens-only", m(), activates_unix_seconds=200, seal_until_unix_seconds=200),
        ]
    )
    assert ring.key_for_sealing(10_000).id == "seals"
    assert ring.key_for_opening("opens-only").id == "opens-only"


def test_retired_keys_never_open_and_are_never_unwrapped(local_kms: LocalTestKms) -> None:
    doc = document_v2(
        "orders",
        [Key("live", m(), activates=0), Key("gone", m(), activates=0, seal_until=10, state="retired")],
        local_kms.wrap,
    )
    ring = Keyring.unwrap(doc, local_kms)
    assert [c.key_id for c in local_kms.unwraps] == ["live"]
    with pytest.raises(UnknownKeyError, match="`gone`"):
        ring.key_for_opening("gone")
    with pytest.raises(UnknownKeyError, match="`never-was`"):
        ring.key_for_opening("never-was")
    assert Keyring([DataKey("r", m(), state="retired")]).key_ids == ()


def test_version_2_document_loads_with_its_schedule(local_kms: LocalTestKms) -> None:
    text = document_v2(
        "orders",
        [Key("a", m(), created=10, activates=10, seal_until=100), Key("b", m(), created=50, activates=90)],
        local_kms.wrap,
    )
    doc = KeyringDocument.parse(text)
    assert doc.format_version == 2 and doc.scope == "orders" and doc.activation_delay_seconds == 3600
    assert [(k.id, k.state, k.activates_unix_seconds, k.seal_until_unix_seconds) for k in doc.keys] == [
        ("a", "active", 10, 100),
        ("b", "active", 90, None),
    ]
    assert doc.sealing_key(89).id == "a" and doc.sealing_key(90).id == "b"
    assert KeyringDocument.parse(text.encode()) == doc
    ring = Keyring.unwrap(text, local_kms)
    assert ring.key_ids == ("a", "b") and "material=[redacted]" in repr(ring)


def test_version_1_document_converts_as_specified(local_kms: LocalTestKms) -> None:
    def w(key_id: str) -> bytes:
        return local_kms.wrap(m(), WrapContext("orders", key_id))

    text = document_v1(
        "orders",
        [
            ("gone", "retired", 100, w("gone")),
            ("before", "decrypt-only", 200, w("before")),
            ("primary", "primary", 300, w("primary")),
            ("after", "decrypt-only", 400, w("after")),
        ],
    )
    doc = KeyringDocument.parse(text)
    assert doc.format_version == 1 and doc.activation_delay_seconds is None
    keys = {k.id: (k.state, k.activates_unix_seconds, k.seal_until_unix_seconds) for k in doc.keys}
    assert keys == {
        "gone": ("retired", 100, 100),
        "before": ("active", 200, 300),  # seals until the next key's creation
        "primary": ("active", 300, None),  # activates at its creation, no seal end
        "after": ("active", 400, 400),  # created after the primary: never seals
    }
    ring = Keyring.unwrap(text, local_kms)
    assert ring.key_ids == ("before", "primary", "after")
    # The decrypt-only key created after the primary never seals, at any time.
    for t in (400, 10**10):
        assert ring.key_for_sealing(t).id == "primary"
    assert ring.key_for_sealing(250).id == "before"
    assert ring.key_for_opening("after").id == "after"


def test_version_1_next_key_counts_every_key_in_creation_order(local_kms: LocalTestKms) -> None:
    def w(key_id: str) -> bytes:
        return local_kms.wrap(m(), WrapContext("s", key_id))

    # Listed out of creation order; "next" is by creation time.
    text = document_v1(
        "s",
        [
            ("p", "primary", 500, w("p")),
            ("d1", "decrypt-only", 100, w("d1")),
            ("r", "retired", 300, w("r")),
            ("d2", "decrypt-only", 400, w("d2")),
        ],
    )
    keys = {k.id: k.seal_until_unix_seconds for k in KeyringDocument.parse(text).keys}
    assert keys["d1"] == 300 and keys["d2"] == 500 and keys["p"] is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="engram-keyring/v3"), "format"),
        (lambda d: d.update(scope="bad scope"), "scope"),
        (lambda d: d.update(keys={}), "keys"),
        (lambda d: d["keys"][0].update(id="has:colon"), r"keys\[0\]\.id"),
        (lambda d: d["keys"][0].update(state="primary"), r"keys\[0\]\.state"),
        (lambda d: d["keys"][0].update(activates_unix_seconds="10"), r"keys\[0\]\.activates_unix_seconds"),
        (lambda d: d["keys"][0].pop("activates_unix_seconds"), r"keys\[0\]\.activates_unix_seconds"),
        (lambda d: d["keys"][0].update(seal_until_unix_seconds=True), r"keys\[0\]\.seal_until_unix_seconds"),
        (lambda d: d["keys"][0].update(created_unix_seconds=1.5), r"keys\[0\]\.created_unix_seconds"),
        (lambda d: d["keys"][0]["wrapped"].update(ciphertext="not base64!"), r"keys\[0\]\.wrapped\.ciphertext"),
        (lambda d: d["keys"][0]["wrapped"].update(kek_version=7), r"keys\[0\]\.wrapped\.kek_version"),
        (lambda d: d["keys"].append(dict(d["keys"][0])), r"keys\[1\]\.id .* unique"),
        (lambda d: d.update(activation_delay_seconds=-1), "activation_delay_seconds"),
    ],
)
def test_invalid_version_2_documents_are_refused_without_quoting_them(
    local_kms: LocalTestKms, change: object, message: str
) -> None:
    doc = json.loads(document_v2("orders", [Key("a", m())], local_kms.wrap))
    change(doc)  # type: ignore[operator]
    with pytest.raises(KeyringError, match=message) as refused:
        KeyringDocument.parse(json.dumps(doc))
    assert "has:colon" not in str(refused.value) and "not base64!" not in str(refused.value)


def test_invalid_documents_of_either_version(local_kms: LocalTestKms) -> None:
    w = local_kms.wrap(m(), WrapContext("s", "a"))
    texts: list[str | bytes] = ["", "[]", "{", b"\xff\xfe"]
    for text in texts:
        with pytest.raises(KeyringError):
            KeyringDocument.parse(text)
    with pytest.raises(KeyringError, match="exactly one primary"):
        KeyringDocument.parse(document_v1("s", [("a", "decrypt-only", 1, w)]))
    with pytest.raises(KeyringError, match="exactly one primary"):
        KeyringDocument.parse(document_v1("s", [("a", "primary", 1, w), ("b", "primary", 2, w)]))
    with pytest.raises(KeyringError, match="state"):
        KeyringDocument.parse(document_v1("s", [("a", "active", 1, w)]))


def test_a_wrapped_key_under_another_scope_or_id_does_not_unwrap(local_kms: LocalTestKms) -> None:
    doc = json.loads(document_v2("orders", [Key("a", m())], local_kms.wrap))
    doc["scope"] = "payments"
    with pytest.raises(KmsError, match="data key `a`"):
        Keyring.unwrap(json.dumps(doc), local_kms)
    doc["scope"] = "orders"
    doc["keys"][0]["id"] = "b"
    with pytest.raises(KmsError, match="data key `b`"):
        Keyring.unwrap(json.dumps(doc), local_kms)


def test_a_kms_answer_that_is_not_32_bytes_is_refused() -> None:
    class Short:
        def unwrap(self, wrapped: object, context: object) -> bytes:
            return b"\x00" * 16

    doc = document_v2("orders", [Key("a", m())], lambda material, context: b"x")
    with pytest.raises(KeyringError, match="16 bytes, expected 32"):
        Keyring.unwrap(doc, Short())


def test_reuse_takes_unchanged_keys_from_the_previous_keyring(local_kms: LocalTestKms) -> None:
    one = json.loads(document_v2("orders", [Key("a", m())], local_kms.wrap))
    first = Keyring.unwrap(json.dumps(one), local_kms)
    two = dict(one, keys=one["keys"] + json.loads(document_v2("orders", [Key("b", m(), activates=50)], local_kms.wrap))["keys"])
    local_kms.unwraps.clear()
    second = Keyring.unwrap(json.dumps(two), local_kms, previous=first)
    assert [c.key_id for c in local_kms.unwraps] == ["b"], "only the new key is unwrapped"
    assert second.key_ids == ("a", "b")
    rewrapped = json.loads(document_v2("orders", [Key("a", m())], local_kms.wrap))
    local_kms.unwraps.clear()
    Keyring.unwrap(json.dumps(rewrapped), local_kms, previous=first)
    assert [c.key_id for c in local_kms.unwraps] == ["a"], "new wrapped bytes are unwrapped again"


def test_data_keys_check_their_inputs() -> None:
    with pytest.raises(KeyringError, match="32"):
        DataKey("a", b"short")
    with pytest.raises(KeyringError, match="key id"):
        DataKey("a:b", m())
    with pytest.raises(KeyringError, match="two data keys"):
        Keyring([DataKey("a", m()), DataKey("a", m())])
    assert "redacted" in repr(DataKey("a", m()))
