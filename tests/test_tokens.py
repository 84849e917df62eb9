"""The token models (``models/tokens.py``): discrete VAEs, annealing, perplexity and the translator."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest

from helpers.models.tokens import (
    DiscreteVAE,
    GumbelAnnealing,
    build_image_token_decoder,
    build_image_token_encoder,
    build_spectrogram_token_decoder,
    build_spectrogram_token_encoder,
    build_translator,
    codebook_perplexity,
)


def image_vae(codes: int = 16) -> DiscreteVAE:
    keras.utils.set_random_seed(0)
    vae = DiscreteVAE(
        build_image_token_encoder((32, 32, 1), codes, 8),
        build_image_token_decoder((8, 8), codes, (32, 32, 1), 8, 8),
        kl_weight=0.01,
    )
    vae.compile(keras.optimizers.Adam(1e-3))
    return vae


def test_image_vae_trains_gives_tokens_and_decodes_them():
    images = np.random.default_rng(0).uniform(-1, 1, (32, 32, 32, 1)).astype(np.float32)
    vae = image_vae()
    history = vae.fit(images, epochs=3, batch_size=16, verbose=0, callbacks=[GumbelAnnealing(3)])
    assert all(np.isfinite(values).all() for values in history.history.values())
    assert bool(vae.hard.numpy()), "the last epoch runs hard straight-through"
    tokens = vae.tokens(images)
    assert tokens.shape == (32, 8, 8) and tokens.min() >= 0 and tokens.max() < 16
    rebuilt = vae.decode_tokens(tokens)
    assert rebuilt.shape == images.shape
    assert np.allclose(rebuilt, vae.predict(images, verbose=0), atol=1e-5), (
        "decoding the argmax codes is the model"
    )


def test_spectrogram_vae_shapes():
    encoder = build_spectrogram_token_encoder((128, 128, 1), 16, 16, groups=4)
    decoder = build_spectrogram_token_decoder((16, 4), 16, (128, 128, 1), 16, 8)
    vae = DiscreteVAE(encoder, decoder, kl_weight=0.01)
    spectrograms = np.random.default_rng(1).normal(size=(2, 128, 128, 1)).astype(np.float32)
    assert vae.tokens(spectrograms).shape == (2, 16, 4)
    assert vae(spectrograms).shape == (2, 128, 128, 1)


def test_annealing_lowers_the_temperature_to_its_floor_then_goes_hard():
    vae = image_vae()
    annealing = GumbelAnnealing(10, start=1.0, floor=0.1, hard_share=0.2)
    annealing.set_model(vae)
    seen = []
    for epoch in range(10):
        annealing.on_epoch_begin(epoch)
        seen.append((float(vae.temperature.numpy()), bool(vae.hard.numpy())))
    temperatures = [t for t, _ in seen]
    assert temperatures[0] == pytest.approx(1.0) and temperatures[-1] == pytest.approx(0.1, rel=1e-5)
    assert all(a >= b for a, b in itertools.pairwise(temperatures))
    assert [hard for _, hard in seen] == [False] * 8 + [True] * 2


def test_codebook_perplexity():
    assert codebook_perplexity(np.arange(16), 16) == pytest.approx(16.0)
    assert codebook_perplexity(np.zeros(50, int), 16) == pytest.approx(1.0)
    assert codebook_perplexity(np.array([0, 1, 0, 1]), 16) == pytest.approx(2.0)


def test_translator_learns_a_fixed_mapping_between_token_grids():
    rng = np.random.default_rng(0)
    source = rng.integers(0, 4, (256, 6)).astype(np.int32)
    target = np.stack([source[:, 0], (source[:, 1] + 1) % 4, source[:, 2]], axis=1)  # a copy task
    keras.utils.set_random_seed(0)
    translator = build_translator(6, 4, 3, 4, dim=32, heads=2, blocks=1)
    assert translator(source[:2]).shape == (2, 3, 4)
    history = translator.fit(source, target, epochs=40, batch_size=32, verbose=0)
    assert history.history["token_accuracy"][-1] > 0.9
