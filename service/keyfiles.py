"""Secrets this service makes for itself on first start (signing keys, the card-memory key).

One way to make them, because every worker may start at the same moment: the file is created
with ``O_EXCL`` and mode 0600 by exactly one process, and the others read what it wrote (waiting
briefly if they arrive between its creation and its write).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


def private_file(path: Path, make: Callable[[], bytes], ready: Callable[[bytes], bool] = bool) -> bytes:
    """The content of ``path``, created by ``make()`` (mode 0600, folder 0700) when it does not exist yet.

    ``ready`` tells a complete file from one another process is still writing.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first; use theirs
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(make())
    content = path.read_bytes()
    for _ in range(50):  # another process may be between creating and writing it
        if ready(content):
            return content
        time.sleep(0.01)
        content = path.read_bytes()
    raise ValueError(f"{path}: empty or incomplete; delete it to make a new one")

