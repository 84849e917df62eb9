"""The token models (``models/tokens.py``): discrete VAEs, annealing, perplexity and the translator."""

from __future__ import annotations

import dataclasses
import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import config
from helpers.metrics import codebook_perplexity, psnr
from helpers.models.classifier import classifier_accuracy, train_image_judge
from helpers.models.listener import hear_digits, train_listener
from helpers.models.tokens import (
    DiscreteVAE,
    GumbelAnnealing,
    build_image_token_decoder,
    build_image_token_encoder,
    build_spectrogram_token_decoder,
    build_spectrogram_token_encoder,
    build_token_translator,
)
from helpers.paired_data import load_paired_data
from helpers.tokens_eval import evaluate_tokens, token_accuracy
from helpers.tokens_pipeline import train_token_models
from helpers.training import fresh_partner_dataset


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


def copy_task(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Source ids ``(n, 2, 3)`` over 4 codes and a target ``(n, 3)`` computed from them."""
    source = np.random.default_rng(0).integers(0, 4, (n, 2, 3)).astype(np.int32)
    flat = source.reshape(n, -1)
    return source, np.stack([flat[:, 0], (flat[:, 1] + 1) % 4, flat[:, 5]], axis=1)


@pytest.mark.parametrize("autoregressive", [False, True])
def test_translator_learns_a_fixed_mapping_between_token_grids(autoregressive):
    source, target = copy_task()
    cfg = dataclasses.replace(
        config.load_preset("ci").tokens,
        translator_dim=32,
        translator_heads=2,
        translator_dropout=0.0,
        translator_learning_rate=3e-3,
        autoregressive=autoregressive,
    )
    keras.utils.set_random_seed(0)
    translator = build_token_translator((2, 3), 4, (3,), 4, cfg)
    data = translator.with_previous_tokens(tf.data.Dataset.from_tensor_slices((source, target)).batch(32))
    history = translator.fit(data, epochs=40, verbose=0)
    assert history.history["token_accuracy"][-1] > 0.9
    translated = translator.translate(source[:64])
    assert translated.shape == (64, 3) and translated.dtype == np.int32
    assert token_accuracy(translated, target[:64]) > 0.9, "generation decodes the way training taught"


def test_autoregressive_translation_feeds_each_choice_to_the_next_position():
    cfg = dataclasses.replace(config.load_preset("ci").tokens, autoregressive=True)
    translator = build_token_translator((2, 3), 4, (3,), 4, cfg)
    target = tf.constant([[1, 2, 3], [0, 0, 1]])
    assert translator.previous_tokens(target).numpy().tolist() == [[4, 1, 2], [4, 0, 0]]
    source = copy_task(5)[0]
    chosen = translator.translate(source)
    logits = translator((source, translator.previous_tokens(chosen)), training=False).numpy()
    assert np.array_equal(logits.argmax(-1), chosen), "teacher forcing on its own output gives it back"


def test_token_partners_keep_integer_ids():
    tokens = np.arange(12, dtype=np.int64).reshape(6, 2)
    data = fresh_partner_dataset(tokens, np.array([0, 1] * 3), tokens * 10, np.array([0, 1] * 3), 6, 0)
    source, target = next(iter(data))
    assert source.dtype == tf.int32 and target.dtype == tf.int32
    assert np.all(target.numpy() // 10 % 2 == source.numpy() % 2), "partners share the digit"


def test_psnr_and_token_accuracy():
    images = np.zeros((2, 4, 4, 1), np.float32)
    assert psnr(images + 0.1, images) == pytest.approx(20.0, abs=1e-3)
    assert token_accuracy(np.array([[1, 2], [3, 4]]), np.array([[1, 0], [3, 4]])) == 0.75


@pytest.fixture(scope="module")
def ci_run(tmp_path_factory):
    preset = config.load_preset("ci")
    data = load_paired_data(config.paths(preset), preset, "sample", "digits", announce=False)
    judge = train_image_judge(data.train_images.images, data.train_images.labels, 1, preset.seed)
    listener = train_listener(data.train.audio["spectrogram"], data.train.digits, 1, preset.seed)
    work_dir = tmp_path_factory.mktemp("tokens")
    training = train_token_models(data, preset, work_dir)
    report = evaluate_tokens(training.models, data, judge, listener, preset.gl_iterations, preset.seed)
    return preset, data, judge, listener, work_dir, training, report


def test_the_token_pipeline_trains_generates_and_is_measured(ci_run):
    preset, data, judge, listener, _, training, report = ci_run
    cfg, n = preset.tokens, len(data.test)
    assert set(training.histories) == {"image_vae", "audio_vae", "audio_to_image", "image_to_audio"}
    assert all(np.all(np.isfinite(h["loss"])) for h in training.histories.values())
    assert not training.models.image_vae.trainable and not training.models.audio_vae.trainable
    assert report.tokens["a2i"].shape == (n, 8, 8) and report.tokens["a2i"].max() < cfg.image_codes
    assert report.tokens["i2a"].shape == (n, 16, cfg.audio_groups)
    assert report.images["a2i"].shape == (n, *data.image_shape)
    assert report.clips["cycle"].shape == data.test.clips.shape
    assert np.all((report.images["cycle"] >= 0) & (report.images["cycle"] <= 1))
    for key in (
        "image_vae_psnr",
        "image_codebook_perplexity",
        "audio_vae_sc_db",
        "audio_codebook_perplexity",
        "a2i_token_accuracy",
        "a2i_digit_accuracy",
        "i2a_token_accuracy",
        "i2a_digit_accuracy",
        "cycle_audio_sc_db",
        "cycle_image_digit_accuracy",
    ):
        assert np.isfinite(report.summary[key]), key
    assert 1.0 <= report.summary["image_codebook_perplexity"] <= cfg.image_codes
    # the digit scores are the judge's and the listener's readings of this report's own outputs
    seen = classifier_accuracy(judge, report.images["a2i"], data.test.digits)
    assert report.summary["a2i_digit_accuracy"] == seen
    heard = hear_digits(listener, report.clips["i2a"], preset.front_end, data.stats)
    assert report.summary["i2a_digit_accuracy"] == float(np.mean(heard == data.test.digits))


def test_the_ci_preset_gives_the_same_numbers_twice(ci_run, tmp_path):
    preset, data, judge, listener, _, _, report = ci_run
    again = train_token_models(data, preset, tmp_path)
    rerun = evaluate_tokens(again.models, data, judge, listener, preset.gl_iterations, preset.seed)
    assert rerun.summary == report.summary
