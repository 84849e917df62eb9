"""Audio, image and latent metrics, each a small pure function on numpy arrays.

Magnitudes are linear STFT magnitudes ``(..., freq, frames)``; every metric returns
one value per leading index (per clip). Taught in ``01_preprocess.ipynb``.
"""

from __future__ import annotations

import numpy as np

from helpers.audio import log_spectrogram, spectrogram_to_waveform, stft_magnitude
from helpers.config import FrontEnd


def spectral_convergence_db(reference: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """``20 log10(||R - E||_F / ||R||_F)`` per clip, in dB (lower is better; 0 dB = as large as R).

    Spectral convergence measures the relative error of linear magnitudes, so loud
    bins dominate it.
    """
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    error = np.linalg.norm(reference - estimate, axis=(-2, -1))
    norm = np.maximum(np.linalg.norm(reference, axis=(-2, -1)), 1e-12)
    return 20.0 * np.log10(np.maximum(error, 1e-12) / norm)


def log_spectral_distance_db(reference: np.ndarray, estimate: np.ndarray, amin: float = 1e-5) -> np.ndarray:
    """Log-spectral distance per clip, in dB (lower is better).

    For each frame, the root-mean-square over frequency of the difference between
    the two power spectra in dB (magnitudes floored at ``amin``), averaged over frames.
    """
    ref_db = 20.0 * np.log10(np.maximum(np.asarray(reference, dtype=np.float64), amin))
    est_db = 20.0 * np.log10(np.maximum(np.asarray(estimate, dtype=np.float64), amin))
    per_frame = np.sqrt(np.mean((ref_db - est_db) ** 2, axis=-2))
    return per_frame.mean(axis=-1)


def spectrogram_scores(
    clips: np.ndarray, estimates: np.ndarray, front_end: FrontEnd
) -> tuple[np.ndarray, np.ndarray]:
    """Per-clip ``(sc_db, lsd_db)`` of waveforms ``estimates`` against ``clips``, both ``(n, samples)``."""
    reference = stft_magnitude(clips, front_end)
    estimate = stft_magnitude(estimates, front_end)
    return (
        spectral_convergence_db(reference, estimate),
        log_spectral_distance_db(reference, estimate, front_end.amin),
    )


def griffin_lim_floor(
    clips: np.ndarray, front_end: FrontEnd, n_iter: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reconstruct ``clips`` from their own dB spectrograms; the best any later stage can do.

    Returns ``(reconstructed (n, samples), sc_db (n,), lsd_db (n,))``, comparing the
    STFT magnitudes of the originals and of the reconstructions.
    """
    reconstructed = spectrogram_to_waveform(log_spectrogram(clips, front_end), front_end, n_iter, seed)
    return (reconstructed, *spectrogram_scores(clips, reconstructed, front_end))


def stoi_joined(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """STOI (pystoi) of clips ``(n, samples)`` joined end to end into one signal each.

    STOI needs more context than a sub-second clip gives, so the clips are
    concatenated and scored once. The reference's silent frames are dropped by pystoi.
    """
    from pystoi import stoi

    return float(stoi(np.ravel(reference), np.ravel(estimate), sample_rate, extended=False))


def latent_moments(latents: np.ndarray) -> dict[str, float]:
    """How close latents ``(n, d)`` are to N(0, I): mean |per-dimension mean| and mean std."""
    latents = np.asarray(latents, dtype=np.float64)
    return {
        "latent_mean_abs": float(np.abs(latents.mean(axis=0)).mean()),
        "latent_std_mean": float(latents.std(axis=0).mean()),
    }


def cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of ``a`` with the same row of ``b`` (``03_gan_and_projection``)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.sum(a * b, axis=1) / np.maximum(norms, 1e-12)


RECOVERED_COS = 0.99  # a latent counts as given back when cos(z_hat, z) reaches this


def recovery_rate(z: np.ndarray, z_hat: np.ndarray, threshold: float = RECOVERED_COS) -> float:
    """Share of latents recovered, i.e. with ``cos(z_hat, z) >= threshold``."""
    return recovered_share(cosine_rows(z, z_hat), threshold)


def recovered_share(cos: np.ndarray, threshold: float = RECOVERED_COS) -> float:
    """Share of cosines ``cos(z_hat, z)`` at or above ``threshold`` (``recovery_rate`` from the cosines)."""
    return float(np.mean(np.asarray(cos) >= threshold))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets ``(n, k)`` (as FID does,
    on whatever features are given): ``|mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))``."""
    from scipy import linalg

    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    ridge = 1e-6 * np.eye(a.shape[1])  # keeps the square root defined when a feature never fires
    cov_a, cov_b = np.cov(a, rowvar=False) + ridge, np.cov(b, rowvar=False) + ridge
    root = linalg.sqrtm(cov_a @ cov_b)
    root = root.real if np.iscomplexobj(root) else root
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * root))


def ssim_scores(images_a: np.ndarray, images_b: np.ndarray) -> np.ndarray:
    """Structural similarity (``tf.image.ssim``, 11 x 11 Gaussian window) of each pair of images
    ``(n, h, w, c)`` in [0, 1]; 1 means identical. Taught in ``05_paired_generation.ipynb``."""
    import tensorflow as tf

    a, b = tf.constant(np.asarray(images_a, np.float32)), tf.constant(np.asarray(images_b, np.float32))
    return tf.image.ssim(a, b, max_val=1.0).numpy().astype(np.float64)


def histogram_intersection(images_a: np.ndarray, images_b: np.ndarray, bins: int = 32) -> np.ndarray:
    """Histogram similarity of each pair of images ``(n, h, w, c)`` in [0, 1]: the intersection
    ``sum_k min(p_k, q_k)`` of their normalised grey-level histograms (``bins`` equal bins over
    [0, 1]); 1 means the same distribution of grey levels, wherever the pixels lie.
    Taught in ``05_paired_generation.ipynb``."""
    edges = np.linspace(0.0, 1.0, bins + 1)

    def normalised(images: np.ndarray) -> np.ndarray:
        flat = np.clip(np.asarray(images, np.float64).reshape(len(images), -1), 0.0, 1.0)
        index = np.minimum(np.searchsorted(edges, flat, side="right") - 1, bins - 1)
        counts = np.stack([np.bincount(row, minlength=bins) for row in index])
        return counts / flat.shape[1]

    return np.minimum(normalised(images_a), normalised(images_b)).sum(axis=1)


def mean_pairwise_distance(samples: np.ndarray) -> float:
    """Mean root-mean-square pixel distance over all pairs of ``samples`` ``(k, h, w, c)``:
    how different the images one input gives are (0: always the same image)."""
    flat = np.asarray(samples, np.float64).reshape(len(samples), -1)
    if len(flat) < 2:
        raise ValueError("diversity needs at least two samples")
    distances = [
        np.sqrt(np.mean((flat[i] - flat[j]) ** 2)) for i in range(len(flat)) for j in range(i + 1, len(flat))
    ]
    return float(np.mean(distances))


def psnr(images: np.ndarray, reference: np.ndarray) -> float:
    """Mean peak signal-to-noise ratio (dB) of images in [0, 1] against ``reference``
    (``tf.image.psnr``; ``06_token_transformer.ipynb``)."""
    import tensorflow as tf

    values = tf.image.psnr(np.asarray(images, np.float32), np.asarray(reference, np.float32), max_val=1.0)
    return float(np.mean(values.numpy()))


def codebook_perplexity(tokens: np.ndarray, codes: int) -> float:
    """``exp(entropy)`` of how often each code is used: ``codes`` when all are used equally, 1 when
    one code does everything (a dead codebook; ``06_token_transformer.ipynb``)."""
    usage = np.bincount(np.asarray(tokens).ravel(), minlength=codes) / np.asarray(tokens).size
    used = usage[usage > 0]
    return float(np.exp(-np.sum(used * np.log(used))))
