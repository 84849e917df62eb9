"""Measure a trained stage on the held-out split; notebooks and benchmarks share these.

Taught in ``02_audio_autoencoder.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.audio import NormStats, denormalise, spectrogram_to_waveform
from helpers.config import Preset
from helpers.features import FeatureSplit
from helpers.metrics import griffin_lim_floor, latent_moments, spectrogram_scores, stoi_joined
from helpers.models.autoencoder import AudioCodec


def digit_mean_baseline(
    train_spectrograms: np.ndarray, train_digits: np.ndarray, test_digits: np.ndarray, stats: NormStats
) -> np.ndarray:
    """A trivial reference: each test clip's dB spectrogram replaced by the mean training
    spectrogram of its digit (the overall mean for unlabelled clips or unseen digits).
    ``train_spectrograms`` are normalised ``(n, F, T, 1)``; returns ``(n_test, F, T)`` in dB.
    Notebooks 02 and 06 compare against it."""
    train_db = denormalise(np.asarray(train_spectrograms)[..., 0], stats)
    overall = train_db.mean(axis=0)
    means = {d: train_db[train_digits == d].mean(axis=0) for d in np.unique(train_digits) if d >= 0}
    return np.stack([means.get(int(d), overall) for d in test_digits])


@dataclass
class CodecReport:
    """The autoencoder's measurements: per-clip scores, the rebuilt audio and a JSON summary."""

    summary: dict
    latents: np.ndarray  # (n, d) whitened test latents
    rebuilt_clips: np.ndarray  # (n, samples) through the autoencoder and Griffin-Lim
    floor_clips: np.ndarray  # (n, samples) Griffin-Lim from the true magnitudes
    sc_db: np.ndarray
    lsd_db: np.ndarray


def evaluate_audio_codec(
    codec: AudioCodec, train: FeatureSplit, test: FeatureSplit, preset: Preset
) -> CodecReport:
    """Spectral convergence, log-spectral distance and STOI of the autoencoder path on
    ``test``, beside the Griffin-Lim floor and the digit-mean baseline, plus latent moments."""
    front_end, n_iter, seed = codec.front_end, preset.gl_iterations, preset.seed
    latents = codec.encode(test.spectrograms)
    rebuilt = codec.latents_to_clips(latents, n_iter, seed)
    sc_db, lsd_db = spectrogram_scores(test.clips, rebuilt, front_end)
    floor_clips, floor_sc, floor_lsd = griffin_lim_floor(test.clips, front_end, n_iter, seed)
    baseline_db = digit_mean_baseline(train.spectrograms, train.digits, test.digits, codec.stats)
    baseline = spectrogram_to_waveform(baseline_db, front_end, n_iter, seed)
    baseline_sc, _ = spectrogram_scores(test.clips, baseline, front_end)
    train_moments = latent_moments(codec.encode(train.spectrograms))
    summary = {
        "latent_dim": codec.latent_dim,
        "test_clips": len(test),
        "sc_db": float(np.median(sc_db)),
        "lsd_db": float(np.median(lsd_db)),
        "stoi": stoi_joined(test.clips, rebuilt, front_end.sample_rate),
        "gl_floor_sc_db": float(np.median(floor_sc)),
        "gl_floor_lsd_db": float(np.median(floor_lsd)),
        "gl_floor_stoi": stoi_joined(test.clips, floor_clips, front_end.sample_rate),
        "baseline_sc_db": float(np.median(baseline_sc)),
        **latent_moments(latents),
        "train_latent_mean_abs": train_moments["latent_mean_abs"],
        "train_latent_std_mean": train_moments["latent_std_mean"],
    }
    return CodecReport(summary, latents, rebuilt, floor_clips, sc_db, lsd_db)


def _training_group_drifts(
    latents: np.ndarray, speakers: np.ndarray, size: int, seed: int, draws: int
) -> list[float] | None:
    """10th, 50th and 90th percentile of ``latent_mean_abs`` over ``draws`` random groups of
    ``size`` training voices; None when there are not more than ``size`` voices to draw from."""
    voices = np.unique(speakers)
    if size >= len(voices):
        return None
    rng = np.random.default_rng(seed)
    drifts = [
        latent_moments(latents[np.isin(speakers, rng.choice(voices, size, replace=False))])["latent_mean_abs"]
        for _ in range(draws)
    ]
    return [float(v) for v in np.percentile(drifts, [10, 50, 90])]


def latent_shift_by_group(
    latents: np.ndarray,
    speakers: np.ndarray,
    groups: dict[str, np.ndarray],
    train_latents: np.ndarray,
    train_speakers: np.ndarray,
    seed: int = 0,
    draws: int = 200,
) -> dict[str, dict]:
    """Where the held-out latents' mean drift comes from, group by group.

    ``groups`` maps a name to a boolean mask over the held-out clips (for example, voices
    whose kind also occurs in training, and the others). Each non-empty group gets its voice
    and clip counts, its ``latent_mean_abs`` and, as ``train_groups_p10_p50_p90``, the same
    quantity for ``draws`` random groups of as many *training* voices (matched on voices, not
    clips; each group's draws are seeded alike): the drift a group of that size shows when its
    voices are ones the model knows. Fewer voices drift more by chance alone, so a group is
    only out of line above its own reference. The reference is None when the group has at
    least as many voices as training does (there is nothing to draw).
    Notebook 02 reports it for the held-out voices.
    """
    train_latents, train_speakers = np.asarray(train_latents), np.asarray(train_speakers)
    report = {}
    for name, mask in groups.items():
        voices = np.unique(np.asarray(speakers)[mask])
        if len(voices) == 0:
            continue
        report[name] = {
            "voices": len(voices),
            "clips": int(np.sum(mask)),
            "latent_mean_abs": latent_moments(np.asarray(latents)[mask])["latent_mean_abs"],
            "train_groups_p10_p50_p90": _training_group_drifts(
                train_latents, train_speakers, len(voices), seed, draws
            ),
        }
    return report
