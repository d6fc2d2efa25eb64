"""A keyring that follows its document's file, such as a mounted Kubernetes Secret.

Kubernetes updates a mounted Secret by writing a new timestamped directory and swapping the
``..data`` symlink, so the file's own modification time says little: the file's content is
read and compared on every poll (a keyring document is small). A changed document is parsed and
its new keys unwrapped through the KMS off the codec's path; only a keyring that loaded whole
replaces the current one, in one assignment. When the new document does not load or unwrap,
the keyring loaded before stays in use and one warning line is logged for that content (no key
material, no document content); it is tried again at every poll.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from types import TracebackType

from engram_codec.errors import CodecError, KeyringError
from engram_codec.keyring import Keyring
from engram_codec.wrapped import KeyUnwrapper

#: Seconds between two reads of the keyring file.
DEFAULT_RELOAD_INTERVAL_SECONDS = 10.0

_log = logging.getLogger("engram_codec")


class KeyringFile:
    """A keyring source that reloads `path` every `reload_interval` seconds in a background
    (daemon) thread, unwrapping through `kms`.

    The first load happens in the constructor and raises on failure. `watch=False` starts no
    thread (call `reload()` yourself). Stop the thread with `close()` or a ``with`` block.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        kms: KeyUnwrapper,
        *,
        reload_interval: float = DEFAULT_RELOAD_INTERVAL_SECONDS,
        watch: bool = True,
    ) -> None:
        if reload_interval <= 0:
            raise ValueError("reload_interval must be positive")
        self._path = os.fspath(path)
        self._kms = kms
        self._interval = reload_interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._failed_digest: bytes | None = None
        content = self._read()
        self._keyring = Keyring.unwrap(content, kms)
        self._digest = hashlib.sha256(content).digest()
        self._thread: threading.Thread | None = None
        if watch:
            self._thread = threading.Thread(target=self._run, name=f"engram-keyring-reload {self._path}", daemon=True)
            self._thread.start()

    def __repr__(self) -> str:
        return f"KeyringFile(path={self._path!r}, reload_interval={self._interval:g}, keyring={self._keyring!r})"

    @property
    def path(self) -> str:
        return self._path

    @property
    def reload_interval(self) -> float:
        return self._interval

    def current(self) -> Keyring:
        """The keyring loaded last."""
        return self._keyring

    def reload(self) -> bool:
        """Reads the file now; returns True when a changed document was loaded and swapped in.
        A document that does not load leaves the current keyring in place (and is logged)."""
        with self._lock:
            try:
                content = self._read()
            except KeyringError as e:
                self._warn_once(hashlib.sha256(b"unreadable:" + str(e).encode()).digest(), str(e))
                return False
            digest = hashlib.sha256(content).digest()
            if digest == self._digest:
                return False
            try:
                keyring = Keyring.unwrap(content, self._kms, previous=self._keyring)
            except CodecError as e:
                self._warn_once(digest, str(e))
                return False
            self._keyring = keyring
            self._digest = digest
            self._failed_digest = None
            _log.info(
                "engram_codec: keyring file %s reloaded: %d keys open payloads", self._path, len(keyring.key_ids)
            )
            return True

    def close(self) -> None:
        """Stops the reload thread (the current keyring stays usable)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(1.0, self._interval * 2))

    def __enter__(self) -> KeyringFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _read(self) -> bytes:
        try:
            with open(self._path, "rb") as f:
                return f.read()
        except OSError as e:
            raise KeyringError(f"cannot read keyring file {self._path} ({e.strerror or type(e).__name__})") from None

    def _warn_once(self, digest: bytes, reason: str) -> None:
        if digest == self._failed_digest:
            return
        self._failed_digest = digest
        _log.warning(
            "engram_codec: keyring file %s changed but was not loaded (%s); still using the keyring loaded before",
            self._path,
            reason,
        )

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.reload()
            except Exception as e:  # a reload must never end the thread
                _log.warning(
                    "engram_codec: keyring file %s was not reloaded (%s); still using the keyring loaded before",
                    self._path,
                    type(e).__name__,
                )


__all__ = ["DEFAULT_RELOAD_INTERVAL_SECONDS", "KeyringFile"]
