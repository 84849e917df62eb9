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
from collections.abc import Callable, Iterator, Mapping
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


RECIPE_ATTRIBUTE = "_a2i_recipe"
PROBE_SEED = 0  # the seeded inputs each saved model's outputs are recorded on
PROBE_TOLERANCE = 1e-3  # largest difference in a probe, relative to its root mean square


def remember_recipe(model, builder: str, **args: object):
    """Note on ``model`` how to build it again: a builder's name and its JSON arguments.

    The project's builders call this on what they return, so a bundle stores the recipe
    (``config.json``) and the weights (``.weights.h5``) rather than Keras's own description
    of every layer, which a Keras release may write in a form older releases cannot read.
    Taught in ``02_audio_autoencoder.ipynb``.
    """
    setattr(model, RECIPE_ATTRIBUTE, json.dumps({"builder": builder, "args": args}))
    return model


def model_recipe(model) -> dict:
    """The recipe ``remember_recipe`` put on ``model``; a model built otherwise cannot be saved."""
    recipe = getattr(model, RECIPE_ATTRIBUTE, None)
    if recipe is None:
        raise ValueError(  # a programming error, not a bad file
            f"model {model.name!r} was not made by one of the project's builders, so a bundle could not "
            "rebuild it: build it with the helpers.models function that teaches it"
        )
    return json.loads(recipe)


def build_from_recipe(recipe: dict, builders: Mapping[str, Callable]):
    """The untrained model ``recipe`` describes, made by the builder it names among ``builders``
    (a ``KeyError`` for a builder not there, ``TypeError`` for arguments it does not take)."""
    return builders[recipe["builder"]](**recipe["args"])


def copy_model(model, builders: Mapping[str, Callable]):
    """A copy of ``model`` rebuilt from its recipe by one of ``builders`` (so that the copy, too,
    can be saved in a bundle), holding the same weights in its own variables."""
    copy = build_from_recipe(model_recipe(model), builders)
    copy.set_weights(model.get_weights())
    return copy


def _for_inference(model):
    """``model`` without its optimizer: a compiled model would save Adam's two moment
    estimates too, tripling the file for nothing a loaded model uses (training resumes
    from checkpoints, not from bundles). A functional model is rewrapped around the same
    layers; other models are saved as they are."""
    import keras

    if getattr(model, "optimizer", None) is None or type(model).__name__ != "Functional":
        return model
    return keras.Model(model.inputs, model.outputs, name=model.name)


def model_probe(model, size: int = 8) -> list[float]:
    """A fingerprint of what ``model`` computes: its outputs (inference mode) for two seeded
    normal inputs, projected on ``size`` seeded random directions. A model whose weights or
    layers differ in any way gives other numbers."""
    import keras

    rng = np.random.default_rng(PROBE_SEED)
    inputs = [rng.standard_normal((2, *tensor.shape[1:])).astype(np.float32) for tensor in model.inputs]
    outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    flat = np.concatenate([np.ravel(keras.ops.convert_to_numpy(output)) for output in outputs])
    directions = rng.standard_normal((flat.size, size)) / np.sqrt(flat.size)
    return (flat.astype(np.float64) @ directions).tolist()


def _keras_version() -> str:
    import keras

    return keras.__version__


def save_model_bundle(folder: str | Path, models: dict, config: dict) -> Path:
    """Save Keras models (weights only, for inference: no optimizer state) and their
    ``config.json`` so that a crash never mixes two versions.

    Each model's weights go to a new file ``<name>.<token>.weights.h5``; then ``config.json``,
    which names those files with their SHA-256, each model's recipe (``remember_recipe``) and
    probe (``model_probe``), replaces the old one in a single atomic rename (the commit point);
    only then are files of the previous version deleted. An interrupted save therefore leaves
    the previous bundle loadable. Any Keras the requirements allow reads the bundle: the
    project's builders rebuild each model and Keras loads only its weights.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    recipes = {name: model_recipe(model) for name, model in models.items()}
    files, hashes, probes = {}, {}, {}
    try:
        for name, model in models.items():
            filename = f"{name}.{token}.weights.h5"
            staging = folder / f".writing.{filename}"  # Keras insists on the .weights.h5 ending
            try:
                _for_inference(model).save_weights(staging)
                os.chmod(staging, 0o666 & ~_UMASK)
                os.replace(staging, folder / filename)
            finally:
                staging.unlink(missing_ok=True)
            files[name], hashes[name] = filename, file_sha256(folder / filename)
            probes[name] = model_probe(model)
        bundle = {"keras_version": _keras_version(), "recipes": recipes, "probes": probes}
        save_json(folder / "config.json", {**config, **bundle, "files": files, "sha256": hashes})
    except BaseException:
        for filename in files.values():  # only this save's own files; the previous bundle stays
            (folder / filename).unlink(missing_ok=True)
        raise
    for stale in [*folder.glob("*.keras"), *folder.glob("*.weights.h5")]:
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


def _rebuild(recipe: object, builders: Mapping[str, Callable], path: Path, notebook: str):
    """The untrained model a recipe describes, built by one of ``builders``."""
    if (
        not isinstance(recipe, dict)
        or not isinstance(recipe.get("builder"), str)
        or recipe["builder"] not in builders
        or not isinstance(recipe.get("args"), dict)
    ):
        raise ArtifactError(
            f"{path}: config.json describes the model with {recipe!r}, which no builder here makes "
            f"(a newer version of the project, or an edited file): update the project or rerun "
            f"notebooks/{notebook}."
        )
    try:
        return build_from_recipe(recipe, builders)
    except (TypeError, ValueError, KeyError) as exc:
        raise ArtifactError(
            f"{path}: the model described in config.json could not be built ({exc}): rerun "
            f"notebooks/{notebook}."
        ) from exc


def _check_probe(model, saved: object, config: dict, path: Path, notebook: str) -> None:
    """``model`` must compute what it computed when saved (``model_probe``)."""
    if saved is None:
        return
    got, saved = np.asarray(model_probe(model, len(saved))), np.asarray(saved, dtype=np.float64)
    scale = float(np.sqrt(np.mean(saved**2))) + 1e-6
    if got.shape != saved.shape or not np.all(np.abs(got - saved) <= PROBE_TOLERANCE * scale):
        raise ArtifactError(
            f"{path} loads, but the model computes other outputs than when it was saved (saved with Keras "
            f"{config.get('keras_version', '?')}, loaded with Keras {_keras_version()}): install the "
            f"versions in requirements.txt, or rerun notebooks/{notebook}."
        )


def load_model_bundle(
    folder: str | Path, notebook: str, builders: Mapping[str, Callable] | None = None
) -> tuple[dict, dict]:
    """Load the models a ``config.json`` names, after checking each file's SHA-256.

    Each model is rebuilt by the builder its recipe names (one of ``builders``), its weights
    are loaded, and its outputs are checked against the probe saved with it, so a Keras
    that read the weights differently is caught here rather than in a wrong result. Bundles
    saved before recipes existed (whole-model ``.keras`` files) load in Keras safe mode (no
    arbitrary code), uncompiled, where this Keras can read them.
    """
    import keras  # imported here so that audio-only code never pays for TensorFlow

    folder = Path(folder)
    config = load_bundle_config(folder, notebook)
    recipes, probes = config.get("recipes") or {}, config.get("probes") or {}
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
        if str(filename).endswith(".keras"):
            try:
                models[name] = keras.saving.load_model(path, compile=False, safe_mode=True)
            except Exception as exc:  # zip, HDF5 and deserialisation errors
                raise ArtifactError(
                    f"{path} could not be loaded ({exc}): a whole-model file from an older version of the "
                    f"project, readable only by the Keras that wrote it; rerun notebooks/{notebook}."
                ) from exc
            continue
        model = _rebuild(recipes.get(name), builders or {}, folder / "config.json", notebook)
        try:
            model.load_weights(path)
        except Exception as exc:  # HDF5 errors, or weights of another shape
            raise ArtifactError(
                f"{path} could not be loaded into the model its recipe builds ({exc}): rerun "
                f"notebooks/{notebook}."
            ) from exc
        _check_probe(model, probes.get(name), config, path, notebook)
        models[name] = model
    return models, config
