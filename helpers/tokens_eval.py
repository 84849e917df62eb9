"""Measure the token pipeline on held-out voices: each VAE, each direction and both cycles.

Pairs are the test clips and their fixed partner images (held-out voices, held-out
images). Audio -> image is read by the image judge, image -> audio by the listener;
the cycles go audio -> image tokens -> audio tokens -> waveform and image -> audio tokens
-> image tokens -> image. Notebook 06 and ``benchmarks/tokens.py`` share it.
Taught in ``06_token_transformer.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from helpers.audio import spectrogram_to_waveform
from helpers.autoencoder_eval import digit_mean_baseline
from helpers.images import as_png
from helpers.metrics import codebook_perplexity, psnr, spectrogram_scores
from helpers.models.classifier import classifier_accuracy
from helpers.models.listener import hear_digits
from helpers.paired_data import PairedData
from helpers.tokens_pipeline import TokenModels


def token_accuracy(predicted: np.ndarray, target: np.ndarray) -> float:
    """Share of positions where two token grids agree."""
    return float(np.mean(np.asarray(predicted) == np.asarray(target)))


@dataclass
class TokenReport:
    """The pipeline's outputs for the test pairs and the summary the benchmark prints."""

    summary: dict
    images: dict[str, np.ndarray]  # "vae", "a2i", "cycle": (n, h, w, c) 8-bit in [0, 1]
    clips: dict[str, np.ndarray]  # "vae", "i2a", "cycle", "digit_mean": (n, samples)
    tokens: dict[str, np.ndarray]  # the token grids behind them


def evaluate_tokens(
    models: TokenModels,
    data: PairedData,
    judge: keras.Model,
    listener: keras.Model | None,
    n_iter: int,
    seed: int,
) -> TokenReport:
    """Every number of ``benchmarks/tokens.py`` on the test pairs, plus references: the judge on
    the real partner images and on their VAE rebuilds, the listener on the original clips and
    their VAE rebuilds, and the spectral convergence of the digit-mean clip."""
    front_end, test = models.front_end, data.test
    partners, clips, digits = test.partners, test.clips, test.digits
    image_codes = models.image_vae.codes
    audio_codes = models.audio_vae.codes

    tokens = {"image": models.image_tokens(partners), "audio": models.audio_tokens(test.audio["spectrogram"])}
    tokens["a2i"] = models.audio_to_image_tokens(tokens["audio"])
    tokens["i2a"] = models.image_to_audio_tokens(tokens["image"])
    tokens["cycle_audio"] = models.image_to_audio_tokens(tokens["a2i"])
    tokens["cycle_image"] = models.audio_to_image_tokens(tokens["i2a"])

    images = {
        name: as_png(models.images_from_tokens(tokens[key]))
        for name, key in (("vae", "image"), ("a2i", "a2i"), ("cycle", "cycle_image"))
    }
    pool = data.test_images.images
    pool_tokens = models.image_tokens(pool)
    pool_rebuilt = models.images_from_tokens(pool_tokens)
    sounds = {
        name: models.clips_from_tokens(tokens[key], n_iter, seed)
        for name, key in (("vae", "audio"), ("i2a", "i2a"), ("cycle", "cycle_audio"))
    }
    # what a model that knows only the digit would say at best on average
    mean_db = digit_mean_baseline(data.train.audio["spectrogram"], data.train.digits, digits, data.stats)
    sounds["digit_mean"] = spectrogram_to_waveform(mean_db, front_end, n_iter, seed)
    sc = {
        name: float(np.median(spectrogram_scores(clips, sound, front_end)[0]))
        for name, sound in sounds.items()
    }

    def seen(batch: np.ndarray) -> float | None:
        return classifier_accuracy(judge, batch, digits)

    def heard(batch: np.ndarray) -> float | None:
        if listener is None:
            return None
        return float(np.mean(hear_digits(listener, batch, front_end, data.stats) == digits))

    summary = {
        "image_vae_psnr": psnr(pool_rebuilt, pool),
        "image_codebook_perplexity": codebook_perplexity(pool_tokens, image_codes),
        "audio_vae_sc_db": sc["vae"],
        "audio_codebook_perplexity": codebook_perplexity(tokens["audio"], audio_codes),
        "a2i_token_accuracy": token_accuracy(tokens["a2i"], tokens["image"]),
        "a2i_digit_accuracy": seen(images["a2i"]),
        "i2a_token_accuracy": token_accuracy(tokens["i2a"], tokens["audio"]),
        "i2a_digit_accuracy": heard(sounds["i2a"]),
        "cycle_audio_sc_db": sc["cycle"],
        "cycle_audio_digit_accuracy": heard(sounds["cycle"]),
        "cycle_audio_token_accuracy": token_accuracy(tokens["cycle_audio"], tokens["audio"]),
        "cycle_image_digit_accuracy": seen(images["cycle"]),
        "cycle_image_token_accuracy": token_accuracy(tokens["cycle_image"], tokens["image"]),
        "i2a_sc_db": sc["i2a"],
        "digit_mean_sc_db": sc["digit_mean"],
        "judge_accuracy_real": seen(partners),
        "judge_accuracy_vae": seen(images["vae"]),
        "listener_accuracy_real": heard(clips),
        "listener_accuracy_vae": heard(sounds["vae"]),
        "image_codes_used": len(np.unique(models.image_tokens(pool))),
        "audio_codes_used": len(np.unique(tokens["audio"])),
        "test_pairs": len(test),
    }
    return TokenReport(summary, images, sounds, tokens)
