"""Feature streams: audio files decoded in parallel through ``tf.data`` and kept on disk.

The in-memory path of ``features.prepare_features`` holds every clip at once; this one
holds a few batches, whatever the size of the source. A split is one folder written by
``tf.data.Dataset.save`` (``train.tfdata``, ``test.tfdata``) whose records hold the dB
spectrogram (not normalised), the clip, the digit, the speaker and the file name.
Normalisation is applied while reading, so its statistics can be fitted in one pass
over the written training split. Taught in ``01_preprocess.ipynb``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from helpers.artifacts import atomic_folder
from helpers.audio import NormStats, fit_norm_stats_batches, load_clip, log_spectrogram
from helpers.config import FrontEnd
from helpers.datasets import AudioCatalog
from helpers.errors import A2IError, ArtifactError

RECORD_SUFFIX = ".tfdata"
REBUILD = "delete it and rerun notebooks/01_preprocess.ipynb"


def decode_records(catalog: AudioCatalog, front_end: FrontEnd, bad: dict[int, str]) -> tf.data.Dataset:
    """Records of every readable file of ``catalog``, in its order, decoded on parallel threads.

    Each record is ``{"spectrogram_db": (n_freq, n_frames), "clip": (clip_samples,),
    "digit", "speaker", "file"}``. A file that cannot be read is left out and its
    message (naming the file) stored in ``bad`` under its position in ``catalog``.
    """
    empty_spectrogram = np.zeros((front_end.n_freq, front_end.n_frames), np.float32)
    empty_clip = np.zeros(front_end.clip_samples, np.float32)

    def decode(position: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        path = catalog.paths[int(position)]
        try:
            clip = load_clip(path, front_end)
        except Exception as exc:  # any error raised inside tf.data would stop the save naming no file
            named = isinstance(exc, A2IError)  # the project's errors already name the file and the fix
            bad[int(position)] = str(exc) if named else f"{path}: could not be decoded ({exc!r})"
            return empty_spectrogram, empty_clip, np.False_
        return log_spectrogram(clip, front_end), clip, np.True_

    def with_audio(element: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        spectrogram, clip, ok = tf.numpy_function(
            decode, [element.pop("position")], [tf.float32, tf.float32, tf.bool], stateful=False
        )
        spectrogram.set_shape(empty_spectrogram.shape)
        clip.set_shape(empty_clip.shape)
        ok.set_shape(())
        return {**element, "spectrogram_db": spectrogram, "clip": clip, "ok": ok}

    metadata = tf.data.Dataset.from_tensor_slices(
        {
            "position": np.arange(len(catalog), dtype=np.int64),
            "digit": np.asarray(catalog.digits, np.int64),
            "speaker": np.asarray(catalog.speakers, str),
            "file": np.array([path.name for path in catalog.paths], dtype=str),
        }
    )
    decoded = metadata.map(with_audio, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return decoded.filter(lambda record: record["ok"]).map(
        lambda record: {key: value for key, value in record.items() if key != "ok"}
    )


def split_folder(folder: str | Path, name: str) -> Path:
    """Where a feature folder keeps the streamed split ``name``: ``<folder>/<name>.tfdata``."""
    return Path(folder) / f"{name}{RECORD_SUFFIX}"


def write_records(records: tf.data.Dataset, path: str | Path) -> Path:
    """Save ``records`` as the folder ``path``, atomically; one shard, so reading keeps the order."""
    path = Path(path)
    with atomic_folder(path) as staging:
        records.save(str(staging), shard_func=lambda record: tf.constant(0, tf.int64))
    return path


def read_records(path: str | Path) -> tf.data.Dataset:
    """The records saved by ``write_records`` in ``path``, read from disk as they are consumed."""
    path = Path(path)
    if not (path / "dataset_spec.pb").is_file():
        raise ArtifactError(f"{path} is missing or incomplete: {REBUILD}.")
    return tf.data.Dataset.load(str(path))


def stream_norm_stats(records: tf.data.Dataset, batch_size: int = 64) -> NormStats:
    """``NormStats`` of the records' dB spectrograms in one pass, a batch in memory at a time."""
    spectrograms = records.map(lambda record: record["spectrogram_db"]).batch(batch_size)
    return fit_norm_stats_batches(batch for batch in spectrograms.as_numpy_iterator())


def _normaliser(stats: NormStats):
    """``(x - mean) / std`` per frequency row in float64, cast to float32, with a channel axis:
    the same arithmetic as ``audio.normalise``, so streamed and in-memory features agree."""
    mean = tf.constant(stats.mean_db[:, None], tf.float64)
    std = tf.constant(stats.std_db[:, None], tf.float64)

    def normalise(spectrogram_db: tf.Tensor) -> tf.Tensor:
        return tf.cast((tf.cast(spectrogram_db, tf.float64) - mean) / std, tf.float32)[..., None]

    return normalise


def normalised_spectrograms(records: tf.data.Dataset, stats: NormStats) -> tf.data.Dataset:
    """Each record's spectrogram normalised with ``stats``, ``(n_freq, n_frames, 1)`` float32."""
    normalise = _normaliser(stats)
    return records.map(
        lambda record: normalise(record["spectrogram_db"]), num_parallel_calls=tf.data.AUTOTUNE
    )


def records_to_arrays(
    path: str | Path, stats: NormStats, positions: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """The records in ``path`` (all, or those at ``positions``) as arrays: normalised
    ``spectrograms`` ``(n, n_freq, n_frames, 1)``, ``clips``, ``digits``, ``speakers``, ``files``."""
    records = read_records(path)
    if positions is not None:
        keep = tf.constant(np.asarray(positions, np.int64))
        records = (
            records.enumerate().filter(lambda i, _: tf.reduce_any(tf.equal(keep, i))).map(lambda _, r: r)
        )
    columns: dict[str, list[np.ndarray]] = {
        "spectrograms": [],
        "clips": [],
        "digits": [],
        "speakers": [],
        "files": [],
    }
    normalise = _normaliser(stats)
    batches = records.map(
        lambda record: {**record, "spectrogram": normalise(record["spectrogram_db"])}
    ).batch(256)
    try:
        for record in batches.as_numpy_iterator():
            columns["spectrograms"].append(record["spectrogram"])
            columns["clips"].append(record["clip"])
            columns["digits"].append(record["digit"])
            columns["speakers"].append(record["speaker"].astype(str))
            columns["files"].append(record["file"].astype(str))
    except tf.errors.OpError as exc:
        raise ArtifactError(
            f"{path} is unreadable ({type(exc).__name__}: {exc.message}): {REBUILD}."
        ) from exc
    if not columns["clips"]:
        raise ArtifactError(f"{path} holds no records: {REBUILD}.")
    return {key: np.concatenate(parts) for key, parts in columns.items()}
