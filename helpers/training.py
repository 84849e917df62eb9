"""Training plumbing shared by every notebook that trains: input pipelines and resumable fits.

``fit_resumable`` checkpoints each epoch (``EpochCheckpoint``) and keeps the loss curves in
a JSON file, so a run killed part-way continues from its last finished epoch when started
again. Taught in ``02_audio_autoencoder.ipynb``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from helpers.artifacts import read_json, save_json
from helpers.config import Paths, Preset, source_tag
from helpers.errors import ArtifactError


def make_dataset(
    arrays: np.ndarray | tuple[np.ndarray, ...], batch_size: int, seed: int, shuffle: bool = True
) -> tf.data.Dataset:
    """A batched, prefetched ``tf.data`` pipeline over in-memory arrays (seeded shuffle)."""
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    if shuffle:
        n = len(arrays[0]) if isinstance(arrays, tuple) else len(arrays)
        dataset = dataset.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _as_input(array: np.ndarray) -> np.ndarray:
    """Token ids stay integers (int32); everything else becomes float32."""
    array = np.asarray(array)
    return array.astype(np.int32) if np.issubdtype(array.dtype, np.integer) else array.astype(np.float32)


def fresh_partner_dataset(
    clips: np.ndarray,
    digits: np.ndarray,
    images: np.ndarray,
    image_labels: np.ndarray,
    batch_size: int,
    seed: int,
) -> tf.data.Dataset:
    """Batches of ``(clip features, image)`` where each clip meets a new image of its digit
    every epoch (drawn uniformly, seeded, different each pass over the data); the other
    pairing, a fixed partner per clip, is ``datasets.pair_by_digit``. Token ids work as
    either side (``06_token_transformer.ipynb`` pairs token grids of the two modalities
    this way). Taught in ``05_paired_generation.ipynb``."""
    from helpers.datasets import images_by_digit

    table = images_by_digit(image_labels, digits)
    n_digits = max(table) + 1
    counts = np.zeros(n_digits, np.int64)
    padded = np.zeros((n_digits, max(len(v) for v in table.values())), np.int64)
    for digit, positions in table.items():
        counts[digit], padded[digit, : len(positions)] = len(positions), positions
    counts_t, padded_t = tf.constant(counts), tf.constant(padded)
    images_t = tf.constant(_as_input(images))

    def with_partner(element: tuple[tf.Tensor, tf.Tensor], draw: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        clip, digit = element
        position = padded_t[digit, tf.math.floormod(draw, counts_t[digit])]
        return clip, tf.gather(images_t, position)

    pairs = tf.data.Dataset.from_tensor_slices((_as_input(clips), np.asarray(digits, np.int64)))
    draws = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    data = tf.data.Dataset.zip((pairs, draws)).map(with_partner, num_parallel_calls=tf.data.AUTOTUNE)
    return (
        data.shuffle(len(clips), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


class JsonHistory(keras.callbacks.Callback):
    """Writes the loss curves to a JSON file after every epoch, appending when training resumes."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.history: dict[str, list[float]] = {}

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.history, self._trimmed = {}, False
        if self.path.is_file():
            try:
                self.history = json.loads(self.path.read_text())
            except json.JSONDecodeError as exc:
                raise ArtifactError(f"{self.path} is not valid JSON ({exc}): delete it and rerun.") from exc

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        # The first epoch run tells where training resumed (0 for a fresh run): keep only
        # the logged epochs before it. A history written just before a crash, one epoch
        # ahead of the checkpoint, is thus trimmed back to match.
        if not self._trimmed:
            keep = [i for i, logged in enumerate(self.history.get("epoch", [])) if logged < epoch]
            self.history = {key: [values[i] for i in keep] for key, values in self.history.items()}
            self._trimmed = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in {"epoch": epoch, **(logs or {})}.items():
            self.history.setdefault(key, []).append(float(value))
        save_json(self.path, self.history)


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves the model's weights and optimizer state after every epoch; restores them when
    training starts again, so ``fit`` continues after the last saved epoch.

    Each epoch's weights go to a new ``epoch-<n>.weights.h5`` (written under a temporary
    name, then renamed); ``state.json``, which names that file and the epoch, is replaced
    next in one atomic rename, the commit point; older weights files are deleted last. A run
    killed at any moment, even during a save, therefore leaves a checkpoint that loads. The
    same on every Keras version (``BackupAndRestore`` gained this only in later releases).
    The folder is removed when training completes.
    """

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        self.folder = Path(folder)

    @property
    def state_path(self) -> Path:
        return self.folder / "state.json"

    def on_train_begin(self, logs: dict | None = None) -> None:
        if not self.state_path.is_file():
            return
        fix = f"delete {self.folder} to start training afresh"
        state = read_json(self.state_path, fix, fix)
        weights = self.folder / str(state.get("weights", "")) if isinstance(state, dict) else None
        if weights is None or not weights.is_file() or not isinstance(state.get("epoch"), int):
            raise ArtifactError(f"{self.state_path} names no saved epoch: {fix}.")
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(weights)
        self.model._initial_epoch = state["epoch"]  # what Keras's fit reads to start later

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{epoch + 1}.weights.h5"
        staging = self.folder / f"writing-{name}"  # Keras wants the .weights.h5 ending
        self.model.save_weights(staging, overwrite=True)
        os.replace(staging, self.folder / name)
        save_json(self.state_path, {"epoch": epoch + 1, "weights": name})
        for old in self.folder.glob("*.weights.h5"):
            if old.name != name:
                old.unlink()

    def on_train_end(self, logs: dict | None = None) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class PrintEvery(keras.callbacks.Callback):
    """Prints one line of logs every ``every`` epochs (and the last), instead of every epoch."""

    def __init__(self, every: int, total: int) -> None:
        super().__init__()
        self.every, self.total = every, total

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.total:
            shown = "  ".join(f"{key} {value:.4f}" for key, value in (logs or {}).items())
            print(f"epoch {epoch + 1}/{self.total}  {shown}", flush=True)


def run_dir(paths: Paths, name: str, preset: Preset, source: str) -> Path:
    """Checkpoint folder for one training run: ``<outputs>/training/<name>-<preset>-<source>-<hash>``.

    The hash covers the whole preset, so a changed model size or budget (or seed) never
    resumes from another configuration's checkpoint.
    """
    digest = hashlib.sha256(repr(preset).encode()).hexdigest()[:8]
    return paths.outputs / "training" / f"{name}-{preset.name}-{source_tag(source)}-{digest}"


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Batches in one pass over ``n_examples`` (the last one may be partial)."""
    return -(-n_examples // batch_size)


def fit_resumable(
    model: keras.Model,
    data: tf.data.Dataset,
    epochs: int,
    work_dir: str | Path,
    validation_data: tf.data.Dataset | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    verbose: int | str = 2,
) -> dict[str, list[float]]:
    """Train ``model`` for ``epochs`` in total, resuming from ``work_dir`` if a run was cut short.

    ``work_dir/backup`` holds the per-epoch checkpoint (``EpochCheckpoint``: weights,
    optimizer state and epoch, committed atomically); it is removed when training completes.
    ``work_dir/history.json`` keeps every epoch's logs. Returns the full history, earlier runs included.
    """
    work_dir = Path(work_dir)
    history = JsonHistory(work_dir / "history.json")
    backup = EpochCheckpoint(work_dir / "backup")
    model._initial_epoch = None  # Keras keeps a restored epoch on the model; start clean
    try:
        model.fit(
            data,
            epochs=epochs,
            validation_data=validation_data,
            # the history is written before the checkpoint, so a resume never lacks an epoch
            callbacks=[history, backup, *(callbacks or [])],
            shuffle=False,  # the tf.data pipeline shuffles, seeded
            verbose=verbose,
        )
    except ValueError as exc:
        if (work_dir / "backup").exists() and "shape" in str(exc).lower():
            raise ArtifactError(
                f"the checkpoint in {work_dir / 'backup'} does not fit this model ({exc}): delete that "
                "folder to start training afresh."
            ) from exc
        raise
    finally:
        model._initial_epoch = None
    return history.history
