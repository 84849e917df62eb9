"""Training plumbing shared by every notebook that trains: input pipelines and resumable fits.

``fit_resumable`` checkpoints each epoch with ``keras.callbacks.BackupAndRestore`` and
keeps the loss curves in a JSON file, so a run killed part-way continues from its last
finished epoch when started again. Taught in ``02_audio_autoencoder.ipynb``.
"""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from helpers.artifacts import save_json


def make_dataset(
    arrays: np.ndarray | tuple[np.ndarray, ...], batch_size: int, seed: int, shuffle: bool = True
) -> tf.data.Dataset:
    """A batched, prefetched ``tf.data`` pipeline over in-memory arrays (seeded shuffle)."""
    dataset = tf.data.Dataset.from_tensor_slices(arrays)
    if shuffle:
        n = len(arrays[0]) if isinstance(arrays, tuple) else len(arrays)
        dataset = dataset.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


class JsonHistory(keras.callbacks.Callback):
    """Writes the loss curves to a JSON file after every epoch, appending when training resumes."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.history: dict[str, list[float]] = {}

    def on_train_begin(self, logs: dict | None = None) -> None:
        # BackupAndRestore (earlier in the callback list) has set the epoch to resume from;
        # keep only the logged epochs before it, so a fresh run starts a fresh history.
        resume_epoch = getattr(self.model, "_initial_epoch", None) or 0
        saved = json.loads(self.path.read_text()) if self.path.is_file() else {}
        keep = [i for i, epoch in enumerate(saved.get("epoch", [])) if epoch < resume_epoch]
        self.history = {key: [values[i] for i in keep] for key, values in saved.items()}

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in {"epoch": epoch, **(logs or {})}.items():
            self.history.setdefault(key, []).append(float(value))
        save_json(self.path, self.history)


class PrintEvery(keras.callbacks.Callback):
    """Prints one line of logs every ``every`` epochs (and the last), instead of every epoch."""

    def __init__(self, every: int, total: int) -> None:
        super().__init__()
        self.every, self.total = every, total

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every == 0 or epoch + 1 == self.total:
            shown = "  ".join(f"{key} {value:.4f}" for key, value in (logs or {}).items())
            print(f"epoch {epoch + 1}/{self.total}  {shown}", flush=True)


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

    ``work_dir/backup`` holds the per-epoch checkpoint (weights, optimizer state and
    epoch; two generations, so a kill during a save falls back to the previous one);
    it is removed when training completes. ``work_dir/history.json`` keeps every
    epoch's logs. Returns the full history, earlier runs included.
    """
    work_dir = Path(work_dir)
    history = JsonHistory(work_dir / "history.json")
    backup = keras.callbacks.BackupAndRestore(str(work_dir / "backup"), double_checkpoint=True)
    model.fit(
        data,
        epochs=epochs,
        validation_data=validation_data,
        callbacks=[backup, history, *(callbacks or [])],
        shuffle=False,  # the tf.data pipeline shuffles, seeded
        verbose=verbose,
    )
    return history.history
