"""Atomic writes and model bundles: nothing already saved is lost or half-overwritten.

A file is written under a temporary name and renamed into place; a bundle of Keras
models is committed by replacing its ``config.json``. Taught in ``01_preprocess.ipynb``
(files) and ``02_audio_autoencoder.ipynb`` (bundles).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from helpers.errors import ArtifactError


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


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
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file a normal file's mode
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """Yield an empty staging folder beside ``path``; on success it takes ``path``'s place.

    A previous folder at ``path`` is moved aside and deleted only after the new one is
    in place; on an exception the staging folder is removed and ``path`` is untouched.
    Used for feature streams written by ``tf.data`` (``01_preprocess.ipynb``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    retired = path.with_name(f".{path.name}.old-{uuid.uuid4().hex[:8]}")
    try:
        yield staging
        if path.exists():
            os.replace(path, retired)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(retired, ignore_errors=True)


def to_json(data: object, indent: int = 0) -> str:
    """JSON with one key per line, but each list of numbers (or row of a matrix) on one line."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(data, dict) and data:
        items = [
            f"{inner}{json.dumps(str(key))}: {to_json(value, indent + 1)}" for key, value in data.items()
        ]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(data, list) and data and all(isinstance(item, list) for item in data):
        return "[\n" + ",\n".join(inner + json.dumps(row) for row in data) + f"\n{pad}]"
    if isinstance(data, list) and any(isinstance(item, (dict, list)) for item in data):
        return "[\n" + ",\n".join(inner + to_json(item, indent + 1) for item in data) + f"\n{pad}]"
    return json.dumps(data)


def rounded(summary: dict, digits: int = 4) -> dict:
    """``summary`` with every float rounded to ``digits`` places, for printing and benchmark JSON."""
    return {
        key: round(value, digits) if isinstance(value, float) else value for key, value in summary.items()
    }


def save_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` as readable JSON (see ``to_json``), atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(to_json(data) + "\n")
    return Path(path)


def save_arrays(path: str | Path, **arrays: np.ndarray) -> Path:
    """Write arrays to an ``.npz`` file atomically; object arrays (which need pickle) are refused."""
    for name, array in arrays.items():
        if np.asarray(array).dtype == object:
            raise ValueError(f"array {name!r} has dtype object, which only pickle can store")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    return Path(path)


def save_array(path: str | Path, array: np.ndarray) -> Path:
    """Write one array to a ``.npy`` file atomically (numeric dtypes only: no pickle)."""
    array = np.asarray(array)
    if array.dtype == object:
        raise ValueError(f"{path}: dtype object needs pickle, which artifacts never use")
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    return Path(path)


def load_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Read an ``.npz`` written by ``save_arrays`` with pickle disabled."""
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _for_inference(model):
    """``model`` without its optimizer: a compiled model would save Adam's two moment
    estimates too, tripling the file for nothing a loaded model uses (training resumes
    from checkpoints, not from bundles). A functional model is rewrapped around the same
    layers; other models are saved as they are."""
    import keras

    if getattr(model, "optimizer", None) is None or type(model).__name__ != "Functional":
        return model
    return keras.Model(model.inputs, model.outputs, name=model.name)


def save_model_bundle(folder: str | Path, models: dict, config: dict) -> Path:
    """Save Keras models (for inference: no optimizer state) and their ``config.json`` so
    that a crash never mixes two versions.

    Each model goes to a new file ``<name>.<token>.keras``; then ``config.json``, which
    names those files with their SHA-256, replaces the old one in a single atomic
    rename (the commit point); only then are files of the previous version deleted.
    An interrupted save therefore leaves the previous bundle loadable.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    files, hashes = {}, {}
    try:
        for name, model in models.items():
            filename = f"{name}.{token}.keras"
            with atomic_path(folder / filename) as tmp:
                _for_inference(model).save(tmp)
            files[name], hashes[name] = filename, file_sha256(folder / filename)
        save_json(folder / "config.json", {**config, "files": files, "sha256": hashes})
    except BaseException:
        for filename in files.values():  # only this save's own files; the previous bundle stays
            (folder / filename).unlink(missing_ok=True)
        raise
    for stale in folder.glob("*.keras"):
        if stale.name not in files.values():
            stale.unlink()
    return folder


def read_json(path: str | Path, make: str, remake: str) -> object:
    """The JSON in ``path``; a missing file or broken JSON is an ``ArtifactError`` naming the file
    and the fix: ``make`` (what creates it) or ``remake`` (what rewrites it)."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: {make}.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{path} is not valid JSON ({exc}): {remake}.") from exc


def load_bundle_config(folder: str | Path, notebook: str) -> dict:
    """Read and check ``config.json`` of a bundle; errors name the file and ``notebook`` to rerun."""
    path = Path(folder) / "config.json"
    make, remake = f"run notebooks/{notebook} to train and save the model", f"rerun notebooks/{notebook}"
    config = read_json(path, make, remake)
    if not isinstance(config, dict) or not isinstance(config.get("files"), dict):
        raise ArtifactError(f"{path} lists no model files: rerun notebooks/{notebook}.")
    return config


def load_model_bundle(folder: str | Path, notebook: str) -> tuple[dict, dict]:
    """Load the models a ``config.json`` names, after checking each file's SHA-256.

    Models load in Keras safe mode (no arbitrary code), uncompiled.
    """
    import keras  # imported here so that audio-only code never pays for TensorFlow

    folder = Path(folder)
    config = load_bundle_config(folder, notebook)
    models = {}
    for name, filename in config["files"].items():
        path = folder / filename
        if not path.is_file():
            raise ArtifactError(f"{path} is missing (named in config.json): rerun notebooks/{notebook}.")
        if file_sha256(path) != config.get("sha256", {}).get(name):
            raise ArtifactError(
                f"{path} does not match the checksum in config.json (truncated or replaced): "
                f"rerun notebooks/{notebook}."
            )
        try:
            models[name] = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as exc:  # zip, HDF5 and deserialisation errors
            raise ArtifactError(f"{path} could not be loaded ({exc}): rerun notebooks/{notebook}.") from exc
    return models, config
