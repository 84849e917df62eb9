"""Feature sets on disk: normalised spectrograms and clips per split, plus their stats.

``01_preprocess.ipynb`` writes them; later notebooks read them with ``load_split``.
A feature folder holds ``train.npz``, ``test.npz``, ``stats.json`` and ``features.json``.
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
from helpers.config import FrontEnd, Paths, Preset, source_tag
from helpers.datasets import AudioCatalog, audio_catalog, limit_speakers, split_by_speaker
from helpers.errors import A2IError, ArtifactError, ConfigError

SPLITS = ("train", "test")


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


def features_dir(paths: Paths, preset: Preset, source: str) -> Path:
    """The folder for one preset, audio source and seed (the split depends on all three):
    ``<root>/features/<preset>-<source>-seed<seed>``."""
    return paths.features / f"{preset.name}-{source_tag(source)}-seed{preset.seed}"


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
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable audio file(s): " + " | ".join(bad), stacklevel=2)
    if not clips:
        raise ConfigError(
            f"no readable audio among {len(catalog)} file(s) of {catalog.source} (the warning above "
            "names each file's problem): fix or replace the files, or choose another A2I_AUDIO_SOURCE."
        )
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
    """Read a split written by ``save_split``; a missing or broken file says how to rebuild it."""
    path = Path(folder) / f"{name}.npz"
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


def load_stats(folder: Path, front_end: FrontEnd) -> NormStats:
    """The normalisation stats of a feature folder, checked against ``front_end``."""
    return load_norm_stats(Path(folder) / "stats.json", front_end)


def prepare_features(catalog: AudioCatalog, preset: Preset, folder: Path) -> dict:
    """The whole of ``01_preprocess.ipynb``'s feature step in one call; returns a summary.

    Limits speakers as the preset says, splits by speaker, loads clips, computes dB
    spectrograms, fits stats on train only, normalises and saves everything.
    """
    front_end = preset.front_end
    catalog = limit_speakers(catalog, preset.max_voices, preset.seed)
    start = time.perf_counter()
    clips, catalog = load_clips(catalog, front_end)
    spectrograms_db = log_spectrogram(clips, front_end)
    seconds = time.perf_counter() - start
    train, test = split_by_speaker(catalog.speakers, preset.test_fraction, preset.seed)
    stats = fit_norm_stats(spectrograms_db[train])
    folder.mkdir(parents=True, exist_ok=True)
    save_norm_stats(folder / "stats.json", stats, front_end)
    for name, index in (("train", train), ("test", test)):
        normalised = normalise(spectrograms_db[index], stats)[..., None]
        save_split(folder, name, normalised, clips[index], catalog.subset(index))
    summary = {
        "preset": preset.name,
        "source": catalog.source,
        "clips": len(catalog),
        "train_clips": len(train),
        "test_clips": len(test),
        "train_speakers": sorted(set(catalog.speakers[train].tolist())),
        "test_speakers": sorted(set(catalog.speakers[test].tolist())),
        "extract_seconds": round(seconds, 3),
        "spectrogram_shape": [front_end.n_freq, front_end.n_frames, 1],
    }
    save_json(folder / "features.json", summary)
    return summary


def ensure_features(paths: Paths, preset: Preset, source: str, announce: bool = True) -> Path:
    """The feature folder for this preset and source, built first (as ``01_preprocess.ipynb``
    does) when it holds no test split yet; ``announce`` says so on stdout."""
    folder = features_dir(paths, preset, source)
    if not (folder / "test.npz").is_file():
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
