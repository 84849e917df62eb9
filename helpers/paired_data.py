"""Paired clips and images, and the training loop shared by the six paired models.

Clips come from the feature folder of ``01_preprocess.ipynb`` (normalised spectrograms,
and MFCCs computed from the same clips); images from the image source, split so that
test clips (held-out voices) are paired with held-out images. Taught in
``05_paired_generation.ipynb``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.audio import mfcc
from helpers.config import Paths, Preset
from helpers.datasets import ImageSet, image_set, pair_by_digit, split_images
from helpers.features import ensure_features, load_split
from helpers.training import PrintEvery, fit_resumable, fresh_partner_dataset, make_dataset

PARTNERINGS = ("fresh", "fixed")


@dataclass(frozen=True)
class PairedSplit:
    """One side of the voice-disjoint split: each clip's audio features, digit and fixed partner."""

    audio: dict[str, np.ndarray]  # "spectrogram": (n, F, T, 1) normalised; "mfcc": (n, n_mfcc, T, 1)
    digits: np.ndarray  # (n,)
    speakers: np.ndarray  # (n,)
    partners: np.ndarray  # (n, H, W, C) in [0, 1]: one image of the clip's digit, fixed
    partner_index: np.ndarray  # (n,) each partner's position in its split's image pool

    def __len__(self) -> int:
        return len(self.digits)


@dataclass(frozen=True)
class PairedData:
    """Training and test pairs, and the image pools their partners come from."""

    train: PairedSplit
    test: PairedSplit
    train_images: ImageSet
    test_images: ImageSet

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
        splits.append(PairedSplit(audio, split.digits, split.speakers, pool.images[partners], partners))
    return PairedData(splits[0], splits[1], *pools)


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


def train_paired(
    model,
    data: PairedData,
    preset: Preset,
    work_dir: str | Path,
    partnering: str = "fresh",
    progress_every: int | None = None,
) -> tuple[dict[str, list[float]], float]:
    """Train a paired model (``models.paired.build_paired_model``) with the preset's budget,
    resumably; returns its loss history and the seconds this call spent training.

    The ``triplet`` model first trains its audio encoder with the triplet loss; the encoder's
    weights are kept in ``work_dir/triplet.weights.h5`` so a resumed run does not redo it.
    """
    from helpers.models.paired import ConditionalGAN, build_triplet_encoder

    cfg, work_dir = preset.paired, Path(work_dir)
    epochs = cfg.gan_epochs if isinstance(model, ConditionalGAN) else cfg.epochs
    start = time.perf_counter()
    if model.name == "triplet":
        weights = work_dir / "triplet.weights.h5"
        if weights.is_file():
            model.embedder.load_weights(weights)
        else:
            audio = data.train.audio["spectrogram"]
            triplets = make_dataset((audio, data.train.digits), max(cfg.batch_size, 64), preset.seed)
            fit_resumable(
                build_triplet_encoder(model, cfg),
                triplets,
                cfg.triplet_epochs,
                work_dir / "triplet",
                verbose=0,
            )
            partial = work_dir / "triplet.partial.weights.h5"  # Keras insists on this ending
            model.embedder.save_weights(partial)
            os.replace(partial, weights)  # all or nothing
    dataset = paired_dataset(data, model.feature, partnering, cfg.batch_size, preset.seed)
    callbacks = [PrintEvery(progress_every, epochs)] if progress_every else []
    history = fit_resumable(model, dataset, epochs, work_dir, callbacks=callbacks, verbose=0)
    return history, time.perf_counter() - start
