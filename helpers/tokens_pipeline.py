"""The token pipeline: two discrete VAEs and two translators, trained together and used as one.

Audio -> image: spectrogram -> audio tokens -> (translator) -> image tokens -> image VAE's
decoder. Image -> audio: image -> image tokens -> (translator) -> audio tokens -> spectrogram
VAE's decoder -> Griffin-Lim. The VAEs are trained first and then frozen; each translator
learns to predict the target VAE's argmax codes of a partner of the same digit (a new one
every epoch). Taught in ``06_token_transformer.ipynb``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from helpers.audio import NormStats, denormalise, spectrogram_to_waveform
from helpers.config import FrontEnd, Preset
from helpers.images import from_tanh_range, to_tanh_range
from helpers.models.tokens import (
    DiscreteVAE,
    TokenTranslator,
    build_token_translator,
    build_token_vaes,
    train_token_vae,
    train_translator,
)
from helpers.paired_data import PairedData
from helpers.training import fresh_partner_dataset, make_dataset

STAGES = ("image_vae", "audio_vae", "audio_to_image", "image_to_audio")


@dataclass
class TokenModels:
    """The four trained models, and what turns their spectrograms back into sound."""

    image_vae: DiscreteVAE
    audio_vae: DiscreteVAE
    audio_to_image: TokenTranslator | None  # None only while the translators are being trained
    image_to_audio: TokenTranslator | None
    stats: NormStats
    front_end: FrontEnd

    def image_tokens(self, images: np.ndarray) -> np.ndarray:
        """Images ``(n, h, w, c)`` in [0, 1] -> token grids ``(n, h / 4, w / 4)``."""
        return self.image_vae.tokens(to_tanh_range(images))

    def images_from_tokens(self, tokens: np.ndarray) -> np.ndarray:
        """Token grids -> images in [0, 1]."""
        return from_tanh_range(self.image_vae.decode_tokens(tokens))

    def audio_tokens(self, spectrograms: np.ndarray) -> np.ndarray:
        """Normalised spectrograms ``(n, F, T, 1)`` -> token grids ``(n, T / 8, groups)``."""
        return self.audio_vae.tokens(spectrograms)

    def spectrograms_db_from_tokens(self, tokens: np.ndarray) -> np.ndarray:
        """Audio token grids -> dB spectrograms ``(n, F, T)``."""
        return denormalise(self.audio_vae.decode_tokens(tokens)[..., 0], self.stats)

    def clips_from_tokens(self, tokens: np.ndarray, n_iter: int, seed: int = 0) -> np.ndarray:
        """Audio token grids -> waveforms ``(n, samples)`` through Griffin-Lim."""
        return spectrogram_to_waveform(self.spectrograms_db_from_tokens(tokens), self.front_end, n_iter, seed)

    def audio_to_image_tokens(self, audio_tokens: np.ndarray) -> np.ndarray:
        return self.audio_to_image.translate(audio_tokens)

    def image_to_audio_tokens(self, image_tokens: np.ndarray) -> np.ndarray:
        return self.image_to_audio.translate(image_tokens)


@dataclass
class TokenTraining:
    """What ``train_token_models`` returns: the models, each stage's loss curves and seconds."""

    models: TokenModels
    histories: dict[str, dict[str, list[float]]]
    seconds: dict[str, float]


def _timed(seconds: dict[str, float], stage: str, train, *args, **kwargs):
    """``train(*args, **kwargs)``, its seconds kept in ``seconds[stage]``."""
    start = time.perf_counter()
    result = train(*args, **kwargs)
    seconds[stage] = time.perf_counter() - start
    return result


def train_token_models(
    data: PairedData, preset: Preset, work_dir: str | Path, progress_every: int | None = None
) -> TokenTraining:
    """Train the image VAE (on the training image pool), the spectrogram VAE (on the training
    clips), then, with both frozen, the two translators on their argmax codes: each training
    clip's tokens against the tokens of a new image of its digit every epoch, and each
    training image's tokens against those of a new clip of its digit. Resumable: each stage
    checkpoints in its own folder under ``work_dir``."""
    cfg, seed, work_dir = preset.tokens, preset.seed, Path(work_dir)
    spectrograms = data.train.audio["spectrogram"]
    image_vae, audio_vae = build_token_vaes(data.image_shape, data.audio_shape("spectrogram"), cfg, seed)
    histories, seconds = {}, {}
    for stage, vae, inputs in (
        ("image_vae", image_vae, to_tanh_range(data.train_images.images)),
        ("audio_vae", audio_vae, spectrograms),
    ):
        histories[stage] = _timed(
            seconds, stage, train_token_vae, vae, inputs, cfg, seed, work_dir / stage, progress_every
        )
        vae.trainable = False
    models = TokenModels(image_vae, audio_vae, None, None, data.stats, preset.front_end)
    image_tokens, audio_tokens = (
        models.image_tokens(data.train_images.images),
        models.audio_tokens(spectrograms),
    )
    image_labels, clip_digits = data.train_images.labels, data.train.digits
    # held-out curves: each test clip against its fixed partner image, both ways round
    test_audio = models.audio_tokens(data.test.audio["spectrogram"])
    test_images = models.image_tokens(data.test.partners)
    image_grid, audio_grid = image_tokens.shape[1:], audio_tokens.shape[1:]
    keras.utils.set_random_seed(seed + 2)  # the translators start alike whatever ran before
    translators = {
        "audio_to_image": build_token_translator(
            audio_grid,
            cfg.audio_codes,
            image_grid,
            cfg.image_codes,
            cfg,
            "audio_to_image",
            cfg.audio_to_image_dim,
        ),
        "image_to_audio": build_token_translator(
            image_grid, cfg.image_codes, audio_grid, cfg.audio_codes, cfg, name="image_to_audio"
        ),
    }
    pairs = {
        "audio_to_image": (audio_tokens, clip_digits, image_tokens, image_labels),
        "image_to_audio": (image_tokens, image_labels, audio_tokens, clip_digits),
    }
    held_out = {"audio_to_image": (test_audio, test_images), "image_to_audio": (test_images, test_audio)}
    batch = cfg.translator_batch_size
    for stage, translator in translators.items():
        dataset = fresh_partner_dataset(*pairs[stage], batch, seed)
        validation = make_dataset(held_out[stage], batch, seed, shuffle=False)
        histories[stage] = _timed(
            seconds,
            stage,
            train_translator,
            translator,
            dataset,
            cfg,
            work_dir / stage,
            validation,
            progress_every,
        )
    models.audio_to_image, models.image_to_audio = (
        translators["audio_to_image"],
        translators["image_to_audio"],
    )
    return TokenTraining(models, histories, seconds)
