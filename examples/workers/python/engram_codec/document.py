"""The keyring document (docs/payload-format.md, "The keyring document"): parsing versions 1
and 2, converting version 1 as specified, and the rule that picks the key that seals at a time.

Errors name the place in the document (``keys[1].state``) and never quote its values, so they
can be logged.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from engram_codec.errors import KeyringError, NoSealingKeyError, StaleKeyringError
from engram_codec.format import is_valid_key_id
from engram_codec.wrapped import WrapContext, WrappedKey

FORMAT_V1 = "engram-keyring/v1"
FORMAT_V2 = "engram-keyring/v2"
ACTIVE = "active"
RETIRED = "retired"
_V1_PRIMARY = "primary"
_V1_DECRYPT_ONLY = "decrypt-only"


class KeySchedule(Protocol):
    """What the sealing rule reads of a key."""

    @property
    def id(self) -> str: ...

    @property
    def state(self) -> str: ...

    @property
    def activates_unix_seconds(self) -> int: ...

    @property
    def seal_until_unix_seconds(self) -> int | None: ...


K = TypeVar("K", bound=KeySchedule)


def can_ever_seal(key: KeySchedule) -> bool:
    """Active, and its seal end (if any) is after its activation."""
    if key.state != ACTIVE:
        return False
    end = key.seal_until_unix_seconds
    return end is None or end > key.activates_unix_seconds


def sealing_key(keys: Sequence[K], now: float) -> K:
    """The key that seals at `now` (unix seconds), by the writer's own clock: among the active
    keys activated by `now` that can seal at all, the latest activated (the later in `keys` on a
    tie). Raises StaleKeyringError when that key's seal end has come (a newer document names
    its successor), NoSealingKeyError when no key qualifies."""
    chosen: K | None = None
    for key in keys:
        if can_ever_seal(key) and key.activates_unix_seconds <= now:
            if chosen is None or key.activates_unix_seconds >= chosen.activates_unix_seconds:
                chosen = key
    if chosen is None:
        raise NoSealingKeyError(now)
    end = chosen.seal_until_unix_seconds
    if end is not None and end <= now:
        raise StaleKeyringError(chosen.id, end, now)
    return chosen


@dataclass(frozen=True)
class DocumentKey:
    """One wrapped data key of a document, in version 2 terms."""

    id: str
    #: ``active`` (opens payloads; seals in its window) or ``retired`` (opens nothing).
    state: str
    created_unix_seconds: int
    activates_unix_seconds: int
    #: None: no seal end (only in documents converted from version 1).
    seal_until_unix_seconds: int | None
    wrapped: WrappedKey = field(repr=False)


@dataclass(frozen=True)
class KeyringDocument:
    """A parsed keyring document. Version 1 documents are converted to version 2 terms."""

    #: The version the document was written in (1 or 2).
    format_version: int
    scope: str
    keys: tuple[DocumentKey, ...]
    #: Version 2 only; None in a converted version 1 document.
    activation_delay_seconds: int | None = None
    #: Which customer key wraps the data keys (non-secret settings), when the document says.
    customer_key: Mapping[str, Any] | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, text: str | bytes) -> KeyringDocument:
        """Parses a JSON keyring document of version 1 or 2, or raises KeyringError."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise KeyringError("keyring document is not UTF-8") from None
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise KeyringError(f"keyring document is not valid JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
        if not isinstance(doc, dict):
            raise KeyringError("keyring document is not a JSON object")
        fmt = doc.get("format")
        if fmt not in (FORMAT_V1, FORMAT_V2):
            raise KeyringError(
                f"keyring document `format` is not one this codec reads ({FORMAT_V1}, {FORMAT_V2}); "
                "a newer document needs a newer engram-codec"
            )
        scope = doc.get("scope")
        if not isinstance(scope, str) or not is_valid_key_id(scope):
            raise KeyringError("keyring document `scope` is missing or not a valid id")
        entries = doc.get("keys")
        if not isinstance(entries, list):
            raise KeyringError("keyring document `keys` is missing or not a list")
        customer_key = doc.get("customer_key")
        if customer_key is not None and not isinstance(customer_key, dict):
            raise KeyringError("keyring document `customer_key` is not an object")
        if fmt == FORMAT_V1:
            keys = _keys_v1(entries)
            delay = None
        else:
            keys = _keys_v2(entries)
            delay = doc.get("activation_delay_seconds")
            if delay is not None and (not _is_int(delay) or delay < 0):
                raise KeyringError("keyring document `activation_delay_seconds` is not a non-negative integer")
        seen: set[str] = set()
        for i, key in enumerate(keys):
            if key.id in seen:
                raise KeyringError(f"keys[{i}].id is the id of an earlier key; ids must be unique")
            seen.add(key.id)
        return cls(
            format_version=1 if fmt == FORMAT_V1 else 2,
            scope=scope,
            keys=tuple(keys),
            activation_delay_seconds=delay,
            customer_key=customer_key,
        )

    def context(self, key_id: str) -> WrapContext:
        """The wrap context of data key `key_id`: this document's scope and the id."""
        return WrapContext(self.scope, key_id)

    def sealing_key(self, now: float) -> DocumentKey:
        """The key that seals at `now` (see `sealing_key`)."""
        return sealing_key(self.keys, now)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(entry: dict[str, Any], i: int, name: str, *, optional: bool = False) -> int | None:
    value = entry.get(name)
    if value is None and optional:
        return None
    if not _is_int(value):
        raise KeyringError(f"keys[{i}].{name} is missing or not an integer")
    assert isinstance(value, int)
    return value


def _common(entries: list[Any], states: tuple[str, ...]) -> list[tuple[str, str, int, WrappedKey]]:
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise KeyringError(f"keys[{i}] is not an object")
        key_id = entry.get("id")
        if not isinstance(key_id, str) or not is_valid_key_id(key_id):
            raise KeyringError(
                f"keys[{i}].id is missing or not a valid key id (1 to 64 characters from A-Z, a-z, 0-9, `.`, `_`, `-`)"
            )
        state = entry.get("state")
        if state not in states:
            raise KeyringError(f"keys[{i}].state is not one of {', '.join(states)}")
        created = _int(entry, i, "created_unix_seconds")
        assert created is not None
        out.append((key_id, state, created, _wrapped(entry.get("wrapped"), i)))
    return out


def _wrapped(value: object, i: int) -> WrappedKey:
    if not isinstance(value, dict):
        raise KeyringError(f"keys[{i}].wrapped is missing or not an object")
    text = value.get("ciphertext")
    if not isinstance(text, str):
        raise KeyringError(f"keys[{i}].wrapped.ciphertext is missing or not a string")
    try:
        ciphertext = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"keys[{i}].wrapped.ciphertext is not base64") from None
    if not ciphertext:
        raise KeyringError(f"keys[{i}].wrapped.ciphertext is empty")
    version = value.get("kek_version")
    if version is not None and (not isinstance(version, str) or not version):
        raise KeyringError(f"keys[{i}].wrapped.kek_version is not a non-empty string")
    return WrappedKey(ciphertext, version)


def _keys_v2(entries: list[Any]) -> list[DocumentKey]:
    keys = []
    for i, (key_id, state, created, wrapped) in enumerate(_common(entries, (ACTIVE, RETIRED))):
        entry = entries[i]
        activates = _int(entry, i, "activates_unix_seconds")
        assert activates is not None
        seal_until = _int(entry, i, "seal_until_unix_seconds", optional=True)
        keys.append(DocumentKey(key_id, state, created, activates, seal_until, wrapped))
    return keys


def _keys_v1(entries: list[Any]) -> list[DocumentKey]:
    """Version 1 in version 2 terms: `retired` stays retired; the `primary` activates at its
    creation with no seal end; a `decrypt-only` key created before the primary activates at its
    creation and seals until the next key's creation; one created after it never seals."""
    parsed = _common(entries, (_V1_PRIMARY, _V1_DECRYPT_ONLY, RETIRED))
    primaries = [i for i, (_, state, _, _) in enumerate(parsed) if state == _V1_PRIMARY]
    if len(primaries) != 1:
        raise KeyringError(f"a version 1 keyring document has exactly one primary key, this one has {len(primaries)}")
    primary_created = parsed[primaries[0]][2]
    # The key created next after each key: keys in creation order, the document's order on a tie.
    by_creation = sorted(range(len(parsed)), key=lambda i: parsed[i][2])
    next_created = {by_creation[n]: parsed[by_creation[n + 1]][2] for n in range(len(by_creation) - 1)}
    keys = []
    for i, (key_id, state, created, wrapped) in enumerate(parsed):
        if state == _V1_PRIMARY:
            keys.append(DocumentKey(key_id, ACTIVE, created, created, None, wrapped))
        elif state == RETIRED:
            keys.append(DocumentKey(key_id, RETIRED, created, created, created, wrapped))
        elif created < primary_created:
            keys.append(DocumentKey(key_id, ACTIVE, created, created, next_created[i], wrapped))
        else:
            keys.append(DocumentKey(key_id, ACTIVE, created, created, created, wrapped))
    return keys
