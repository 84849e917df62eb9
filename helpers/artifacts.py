"""Atomic writes: a file is written under a temporary name and renamed into place.

An interrupted save therefore leaves the previous file intact. Taught in
``01_preprocess.ipynb``; later notebooks save models through the same helpers.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    The temporary name keeps ``path``'s suffix so writers that pick a format from
    the extension (soundfile, PIL, Keras) still work. On an exception the
    temporary file is removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=1) + "\n")
    return Path(path)


def save_arrays(path: str | Path, **arrays: np.ndarray) -> Path:
    """Write arrays to an ``.npz`` file atomically (no object arrays: loads without pickle)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    return Path(path)


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read an ``.npz`` written by ``save_arrays`` with pickle disabled."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}
