"""Feature sets on disk: normalised spectrograms and clips per split, plus their stats.

``01_preprocess.ipynb`` writes them; later notebooks read them with ``load_split`` (into
memory) or ``open_split`` (a streamed split stays on disk). A feature folder holds
``stats.json``, ``features.json`` and per split either ``<split>.npz`` (the in-memory
path, for the embedded sample) or ``<split>.tfdata`` (the streaming path, for folder
sources: see ``helpers/streaming.py`` and ``config.streams_features``).
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from helpers import streaming
from helpers.artifacts import load_arrays, save_arrays, save_json
from helpers.audio import (
    NormStats,
    fit_norm_stats,
    load_clip,
    load_norm_stats,
    log_spectrogram,
    normalise,
    save_norm_stats,
)
from helpers.config import FrontEnd, Paths, Preset, source_tag, streams_features
from helpers.datasets import AudioCatalog, audio_catalog, limit_speakers, split_by_speaker
from helpers.errors import A2IError, ArtifactError, ConfigError
from helpers.training import make_dataset

SPLITS = ("train", "test")
SHUFFLE_BUFFER = 2048  # records a streamed split holds for shuffling (about 130 MB of spectrograms)
SAMPLE_CLIPS = 4000  # clips of a streamed split that plots and evaluations read into memory


@dataclass(frozen=True)
class FeatureSplit:
    """One split: normalised spectrograms ``(n, n_freq, n_frames, 1)`` and raw clips ``(n, samples)``."""

    spectrograms: np.ndarray
    clips: np.ndarray
    digits: np.ndarray
    speakers: np.ndarray
    files: np.ndarray

    def __len__(self) -> int:
        return len(self.clips)


@dataclass(frozen=True)
class StreamedSplit:
    """One split kept on disk (``<split>.tfdata``) and read batch by batch as it is used."""

    path: Path
    stats: NormStats
    size: int

    def __len__(self) -> int:
        return self.size


def features_dir(paths: Paths, preset: Preset, source: str) -> Path:
    """The folder for one preset, audio source and seed (the split depends on all three):
    ``<root>/features/<preset>-<source>-seed<seed>``."""
    return paths.features / f"{preset.name}-{source_tag(source)}-seed{preset.seed}"


def _warn_unreadable(bad: list[str], catalog: AudioCatalog) -> None:
    """One warning that counts and names the unreadable files; an error when nothing was readable."""
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable audio file(s): " + " | ".join(bad), stacklevel=3)
    if len(bad) == len(catalog):
        raise ConfigError(
            f"no readable audio among {len(catalog)} file(s) of {catalog.source} (the warning above "
            "names each file's problem): fix or replace the files, or choose another A2I_AUDIO_SOURCE."
        )


def load_clips(catalog: AudioCatalog, front_end: FrontEnd) -> tuple[np.ndarray, AudioCatalog]:
    """Fixed-length clips ``(n, clip_samples)`` of every readable file in ``catalog``.

    Unreadable files are skipped with one warning that counts and names them; the
    returned catalog lists only the files kept. Fails when none is readable.
    """
    clips, kept, bad = [], [], []
    for i, path in enumerate(catalog.paths):
        try:
            clips.append(load_clip(path, front_end))
            kept.append(i)
        except A2IError as exc:
            bad.append(str(exc))
    _warn_unreadable(bad, catalog)
    return np.stack(clips), catalog.subset(np.array(kept))


def save_split(
    folder: Path, name: str, spectrograms: np.ndarray, clips: np.ndarray, catalog: AudioCatalog
) -> Path:
    """Write one split's normalised spectrograms, clips and labels to ``folder/<name>.npz``."""
    return save_arrays(
        folder / f"{name}.npz",
        spectrograms=spectrograms.astype(np.float32),
        clips=clips.astype(np.float32),
        digits=catalog.digits,
        speakers=catalog.speakers.astype(str),
        files=np.array([p.name for p in catalog.paths]),
    )


def load_split(folder: Path, name: str) -> FeatureSplit:
    """Read a whole split into memory (a streamed one too); a missing or broken file says how
    to rebuild it."""
    folder = Path(folder)
    stream = streaming.split_folder(folder, name)
    if stream.is_dir():
        return FeatureSplit(**streaming.records_to_arrays(stream, load_norm_stats(folder / "stats.json")))
    path = folder / f"{name}.npz"
    if not path.is_file():
        raise ArtifactError(
            f"{path} is missing: run notebooks/01_preprocess.ipynb (same A2I_PRESET, "
            "A2I_AUDIO_SOURCE and A2I_ARTIFACTS) to create it."
        )
    try:
        arrays = load_arrays(path)
        return FeatureSplit(**{key: arrays[key] for key in FeatureSplit.__dataclass_fields__})
    except Exception as exc:  # zipfile, numpy and KeyError all signal a broken file
        raise ArtifactError(
            f"{path} is unreadable ({type(exc).__name__}: {exc}): delete it and rerun "
            "notebooks/01_preprocess.ipynb."
        ) from exc


def open_split(folder: Path, name: str) -> FeatureSplit | StreamedSplit:
    """A split ready to train on: in memory when it was saved as ``.npz``, left on disk
    (a ``StreamedSplit``) when it was streamed. Taught in ``02_audio_autoencoder.ipynb``."""
    folder = Path(folder)
    stream = streaming.split_folder(folder, name)
    if not stream.is_dir():
        return load_split(folder, name)
    size = load_summary(folder).get(f"{name}_clips")
    if not isinstance(size, int):
        raise ArtifactError(
            f"{folder / 'features.json'} does not count the {name} clips: {streaming.REBUILD}."
        )
    return StreamedSplit(stream, load_norm_stats(folder / "stats.json"), size)


def sample_split(
    split: FeatureSplit | StreamedSplit, seed: int, max_clips: int = SAMPLE_CLIPS
) -> FeatureSplit:
    """The split in memory for plots and evaluations: itself when it already is, else (streamed)
    all of it or, when larger, ``max_clips`` drawn with ``seed``. Taught in ``02_audio_autoencoder.ipynb``."""
    if isinstance(split, FeatureSplit):
        return split
    positions = None
    if len(split) > max_clips:
        positions = np.sort(np.random.default_rng(seed).choice(len(split), max_clips, replace=False))
    return FeatureSplit(**streaming.records_to_arrays(split.path, split.stats, positions))


def spectrogram_batches(
    split: FeatureSplit | StreamedSplit, batch_size: int, seed: int, shuffle: bool = True
) -> tf.data.Dataset:
    """Batches of normalised spectrograms ``(batch, n_freq, n_frames, 1)`` from either kind of split.

    A streamed split is read from disk as training consumes it and shuffled through a
    buffer of at most ``SHUFFLE_BUFFER`` records (its training file is written in a
    seeded random order, so a bounded buffer mixes well). Taught in ``02_audio_autoencoder.ipynb``.
    """
    if isinstance(split, FeatureSplit):
        return make_dataset(split.spectrograms, batch_size, seed, shuffle)
    data = streaming.normalised_spectrograms(streaming.read_records(split.path), split.stats)
    if shuffle:
        data = data.shuffle(min(len(split), SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)
    return data.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def load_stats(folder: Path, front_end: FrontEnd) -> NormStats:
    """The normalisation stats of a feature folder, checked against ``front_end``."""
    return load_norm_stats(Path(folder) / "stats.json", front_end)


def has_features(folder: Path) -> bool:
    """Whether ``folder`` holds a finished feature set: ``features.json`` is written last, and a
    new build deletes it first, so a build that stopped part-way never counts as finished."""
    folder = Path(folder)
    test_split = (folder / "test.npz").is_file() or (
        streaming.split_folder(folder, "test") / "dataset_spec.pb"
    ).is_file()
    return test_split and (folder / "features.json").is_file()


def _start_over(folder: Path) -> None:
    """Delete a previous build (summary first, then splits of both formats, stats, and any
    staging folder a killed write left behind), so a folder never mixes two builds."""
    (folder / "features.json").unlink(missing_ok=True)
    for name in SPLITS:
        (folder / f"{name}.npz").unlink(missing_ok=True)
        for stale in (streaming.split_folder(folder, name), *folder.glob(f".{name}.*")):
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
    (folder / "stats.json").unlink(missing_ok=True)


def _arrays_in_memory(
    catalog: AudioCatalog, preset: Preset, folder: Path
) -> tuple[dict[str, AudioCatalog], float]:
    """The in-memory path: every clip loaded, then split, normalised and saved as ``.npz``.
    Returns the files each split kept and the seconds spent loading and computing spectrograms."""
    front_end = preset.front_end
    start = time.perf_counter()
    clips, catalog = load_clips(catalog, front_end)
    spectrograms_db = log_spectrogram(clips, front_end)
    seconds = time.perf_counter() - start
    train, test = split_by_speaker(catalog.speakers, preset.test_fraction, preset.seed)
    stats = fit_norm_stats(spectrograms_db[train])
    save_norm_stats(folder / "stats.json", stats, front_end)
    kept = {}
    for name, index in (("train", train), ("test", test)):
        normalised = normalise(spectrograms_db[index], stats)[..., None]
        kept[name] = catalog.subset(index)
        save_split(folder, name, normalised, clips[index], kept[name])
    return kept, seconds


def _streamed_to_disk(
    catalog: AudioCatalog, preset: Preset, folder: Path
) -> tuple[dict[str, AudioCatalog], float]:
    """The streaming path: split by speaker first, then each split decoded in parallel and
    written by ``tf.data`` (training clips in a seeded random order); stats in one pass.
    Returns the files each split kept, in written order, and the seconds the whole took."""
    front_end = preset.front_end
    train, test = split_by_speaker(catalog.speakers, preset.test_fraction, preset.seed)
    order = {"train": np.random.default_rng(preset.seed).permutation(train), "test": test}
    kept, messages = {}, []
    start = time.perf_counter()
    for name in SPLITS:
        split = catalog.subset(order[name])
        bad: dict[int, str] = {}  # filled by the decoding threads, keyed by position in ``split``
        streaming.write_records(
            streaming.decode_records(split, front_end, bad), streaming.split_folder(folder, name)
        )
        messages += [bad[position] for position in sorted(bad)]
        kept[name] = split.subset(np.array([i for i in range(len(split)) if i not in bad], dtype=np.int64))
        if len(kept[name]) == 0:
            _start_over(folder)
            _warn_unreadable(messages, catalog)
            raise ConfigError(
                f"none of the {len(split)} {name} file(s) of {catalog.source} is readable (the "
                "warning above names each file's problem): fix or remove the unreadable files, or "
                "add more speakers (the split holds whole speakers out before files are read)."
            )
        if name == "train":
            records = streaming.read_records(streaming.split_folder(folder, "train"))
            save_norm_stats(folder / "stats.json", streaming.stream_norm_stats(records), front_end)
    _warn_unreadable(messages, catalog)
    return kept, time.perf_counter() - start


def prepare_features(
    catalog: AudioCatalog, preset: Preset, folder: Path, streaming_path: bool | None = None
) -> dict:
    """The whole of ``01_preprocess.ipynb``'s feature step in one call; returns a summary.

    Limits speakers as the preset says, splits by speaker, computes dB spectrograms,
    fits stats on train only and saves everything. ``streaming_path`` picks how: ``False``
    loads every clip into memory and saves ``.npz`` files, ``True`` streams through
    ``tf.data`` and saves ``.tfdata`` folders (memory stays bounded), ``None`` asks
    ``config.streams_features`` (folder sources stream, the embedded sample does not).
    """
    front_end = preset.front_end
    catalog = limit_speakers(catalog, preset.max_voices, preset.seed)
    if streaming_path is None:
        streaming_path = streams_features(catalog.source)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _start_over(folder)
    build = _streamed_to_disk if streaming_path else _arrays_in_memory
    kept, seconds = build(catalog, preset, folder)
    summary = {
        "preset": preset.name,
        "source": catalog.source,
        "format": "stream" if streaming_path else "arrays",
        "clips": len(kept["train"]) + len(kept["test"]),
        "train_clips": len(kept["train"]),
        "test_clips": len(kept["test"]),
        "train_speakers": sorted(set(kept["train"].speakers.tolist())),
        "test_speakers": sorted(set(kept["test"].speakers.tolist())),
        "extract_seconds": round(seconds, 3),
        "spectrogram_shape": [front_end.n_freq, front_end.n_frames, 1],
    }
    save_json(folder / "features.json", summary)
    return summary


def ensure_features(paths: Paths, preset: Preset, source: str, announce: bool = True) -> Path:
    """The feature folder for this preset and source, built first (as ``01_preprocess.ipynb``
    does) when it holds no test split yet; ``announce`` says so on stdout."""
    folder = features_dir(paths, preset, source)
    if not has_features(folder):
        if announce:
            print(f"no features in {folder} yet: building them as 01_preprocess.ipynb does")
        prepare_features(audio_catalog(source, paths), preset, folder)
    return folder


def load_summary(folder: Path) -> dict:
    """The ``features.json`` summary written by ``prepare_features``."""
    path = Path(folder) / "features.json"
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: run notebooks/01_preprocess.ipynb first.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(
            f"{path} is not valid JSON ({exc}): rerun notebooks/01_preprocess.ipynb."
        ) from exc
