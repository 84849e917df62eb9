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
from helpers.config import Paths, Preset, ProjectionSettings
from helpers.images import as_png
from helpers.metrics import cosine_rows, frechet_distance, recovered_share
from helpers.models.autoencoder import load_audio_codec
from helpers.models.classifier import classifier_accuracy, classify, image_features, is_classifier
from helpers.models.gan import generate, sample_latents
from helpers.projection import (
    PROJECTION_STAGES,
    project_images_adam,
    project_images_baseline,
    project_with_settings,
    stopped_after,
)


@dataclass
class ProjectionRun:
    """One projection method on one set of images."""

    z_hat: np.ndarray
    cos: np.ndarray
    seconds: float

    @property
    def ms_per_image(self) -> float:
        return 1000.0 * self.seconds / len(self.cos)

    @property
    def recovery_rate(self) -> float:
        """Share of latents given back, cos(z_hat, z) >= ``metrics.RECOVERED_COS``."""
        return recovered_share(self.cos)

    @property
    def median_cos(self) -> float:
        return float(np.median(self.cos))


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


def learned_projector(
    generator: keras.Model, encoder: keras.Model, settings: ProjectionSettings, read_drawings=None
):
    """``images -> z_hat`` with ``project_images`` and ``settings`` (``preset.gan.projection``,
    or ``stopped_after(preset.gan.projection, stage)`` to measure one stage), drawings
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


@dataclass
class ProjectionReport:
    """What ``evaluate_projection`` measured: each run of projection (``runs``: the method cut
    after each stage, the method, and the methods it is compared with), the test clips'
    latents, image quality and the judge's readings."""

    latents: np.ndarray  # the prior latents projected (n, d)
    images: np.ndarray  # their images as a PNG stores them (n, h, w, c), in [0, 1]
    runs: dict[str, ProjectionRun]  # "encoder", "feedback", "method", "adam", "baseline"
    audio: ProjectionRun | None  # the test clips' latents, rendered and projected back
    quality: dict  # image_quality's Fréchet distances
    judge_accuracy: float | None  # the judge on real test images
    a2i_digit_acc: float | None  # the judge reads the spoken digit in the test clips' images
    pixel_mse: float  # of G(z_hat) against the projected PNGs

    @property
    def method(self) -> ProjectionRun:
        return self.runs["method"]

    def summary(self) -> dict:
        """The numbers notebook 03 saves in ``image_model/config.json`` and ``benchmarks/projection.py``
        prints (rounded), under one name each."""
        method, baseline = self.method, self.runs.get("baseline")
        summary = {
            "recovery_rate": method.recovery_rate,
            "median_cos": method.median_cos,
            "ms_per_image": method.ms_per_image,
            "pixel_mse": self.pixel_mse,
            "audio_recovery_rate": None if self.audio is None else self.audio.recovery_rate,
            "audio_median_cos": None if self.audio is None else self.audio.median_cos,
        }
        for stage in PROJECTION_STAGES:
            run = self.runs[stage]
            summary |= {
                f"{stage}_only_recovery_rate": run.recovery_rate,
                f"{stage}_only_median_cos": run.median_cos,
                f"{stage}_only_ms_per_image": run.ms_per_image,
            }
        if "adam" in self.runs:
            summary["adam_recovery_rate"] = self.runs["adam"].recovery_rate
        if baseline is not None:
            summary |= {
                "baseline_recovery_rate": baseline.recovery_rate,
                "baseline_median_cos": baseline.median_cos,
                "baseline_ms_per_image": baseline.ms_per_image,
                "speedup": baseline.ms_per_image / method.ms_per_image,
            }
        summary |= {key: self.quality[key] for key in ("fd", "fd_spread", "fd_real_baseline")}
        summary |= {"classifier_accuracy": self.judge_accuracy, "a2i_digit_acc": self.a2i_digit_acc}
        return summary


BASELINE_IMAGES = 256  # the published baseline is slow: it is timed on this many images at most


def evaluate_projection(
    generator: keras.Model,
    encoder: keras.Model,
    judge: keras.Model,
    preset: Preset,
    train_images: np.ndarray,
    test_images: np.ndarray,
    test_labels: np.ndarray,
    audio_test: ClipLatents | None = None,
    repeats: int = 1,
    compare: tuple[str, ...] = ("adam", "baseline"),
    baseline_repeats: int | None = None,
) -> ProjectionReport:
    """Measure an invertible GAN and its projection (``preset.gan.projection``): prior latents
    rendered as PNGs and projected back, by the method cut after each stage and whole, and by
    the methods in ``compare`` (``"adam"``: encoder + Adam steps; ``"baseline"``: the published
    method, on ``BASELINE_IMAGES`` at most), each the fastest of ``repeats`` runs (the slow
    baseline: of ``baseline_repeats``, if given); the test clips' latents projected the same
    way; the Fréchet distance on the judge's features; the judge's accuracy on real test
    images and on the spoken digits of the test clips' images.
    Used by ``03_gan_and_projection.ipynb`` and ``benchmarks/projection.py``."""
    settings, cfg = preset.gan.projection, preset.gan
    z = sample_latents(cfg.eval_images, int(generator.input_shape[-1]), preset.seed + 1)
    images = as_png(generate(generator, z))
    projectors = {
        stage: learned_projector(generator, encoder, stopped_after(settings, stage))
        for stage in PROJECTION_STAGES
    }
    projectors["method"] = learned_projector(generator, encoder, settings)
    if "adam" in compare:
        projectors["adam"] = adam_projector(generator, encoder, preset)
    runs = {name: timed_projection(project, images, z, repeats) for name, project in projectors.items()}
    if "baseline" in compare:
        n = min(len(z), BASELINE_IMAGES)
        baseline = baseline_projector(generator, preset)
        runs["baseline"] = timed_projection(baseline, images[:n], z[:n], baseline_repeats or repeats)
    audio = a2i = None
    if audio_test is not None:  # None from classifier_accuracy when the clips' digits are unknown
        coded = as_png(generate(generator, audio_test.latents))
        audio = timed_projection(projectors["method"], coded, audio_test.latents)
        a2i = classifier_accuracy(judge, coded, audio_test.digits)
    return ProjectionReport(
        latents=z,
        images=images,
        runs=runs,
        audio=audio,
        quality=image_quality(generator, judge, train_images, test_images, preset.seed + 2),
        judge_accuracy=classifier_accuracy(judge, test_images, test_labels),
        a2i_digit_acc=a2i,
        pixel_mse=float(np.mean((generate(generator, runs["method"].z_hat) - images) ** 2)),
    )
