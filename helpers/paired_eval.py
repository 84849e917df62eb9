"""Measure a paired audio -> image model on held-out voices; notebook 05 and the benchmark share it.

Semantic fidelity (does the image show the spoken digit, by the image judge), similarity
to the paired target (SSIM, grey-level histogram intersection), diversity across noise,
and the Fréchet distance on the judge's features beside the real-vs-real distance.
Taught in ``05_paired_generation.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from helpers.config import Preset
from helpers.images import as_png, image_grid
from helpers.metrics import frechet_distance, histogram_intersection, mean_pairwise_distance, ssim_scores
from helpers.models.classifier import classify, image_features, is_classifier
from helpers.models.paired import FEATURE_OF, build_paired_model, train_paired
from helpers.paired_data import PairedData


@dataclass
class PairedReport:
    """One model's images for the test clips (one per clip, 8-bit) and its summary row."""

    name: str
    images: np.ndarray  # (n_test, h, w, c) in [0, 1]
    heard_digits: np.ndarray | None  # the judge's reading of each image (None: unlabelled judge)
    summary: dict


def _spread(n: int, k: int) -> np.ndarray:
    """``min(n, k)`` positions spread evenly over ``range(n)``."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(np.int64))


def diversity(model, audio: np.ndarray, n_clips: int, n_samples: int, seed: int) -> float | None:
    """Mean pairwise RMS pixel distance between ``n_samples`` images of one clip drawn with
    different noise, averaged over ``n_clips`` clips spread over ``audio``; ``None`` for a
    model without noise (``model.has_noise`` False)."""
    if not model.has_noise:
        return None
    chosen = np.asarray(audio)[_spread(len(audio), n_clips)]
    samples = np.stack([model.generate(chosen, seed + k) for k in range(n_samples)], axis=1)
    return float(np.mean([mean_pairwise_distance(per_clip) for per_clip in samples]))


def frechet_scores(fake: np.ndarray, data: PairedData, judge: keras.Model, seed: int) -> tuple[float, float]:
    """Fréchet distance of ``fake`` images, then of as many real training images, to the real
    test images, on the judge's features (same sample sizes, so the two are comparable)."""
    n = min(len(fake), len(data.train_images))
    real = data.train_images.images[np.random.default_rng(seed).choice(len(data.train_images), n, False)]
    test_features = image_features(judge, data.test_images.images)
    return (
        frechet_distance(image_features(judge, fake[:n]), test_features),
        frechet_distance(image_features(judge, real), test_features),
    )


def evaluate_paired(
    model, data: PairedData, judge: keras.Model, seed: int, n_clips: int = 40, n_samples: int = 6
) -> PairedReport:
    """Generate one 8-bit image per test clip (held-out voices) and score it: the judge's digit
    accuracy, mean SSIM and histogram intersection against each clip's fixed partner,
    diversity (``n_clips`` clips x ``n_samples`` noise draws), and the Fréchet distance of
    as many generated images as there are test images (more noise draws, or repeats for a
    model without noise) beside the real-vs-real distance."""
    audio = data.test.audio[model.feature]
    images = as_png(model.generate(audio, seed))
    rounds = -(-len(data.test_images) // len(audio))
    pool = np.concatenate([images] + [as_png(model.generate(audio, seed + r)) for r in range(1, rounds)])
    # whole rounds, then a seeded draw: every clip (so every digit) equally likely to be kept
    kept = np.random.default_rng(seed).permutation(len(pool))[: len(data.test_images)]
    fd, fd_real = frechet_scores(pool[kept], data, judge, seed)
    heard = classify(judge, images) if is_classifier(judge) else None
    summary = {
        "digit_acc": None if heard is None else float(np.mean(heard == data.test.digits)),
        "ssim": float(np.mean(ssim_scores(images, data.test.partners))),
        "hist_sim": float(np.mean(histogram_intersection(images, data.test.partners))),
        "diversity": diversity(model, audio, n_clips, n_samples, seed + 1000),
        "fd": fd,
        "fd_real_baseline": fd_real,
    }
    return PairedReport(model.name, images, heard, summary)


def reference_scores(data: PairedData, seed: int) -> dict[str, dict]:
    """SSIM and histogram intersection against the test partners of three stand-ins that
    need no model: another real image of the same digit, the mean training image of the
    digit, and a real image of another digit. They calibrate the two scores."""
    rng = np.random.default_rng(seed)
    pool, targets, digits = data.test_images, data.test.partners, data.test.digits
    others_of_digit = [
        np.setdiff1d(np.flatnonzero(pool.labels == d), [partner])  # never the partner itself
        for d, partner in zip(digits, data.test.partner_index, strict=True)
    ]
    same = np.stack([pool.images[rng.choice(positions)] for positions in others_of_digit])
    other = np.stack([pool.images[rng.choice(np.flatnonzero(pool.labels != d))] for d in digits])
    train = data.train_images
    means = {int(d): train.images[train.labels == d].mean(axis=0) for d in np.unique(digits)}
    mean = as_png(np.stack([means[int(d)] for d in digits]))
    return {
        name: {
            "ssim": float(np.mean(ssim_scores(stand_in, targets))),
            "hist_sim": float(np.mean(histogram_intersection(stand_in, targets))),
        }
        for name, stand_in in (("real, same digit", same), ("digit mean", mean), ("real, other digit", other))
    }


def digit_collage(images: np.ndarray, digits: np.ndarray, n_cols: int) -> np.ndarray:
    """One row per digit present, the first ``n_cols`` images of clips of that digit (blank where a
    digit has fewer clips), as one grid image."""
    rows = []
    for digit in np.unique(digits):
        row = images[np.flatnonzero(digits == digit)[:n_cols]]
        blanks = np.zeros((n_cols - len(row), *images.shape[1:]), images.dtype)
        rows.append(np.concatenate([row, blanks]))
    return image_grid(np.concatenate(rows), n_cols)


@dataclass
class PairedRun:
    """One model built, trained and measured by ``run_paired_model``."""

    model: object  # a models.paired.PairedModel
    history: dict[str, list[float]]
    report: PairedReport


def run_paired_model(
    name: str,
    data: PairedData,
    judge: keras.Model,
    preset: Preset,
    work_dir: str | Path,
    partnering: str = "fresh",
    progress_every: int | None = None,
) -> PairedRun:
    """Build the paired model ``name``, train it with the preset's budget (resumably, in
    ``work_dir``), and measure it on the held-out voices; ``train_seconds`` joins its summary."""
    cfg = preset.paired
    feature = FEATURE_OF[name]
    model = build_paired_model(
        name, data.audio_shape(feature), data.image_shape, cfg, preset.seed, data.train.audio["mfcc"]
    )
    history, seconds = train_paired(model, data, preset, work_dir, partnering, progress_every)
    report = evaluate_paired(model, data, judge, preset.seed, cfg.diversity_clips, cfg.diversity_samples)
    report.summary["train_seconds"] = seconds
    return PairedRun(model, history, report)
