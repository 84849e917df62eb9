"""Measure the image half of the bridge: how well projection recovers ``z``, how fast, and
how real the generated images look. Notebook 03 and ``benchmarks/projection.py`` share it.

Taught in ``03_gan_and_projection.ipynb``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import keras
import numpy as np

from helpers import config, features
from helpers.config import GanConfig, Paths, Preset
from helpers.images import as_png
from helpers.metrics import cosine_rows, frechet_distance
from helpers.models.autoencoder import load_audio_codec
from helpers.models.classifier import classify, image_features, is_classifier
from helpers.models.gan import generate, sample_latents
from helpers.projection import project_images_adam, project_images_baseline, project_with_settings


@dataclass
class ProjectionRun:
    """One projection method on one set of images."""

    z_hat: np.ndarray
    cos: np.ndarray
    seconds: float

    @property
    def ms_per_image(self) -> float:
        return 1000.0 * self.seconds / len(self.cos)


def timed_projection(project, images: np.ndarray, z: np.ndarray, repeats: int = 1) -> ProjectionRun:
    """Run ``project(images)`` once on two images (graph tracing), then time it on all.

    The first timed run can still trace: a batch of another size relaxes a graph's shapes
    once, and a stage the two images skipped (Gauss-Newton for poor fits) is traced when
    first reached. With ``repeats`` > 1 the whole set is projected that many times and the
    fastest run counts (as ``timeit`` does: tracing and other work on the machine only ever
    add time), so the time is the steady cost, and a comparison of two methods timed alike
    does not flip with the machine's load.
    """
    project(images[:2])
    seconds = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        z_hat = project(images)
        seconds.append(time.perf_counter() - start)
    return ProjectionRun(z_hat, cosine_rows(z, z_hat), min(seconds))


def learned_projector(generator: keras.Model, encoder: keras.Model, settings: GanConfig, read_drawings=None):
    """``images -> z_hat`` with ``project_images`` and the projection fields of ``settings``
    (``preset.gan``, or ``stopped_after(preset.gan, stage)`` to measure one stage), drawings
    read by ``read_drawings`` (a ``DrawingReader``) when given."""
    return lambda images: project_with_settings(images, generator, encoder, settings, read_drawings)


def adam_projector(generator: keras.Model, encoder: keras.Model, preset: Preset):
    """``images -> z_hat``: encoder + the preset's Adam steps (the first attempt, for comparison)."""
    cfg = preset.gan
    return lambda images: project_images_adam(
        images, generator, encoder, cfg.adam_steps, cfg.adam_learning_rate, cfg.prior_weight
    )


def baseline_projector(generator: keras.Model, preset: Preset):
    """``images -> z_hat`` with the published method at the preset's step count."""
    cfg = preset.gan
    return lambda images: project_images_baseline(
        images, generator, cfg.baseline_steps, cfg.baseline_learning_rate, seed=preset.seed
    )


@dataclass(frozen=True)
class ClipLatents:
    """The audio autoencoder's latents ``(n, d)`` of one split's clips and their digits ``(n,)``
    (-1 where a clip's digit is unknown)."""

    latents: np.ndarray
    digits: np.ndarray


def clip_latents(preset: Preset, paths: Paths, latent_dim: int, split: str = "test") -> ClipLatents | None:
    """The latents of one split's clips (notebook 01's features, notebook 02's model), at most
    ``features.SAMPLE_CLIPS`` of a streamed split. None while either is missing for this preset."""
    feature_dir = features.features_dir(paths, preset, config.audio_source())
    if not ((paths.audio_model / "config.json").is_file() and features.has_features(feature_dir)):
        return None
    codec, _ = load_audio_codec(paths.audio_model, preset.front_end, latent_dim)
    clips = features.sample_split(features.open_split(feature_dir, split), preset.seed)
    return ClipLatents(codec.encode(clips.spectrograms), np.asarray(clips.digits))


FD_DRAWS = 5  # generated samples averaged: one draw's distance varies by about a tenth


def image_quality(
    generator: keras.Model,
    judge: keras.Model,
    train_images: np.ndarray,
    test_images: np.ndarray,
    seed: int,
    draws: int = FD_DRAWS,
) -> dict:
    """Fréchet distance of generated vs real test images on the judge's features, beside the
    real-train vs real-test distance. Each draw generates as many images as there are
    training images, so both distances are estimated from the same sample sizes; ``fd`` is
    the mean over ``draws`` draws (seeds ``seed``, ``seed + 1``, ...) and ``fd_spread`` their
    standard deviation. ``fake_digit_counts``: the digits the judge reads in the first draw."""
    latent_dim = int(generator.input_shape[-1])
    test_features = image_features(judge, test_images)
    distances, first = [], None
    for draw in range(draws):
        fake = as_png(generate(generator, sample_latents(len(train_images), latent_dim, seed + draw)))
        distances.append(frechet_distance(image_features(judge, fake), test_features))
        first = fake if first is None else first
    summary = {
        "fd": float(np.mean(distances)),
        "fd_spread": float(np.std(distances)),
        "fd_real_baseline": frechet_distance(image_features(judge, train_images), test_features),
    }
    if is_classifier(judge):
        summary["fake_digit_counts"] = np.bincount(classify(judge, first), minlength=10).tolist()
    return summary


def classifier_accuracy(judge: keras.Model, images: np.ndarray, labels: np.ndarray) -> float | None:
    """Accuracy of the judge on labelled images (None for the autoencoder fallback)."""
    if not is_classifier(judge):
        return None
    return float(np.mean(classify(judge, images) == labels))
