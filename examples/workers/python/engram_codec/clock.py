"""The writer's clock, which decides which data key seals (docs/payload-format.md).

It is the system clock unless a test moves it, exactly as the Rust codec's clock: `ENGRAM_NOW`
(RFC 3339) fixes it, and `ENGRAM_NOW_FILE` names a file holding an RFC 3339 time that is re-read
on every call, for workers that run through a test's time jumps.
"""

from __future__ import annotations

import os
import time
from datetime import datetime


def _parse(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def now() -> float:
    """Now, in Unix seconds."""
    fixed = os.environ.get("ENGRAM_NOW")
    if fixed and (parsed := _parse(fixed)) is not None:
        return parsed
    path = os.environ.get("ENGRAM_NOW_FILE")
    if path:
        try:
            with open(path, encoding="utf-8") as f:
                parsed = _parse(f.read())
        except OSError:
            parsed = None
        if parsed is not None:
            return parsed
    return time.time()
