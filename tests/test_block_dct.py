"""The block-DCT code: where it lives, that it is linear and exactly readable, that JPEG keeps it,
and that projection's low-frequency stage reads a damaged image better than the pixels alone."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import config
from helpers.block_dct import (
    BlockDctCode,
    CodeView,
    LowFrequencies,
    block_dct_basis,
    frequency_energy,
    orthonormal_map,
)
from helpers.images import jpeg_round_trip
from helpers.metrics import cosine_rows
from helpers.models.gan import (
    build_generator,
    build_latent_encoder,
    dct_code_frequencies,
    generate,
    generator_paths,
    sample_latents,
)
from helpers.projection import drawing_error, fit_error, project_images, rms_pixel_error

CFG = config.load_preset("ci").gan


def test_basis_is_orthonormal_and_starts_with_the_block_mean():
    basis = block_dct_basis(3).reshape(64, 9)
    np.testing.assert_allclose(basis.T @ basis, np.eye(9), atol=1e-6)
    np.testing.assert_allclose(basis[:, 0], np.full(64, 1 / 8), atol=1e-6)
    q = orthonormal_map(144, 128, seed=0)
    np.testing.assert_allclose(q.T @ q, np.eye(128), atol=1e-5)
    np.testing.assert_array_equal(q, orthonormal_map(144, 128, seed=0))
    with pytest.raises(ValueError, match="code_frequencies"):
        orthonormal_map(9, 16, seed=0)


def test_code_is_linear_lives_in_the_low_frequencies_and_reads_back_exactly():
    z = sample_latents(4, 16, 0)
    layer = BlockDctCode([16, 24, 2], frequencies=2, seed=3)
    code = layer(z).numpy()
    assert code.shape == (4, 16, 24, 2)
    np.testing.assert_allclose(layer(2 * z).numpy(), 2 * code, atol=1e-5)
    coefficients = LowFrequencies(2)(code).numpy()
    np.testing.assert_allclose(coefficients, z @ layer.map.numpy().T, atol=1e-5)
    everything = LowFrequencies(8)(code).numpy().reshape(4, 2, 3, 2, 8, 8)
    low = np.zeros((8, 8), bool)
    low[:2, :2] = True
    assert np.abs(everything[..., ~low]).max() < 1e-5, "no energy above the code's frequencies"
    reloaded = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert (reloaded.image_shape, reloaded.frequencies, reloaded.seed) == ([16, 24, 2], 2, 3)


def test_jpeg_keeps_the_code_and_rounds_a_dense_code_away():
    """A code alone on mid-grey, through JPEG 75: the low-frequency code reads back far better
    than a dense pixel code of the same energy read by its own least squares."""
    z = sample_latents(32, 64, 1)
    layer = BlockDctCode([32, 32, 1], frequencies=3, seed=0)
    code = layer(z).numpy()
    amplitude = 0.3
    damaged = jpeg_round_trip(0.5 + 0.5 * amplitude * code, 75) * 2 - 1
    read = LowFrequencies(3)(tf.constant(damaged.astype(np.float32))).numpy() @ layer.map.numpy() / amplitude
    dense = np.random.default_rng(0).standard_normal((64, 1024)).astype(np.float32)
    dense *= np.std(code) / np.std(z @ dense)
    dense_image = 0.5 + 0.5 * amplitude * (z @ dense).reshape(32, 32, 32, 1)
    dense_read = (
        (jpeg_round_trip(dense_image, 75).reshape(32, -1) * 2 - 1) @ np.linalg.pinv(dense) / amplitude
    )
    error, dense_error = (np.sqrt(np.mean((r - z) ** 2)) for r in (read, dense_read))
    assert error < 0.1 and error < 0.5 * dense_error, (error, dense_error)


def test_generator_with_a_dct_code_adds_it_to_the_content():
    generator = build_generator(
        16, (32, 32, 1), dataclasses.replace(CFG, code_basis="dct", code_amplitude=0.3)
    )
    assert dct_code_frequencies(generator) == CFG.code_frequencies
    z = sample_latents(3, 16, 0)
    content, code = (t.numpy() for t in generator_paths(generator)[0](z))
    np.testing.assert_allclose(generator(z).numpy(), np.clip(content + 0.3 * code, -1, 1), atol=1e-5)
    assert not generator.get_layer("code_image").trainable_weights, "the code's map is fixed"
    dense = build_generator(16, (32, 32, 1), dataclasses.replace(CFG, code_basis="dense"))
    assert dct_code_frequencies(dense) is None
    with pytest.raises(ValueError, match="code_basis"):
        build_generator(16, (32, 32, 1), dataclasses.replace(CFG, code_basis="wavelet"))


def test_the_code_view_counts_the_code_frequencies_fully_and_the_rest_lightly():
    rng = np.random.default_rng(3)
    a, b = (tf.constant(rng.normal(size=(2, 32, 32, 1)).astype(np.float32)) for _ in range(2))
    view = CodeView(3, pixel_weight=0.4)
    assert view(a).shape == view.compute_output_shape(a.shape) == (2, 144 + 1024)
    low = LowFrequencies(3)
    expected = np.sum(np.square(low(a) - low(b)), axis=1) + 0.16 * np.sum(np.square(a - b), axis=(1, 2, 3))
    np.testing.assert_allclose(np.sum(np.square(view(a) - view(b)), axis=1), expected, rtol=1e-4)


def test_the_low_frequency_stage_reads_a_jpeg_better_than_the_pixels_alone():
    """Untrained content plus a DCT code; the start is the code read by least squares (content
    ignored), so the stages have work to do. On JPEG 50 images, the steps on the code's view
    after polishing end closer than the pixel steps alone."""
    latent_dim, amplitude = 16, 0.3
    cfg = dataclasses.replace(CFG, code_basis="dct", code_amplitude=amplitude, generator_width=16)
    keras.utils.set_random_seed(0)
    generator = build_generator(latent_dim, (32, 32, 1), cfg)
    code_map = generator.get_layer("code_image").map.numpy()
    image = keras.Input((32, 32, 1))
    read = keras.layers.Dense(latent_dim, use_bias=False, trainable=False)
    encoder = keras.Model(image, read(LowFrequencies(3)(image)))
    read.set_weights([code_map / amplitude])
    z = sample_latents(24, latent_dim, 2)
    damaged = jpeg_round_trip(generate(generator, z), 50)
    settings = {"steps": 3, "polish_steps": 6, "tolerance": 0.005}
    pixels = project_images(damaged, generator, encoder, **settings, lowpass_steps=0)
    viewed = project_images(
        damaged, generator, encoder, **settings, lowpass_steps=4, lowpass_pixel_weight=0.4
    )
    miss_pixels, miss_viewed = (1 - np.median(cosine_rows(z, found)) for found in (pixels, viewed))
    assert miss_viewed < 0.8 * miss_pixels, (miss_viewed, miss_pixels)


def test_an_image_bundle_with_a_dct_code_saves_and_loads(tmp_path):
    from helpers.models.gan import build_gan, load_image_model, save_image_model

    cfg = dataclasses.replace(CFG, code_basis="dct", code_amplitude=0.3)
    gan = build_gan(16, (32, 32, 1), cfg, seed=0)
    code_map = gan.generator.get_layer("code_image").map.numpy()
    # the encoder's linear reading starts at the code's least-squares inverse
    np.testing.assert_allclose(gan.encoder.get_layer("code_read").get_weights()[0], code_map / 0.3, atol=1e-6)
    save_image_model(tmp_path / "image_model", {"generator": gan.generator, "encoder": gan.encoder}, {})
    models, _ = load_image_model(tmp_path / "image_model", latent_dim=16)
    z = sample_latents(4, 16, 1)
    np.testing.assert_allclose(
        models["generator"].predict(z, verbose=0), gan.generator.predict(z, verbose=0), atol=1e-5
    )
    images = generate(gan.generator, z)
    np.testing.assert_allclose(
        models["encoder"].predict(images, verbose=0), gan.encoder.predict(images, verbose=0), atol=1e-5
    )
    assert dct_code_frequencies(models["generator"]) == cfg.code_frequencies


def test_frequency_energy_finds_the_code_low_and_a_checkerboard_high():
    code = BlockDctCode([32, 32, 1], frequencies=3, seed=0)(sample_latents(8, 128, 0)).numpy()
    energy = frequency_energy(code)
    assert energy.shape == (8, 8)
    assert energy[:3, :3].sum() > 0.999 * energy.sum()
    np.testing.assert_allclose(energy.sum(), np.mean(np.square(code)) * 64, rtol=1e-4)  # orthonormal
    checkerboard = np.indices((16, 16)).sum(axis=0) % 2 * 2.0 - 1.0
    high = frequency_energy(checkerboard[None, :, :, None])
    assert np.unravel_index(np.argmax(high), high.shape) == (7, 7)


def test_fit_error_is_the_pooled_residual_for_a_dct_code_and_the_pixel_error_for_a_dense_one():
    z = sample_latents(5, 16, 3)
    images = np.random.default_rng(0).uniform(0, 1, (5, 32, 32, 1)).astype(np.float32)
    for basis, measure in (("dct", drawing_error), ("dense", rms_pixel_error)):
        generator = build_generator(16, (32, 32, 1), dataclasses.replace(CFG, code_basis=basis))
        np.testing.assert_allclose(fit_error(images, generator, z), measure(images, generator, z))
    # pooling cancels fine speckle: noise on a generated image costs the pooled error far less
    speckled = np.clip(generate(generator, z) + np.random.default_rng(1).normal(0, 0.02, images.shape), 0, 1)
    assert np.all(drawing_error(speckled, generator, z) < 0.5 * rms_pixel_error(speckled, generator, z))


def test_the_last_steps_never_change_which_images_are_read_as_drawings():
    """The drawing test reads the polished fit, before the steps on the code's view, which fit
    a drawing's pixels better and could slip it under the tolerance; drawings skip them."""
    latent_dim = 16
    cfg = dataclasses.replace(CFG, code_basis="dct", code_amplitude=0.3, generator_width=16)
    keras.utils.set_random_seed(0)
    generator = build_generator(latent_dim, (32, 32, 1), cfg)
    encoder = build_latent_encoder((32, 32, 1), latent_dim, cfg)
    z = sample_latents(6, latent_dim, 5)
    drawings = np.zeros((4, 32, 32, 1), np.float32)
    for i, drawing in enumerate(drawings):
        drawing[6 + i : 26, 10 + i : 14 + i] = 1.0  # a stroke the generator never drew
    images = np.concatenate([jpeg_round_trip(generate(generator, z), 50), drawings])
    answer = np.full(latent_dim, 7.0, np.float32)

    def run(last_steps: int) -> tuple[np.ndarray, list[int]]:
        read = []

        def reader(found: np.ndarray) -> np.ndarray:
            read.append(len(found))
            return np.tile(answer, (len(found), 1))

        settings = dict(steps=2, polish_steps=2, tolerance=0.003, drawing_tolerance=0.006)
        found = project_images(
            images, generator, encoder, **settings, read_drawings=reader, lowpass_steps=last_steps
        )
        return found, read

    without, read_without = run(0)
    with_steps, read_with = run(4)
    assert read_with == read_without and read_with[0] >= 1
    drawn = np.all(with_steps == answer, axis=1)
    np.testing.assert_array_equal(drawn, np.all(without == answer, axis=1))
    np.testing.assert_array_equal(with_steps[drawn], without[drawn])
