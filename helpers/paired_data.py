"""Paired clips and images: what the six paired models train and are measured on.

Clips come from the feature folder of ``01_preprocess.ipynb`` (normalised spectrograms,
and MFCCs computed from the same clips); images from the image source, split so that
test clips (held-out voices) are paired with held-out images. Taught in
``05_paired_generation.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.audio import NormStats, mfcc
from helpers.config import Paths, Preset
from helpers.datasets import ImageSet, image_set, pair_by_digit, split_images
from helpers.features import ensure_features, load_split, load_stats
from helpers.training import fresh_partner_dataset, make_dataset

PARTNERINGS = ("fresh", "fixed")


@dataclass(frozen=True)
class PairedSplit:
    """One side of the voice-disjoint split: each clip's audio features, digit and fixed partner."""

    audio: dict[str, np.ndarray]  # "spectrogram": (n, F, T, 1) normalised; "mfcc": (n, n_mfcc, T, 1)
    digits: np.ndarray  # (n,)
    speakers: np.ndarray  # (n,)
    partners: np.ndarray  # (n, H, W, C) in [0, 1]: one image of the clip's digit, fixed
    partner_index: np.ndarray  # (n,) each partner's position in its split's image pool
    clips: np.ndarray  # (n, samples) the waveforms the features came from

    def __len__(self) -> int:
        return len(self.digits)


@dataclass(frozen=True)
class PairedData:
    """Training and test pairs, and the image pools their partners come from."""

    train: PairedSplit
    test: PairedSplit
    train_images: ImageSet
    test_images: ImageSet
    stats: NormStats  # how the spectrograms were normalised (``audio.denormalise`` undoes it)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_images.images.shape[1:])

    def audio_shape(self, feature: str) -> tuple[int, ...]:
        return tuple(self.train.audio[feature].shape[1:])


def load_paired_data(
    paths: Paths, preset: Preset, audio_source: str, image_source: str, announce: bool = True
) -> PairedData:
    """Pairs for ``preset``: features built first if missing (as ``01_preprocess.ipynb`` does),
    images split stratified by digit, each clip given a fixed partner from its own side."""
    folder = ensure_features(paths, preset, audio_source, announce)
    images = image_set(image_source, preset, paths)
    train_index, test_index = split_images(images.labels, preset.test_fraction, preset.seed)
    pools = images.subset(train_index), images.subset(test_index)
    splits = []
    for name, pool, offset in (("train", pools[0], 0), ("test", pools[1], 1)):
        split = load_split(folder, name)
        partners = pair_by_digit(split.digits, pool.labels, preset.seed + offset)
        audio = {
            "spectrogram": split.spectrograms.astype(np.float32),
            "mfcc": mfcc(split.clips, preset.front_end)[..., None],
        }
        splits.append(
            PairedSplit(audio, split.digits, split.speakers, pool.images[partners], partners, split.clips)
        )
    return PairedData(splits[0], splits[1], *pools, load_stats(folder, preset.front_end))


def paired_dataset(data: PairedData, feature: str, partnering: str, batch_size: int, seed: int):
    """Training batches ``(audio features, image)``: ``fresh`` draws a new image of the clip's digit
    every epoch, ``fixed`` always shows the clip's one partner."""
    if partnering not in PARTNERINGS:
        raise ValueError(f"partnering must be one of {PARTNERINGS}, got {partnering!r}")
    audio = data.train.audio[feature]
    if partnering == "fixed":
        return make_dataset((audio, data.train.partners), batch_size, seed)
    pool = data.train_images
    return fresh_partner_dataset(audio, data.train.digits, pool.images, pool.labels, batch_size, seed)
