"""Measure the whole round trip on held-out clips: how much sound survives audio -> image ->
audio, what a damaged image costs, and how fast each direction runs. Notebook 04 and
``benchmarks/round_trip.py`` share it.

Taught in ``04_round_trip.ipynb``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from helpers.damage import image_damages
from helpers.images import as_png
from helpers.metrics import cosine_rows, griffin_lim_floor, spectrogram_scores, stoi_joined
from helpers.models.classifier import classifier_accuracy
from helpers.models.listener import digit_accuracy
from helpers.round_trip import Bridge


@dataclass
class PathResult:
    """One way back to audio: its waveforms and per-clip scores."""

    clips: np.ndarray  # (n, samples)
    sc_db: np.ndarray  # (n,)
    lsd_db: np.ndarray  # (n,)
    latent_cos: np.ndarray | None = None  # (n,) cos(ẑ, z) when the path goes through an image
    digit_acc: float | None = None


@dataclass
class RoundTripReport:
    """Everything ``evaluate_round_trip`` measured; ``summary`` is the benchmark's JSON."""

    latents: np.ndarray  # (n, d) the clips' latents
    images: np.ndarray  # (n, h, w, c) generated, in [0, 1], before any file
    paths: dict[str, PathResult]  # "floor", "ae", then one per image damage ("png" is the round trip)
    original_digit_acc: float | None = None  # the listener on the original clips
    image_digit_acc: float | None = None  # the judge reads the spoken digit in the clip's image
    heard_from_real_images: float | None = None  # the listener hears the digit of a real image
    summary: dict = field(default_factory=dict)

    def table(self) -> list[dict]:
        """One row per path: median SC and LSD (dB), median latent cosine and digit accuracy."""
        return [
            {
                "path": name,
                "sc_db": float(np.median(result.sc_db)),
                "lsd_db": float(np.median(result.lsd_db)),
                "latent_cos": None if result.latent_cos is None else float(np.median(result.latent_cos)),
                "digit_acc": result.digit_acc,
            }
            for name, result in self.paths.items()
        ]


def _timed(function: Callable[[np.ndarray], np.ndarray], inputs: np.ndarray) -> tuple[np.ndarray, float]:
    """``function(inputs)`` and its milliseconds per item, after one warm-up call on two items."""
    function(inputs[:2])
    start = time.perf_counter()
    outputs = function(inputs)
    return outputs, 1000.0 * (time.perf_counter() - start) / len(inputs)


def evaluate_round_trip(
    bridge: Bridge,
    clips: np.ndarray,
    digits: np.ndarray,
    seed: int = 0,
    damages: bool = True,
    real_images: np.ndarray | None = None,
    real_labels: np.ndarray | None = None,
) -> RoundTripReport:
    """Take ``clips`` ``(n, samples)`` through the Griffin-Lim floor, the autoencoder alone and the
    full round trip (image rounded to 8 bits as a PNG stores it, then projected back), and
    with ``damages`` through each of ``image_damages``. Scores: spectral convergence and
    log-spectral distance against the originals, cos(ẑ, z), the listener's digit accuracy
    (when the audio model has a listener and ``digits`` are known), STOI, and the time per
    clip of each direction (batched; image -> audio includes Griffin-Lim).

    Meaning, beside fidelity: how often the image model's judge reads the spoken digit in
    each clip's image, and, given labelled ``real_images``, how often the listener hears
    their digit in the sound made from them. Both are high only when the image model has the
    semantic code of notebook 03 (the digit drawn follows the digit said, and a drawing is read
    as its digit's prototype latent); the judge and the listener never train anything."""
    front_end, listener, stats = bridge.front_end, bridge.codec.listener, bridge.codec.stats
    clips = np.asarray(clips, np.float32)

    def accuracy(audio: np.ndarray) -> float | None:
        return None if listener is None else digit_accuracy(listener, audio, digits, front_end, stats)

    def scored(audio: np.ndarray, latent_cos: np.ndarray | None = None) -> PathResult:
        sc_db, lsd_db = spectrogram_scores(clips, audio, front_end)
        return PathResult(audio, sc_db, lsd_db, latent_cos, accuracy(audio))

    latents, ms_encode = _timed(bridge.clips_to_latents, clips)
    images, ms_render = _timed(bridge.latents_to_images, latents)
    ms_audio_to_image = ms_encode + ms_render  # the two halves of Bridge.clips_to_images
    floor_clips, _, _ = griffin_lim_floor(clips, front_end, bridge.gl_iterations, bridge.seed)
    results = {
        "floor": scored(floor_clips),
        "ae": scored(bridge.latents_to_clips(latents)),
    }
    png = as_png(images)
    rt_clips, ms_image_to_audio = _timed(bridge.images_to_clips, png)
    results["png"] = scored(rt_clips, cosine_rows(latents, bridge.images_to_latents(png)))
    if damages:
        for name, damage in image_damages(seed).items():
            if name == "png":
                continue
            z_hat = bridge.images_to_latents(damage(images))
            results[name] = scored(bridge.latents_to_clips(z_hat), cosine_rows(latents, z_hat))
    report = RoundTripReport(latents, images, results, original_digit_acc=accuracy(clips))
    if bridge.judge is not None:
        report.image_digit_acc = classifier_accuracy(bridge.judge, png, digits)
    if real_images is not None and listener is not None:
        sounds = bridge.images_to_clips(as_png(real_images))
        report.heard_from_real_images = digit_accuracy(listener, sounds, real_labels, front_end, stats)
    report.summary = _summary(report, clips, front_end.sample_rate, ms_audio_to_image, ms_image_to_audio)
    return report


def _summary(
    report: RoundTripReport,
    clips: np.ndarray,
    sample_rate: int,
    ms_audio_to_image: float,
    ms_image_to_audio: float,
) -> dict:
    paths = report.paths

    def median(name: str, key: str) -> float | None:
        return float(np.median(getattr(paths[name], key))) if name in paths else None

    return {
        "clips": len(clips),
        "gl_sc_db": median("floor", "sc_db"),
        "ae_sc_db": median("ae", "sc_db"),
        "rt_sc_db": median("png", "sc_db"),
        "rt_jpeg75_sc_db": median("jpeg75", "sc_db"),
        "ae_lsd_db": median("ae", "lsd_db"),
        "rt_lsd_db": median("png", "lsd_db"),
        "ae_stoi": stoi_joined(clips, paths["ae"].clips, sample_rate),
        "rt_stoi": stoi_joined(clips, paths["png"].clips, sample_rate),
        "latent_cos_median": median("png", "latent_cos"),
        "digit_acc_original": report.original_digit_acc,
        "digit_acc_ae": paths["ae"].digit_acc,
        "digit_acc_rt": paths["png"].digit_acc,
        "ms_per_clip_audio_to_image": ms_audio_to_image,
        "ms_per_clip_image_to_audio": ms_image_to_audio,
        "a2i_digit_acc": report.image_digit_acc,
        "i2a_digit_acc": report.heard_from_real_images,
        # every damage's median, the PNG's included (rt_png_sc_db = rt_sc_db), and the digit after JPEG 75
        **{f"rt_{name}_sc_db": median(name, "sc_db") for name in image_damages(0)},
        "digit_acc_rt_jpeg75": paths["jpeg75"].digit_acc if "jpeg75" in paths else None,
    }
