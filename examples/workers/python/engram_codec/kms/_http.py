"""HTTP for the REST backends (Vault/OpenBao Transit, Azure Key Vault, Google Cloud KMS) with
the standard library only: a timeout on every call, bounded retries (every call made here is
idempotent), no redirects (a redirect would carry the bearer token elsewhere), a size limit on
answers, and errors that name the backend, the key and the address but never quote an answer.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import IO, Any

from engram_codec.errors import KmsError

ATTEMPTS = 3
FIRST_BACKOFF_SECONDS = 0.1
MAX_ANSWER_BYTES = 1 << 20
#: Tokens are fetched again this long before they expire.
RENEW_BEFORE_SECONDS = 120.0
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_CODE = re.compile(r"[A-Za-z_]{1,64}")

HINT_UNAUTHENTICATED = "not authenticated; check the credentials, token or identity this process uses"
HINT_PERMISSION = "permission denied; check that the key policy or role grants this operation to the identity in use"
HINT_NOT_FOUND = "key not found; check the key name, vault URL, project, region or mount"
HINT_DISABLED = "key is disabled or not usable; check the key's state in the KMS"
HINT_CIPHERTEXT = (
    "the wrapped data key does not decrypt under this key; check that the keyring document belongs to this "
    "key and scope"
)
HINT_UNAVAILABLE = "endpoint unavailable; check the endpoint address, TLS and network"
HINT_UNEXPECTED = "unexpected response; check that the endpoint is the right service and API version"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def origin(url: str) -> str:
    """``scheme://host[:port]`` of `url`: the address errors name (not the path or query)."""
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


def status_hint(status: int) -> str:
    """The default hint for an unsuccessful status."""
    if status == 401:
        return HINT_UNAUTHENTICATED
    if status == 403:
        return HINT_PERMISSION
    if status == 404:
        return HINT_NOT_FOUND
    if status >= 500 or status == 429:
        return HINT_UNAVAILABLE
    return HINT_UNEXPECTED


def safe_code(value: object) -> str | None:
    """An error code of the answer (`KeyNotFound`, `PERMISSION_DENIED`), when it is a short
    identifier: codes are safe to show, messages are not quoted."""
    if isinstance(value, str) and _CODE.fullmatch(value):
        return value
    return None


class Endpoint:
    """Calls to one backend about one customer key; every error names both and the address."""

    def __init__(self, backend: str, key: str, timeout: float) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.backend = backend
        self.key = key
        self.timeout = timeout

    def error(self, url: str, what: str) -> KmsError:
        return KmsError(f"{self.backend} key `{self.key}` at {origin(url)}: {what}")

    def send(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        """Sends one request, retrying connection failures, timeouts and 429/502/503/504."""
        backoff = FIRST_BACKOFF_SECONDS
        for attempt in range(1, ATTEMPTS + 1):
            request = urllib.request.Request(url, data=body, headers=dict(headers or {}), method=method)
            answer: Answer | None = None
            failure: KmsError | None = None
            try:
                with _OPENER.open(request, timeout=self.timeout) as response:
                    answer = Answer(response.status, response.read(MAX_ANSWER_BYTES + 1))
            except urllib.error.HTTPError as e:
                try:
                    answer = Answer(e.code, e.read(MAX_ANSWER_BYTES + 1))
                except OSError:
                    answer = Answer(e.code, b"")
                finally:
                    e.close()
            except TimeoutError:
                failure = self._timeout(url)
            except urllib.error.URLError as e:
                if isinstance(e.reason, TimeoutError):
                    failure = self._timeout(url)
                else:
                    failure = self.error(url, f"{HINT_UNAVAILABLE} ({_reason(e.reason)})")
            except (OSError, ValueError) as e:
                failure = self.error(url, f"{HINT_UNAVAILABLE} ({type(e).__name__})")
            if answer is not None:
                if len(answer.body) > MAX_ANSWER_BYTES:
                    raise self.error(url, f"answer larger than {MAX_ANSWER_BYTES} bytes; {HINT_UNEXPECTED}")
                if answer.status not in _RETRY_STATUSES or attempt == ATTEMPTS:
                    return answer
            elif failure is not None and attempt == ATTEMPTS:
                raise failure
            time.sleep(backoff)
            backoff *= 2
        raise AssertionError("unreachable")

    def _timeout(self, url: str) -> KmsError:
        return self.error(url, f"no answer within {self.timeout:g} s; check network reachability of the KMS endpoint")

    def json_body(self, url: str, answer: Answer, field: str) -> str:
        """The string `field` of a successful JSON answer."""
        body = answer.json()
        value = body.get(field) if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise self.error(url, f"the answer has no `{field}`; {HINT_UNEXPECTED}")
        return value


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    if isinstance(reason, str):
        return reason
    return type(reason).__name__


class TokenCache:
    """One bearer token, reused until shortly before it expires; thread safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0

    def get(self, fetch: Callable[[], tuple[str, float]]) -> str:
        """The cached token, or a new one from `fetch` (token and lifetime in seconds)."""
        with self._lock:
            if self._token is not None and time.monotonic() < self._renew_at:
                return self._token
            token, lifetime = fetch()
            self._token = token
            self._renew_at = time.monotonic() + max(0.0, lifetime - RENEW_BEFORE_SECONDS)
            return token


def expires_in(body: Mapping[str, Any]) -> float:
    """An OAuth `expires_in`, sent as a number by some endpoints and as a string by others."""
    value = body.get("expires_in")
    if isinstance(value, bool):
        return 300.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return 300.0
