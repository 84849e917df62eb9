"""The damages an image meets on its way to someone: measured (real codecs) and trained (layers)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers.damage import (
    JpegStraightThrough,
    RandomDamage,
    RandomResize,
    damage_layers,
    image_damages,
    upscaled_and_back,
)
from helpers.images import jpeg_round_trip, resize_images


def smooth_images(n: int = 4, size: int = 32, seed: int = 0) -> np.ndarray:
    """Images in [0.1, 0.9] made of a few low frequencies (what survives damage best)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    waves = [np.sin(2 * np.pi * (a * x + b * y) + c) for a, b, c in rng.uniform(0, 2, (n, 3))]
    return (0.5 + 0.4 * np.stack(waves)[..., None]).astype(np.float32)


def test_measured_damages_keep_shape_and_range_and_name_every_benchmark_key():
    images = np.random.default_rng(0).uniform(0, 1, (3, 32, 32, 1)).astype(np.float32)
    damages = image_damages(seed=0)
    assert list(damages) == ["png", "jpeg90", "jpeg75", "jpeg50", "resize75", "upscale8", "noise02"]
    for name, damage in damages.items():
        damaged = damage(images)
        assert damaged.shape == images.shape and damaged.min() >= 0 and damaged.max() <= 1, name
        assert np.array_equal(damaged, np.round(damaged * 255) / 255), f"{name} must end as 8-bit pixels"
        error = np.abs(damaged - images).max()
        assert error <= 0.5 / 255 + 1e-6 if name == "png" else error > 0.01, name


def test_an_enlargement_and_back_keeps_even_a_pixel_pattern():
    """The converter reads an enlarged picture at its pixel centres (``images.shrink_plane``):
    a smooth picture comes back, and a checkerboard keeps most of its contrast, which an
    antialiased shrink of the same enlargement averages away."""
    smooth = smooth_images()
    assert np.sqrt(np.mean((upscaled_and_back(smooth) - smooth) ** 2)) < 0.01
    checker = (np.indices((32, 32)).sum(0) % 2).astype(np.float32)[None, ..., None] * 0.2 + 0.4
    kept = np.std(upscaled_and_back(checker)) / np.std(checker)
    big = resize_images(checker, 256, undo_enlargement=False)
    averaged = np.std(resize_images(big, 32, undo_enlargement=False)) / np.std(checker)
    assert kept > 0.7 and averaged < 0.4, (kept, averaged)  # measured 0.77 and 0.26


def test_real_jpeg_layer_damages_only_while_training_and_passes_gradients_straight_through():
    layer = JpegStraightThrough(50, 50, seed=1)
    images = tf.constant(
        smooth_images(3) * 2 - 1 + np.random.default_rng(1).normal(0, 0.05, (3, 32, 32, 1)), tf.float32
    )
    assert np.array_equal(layer(images, training=False).numpy(), images.numpy())
    with tf.GradientTape() as tape:
        tape.watch(images)
        damaged = layer(images, training=True)
        loss = tf.reduce_sum(damaged * tf.range(32.0)[None, :, None, None])
    # forward: the JPEG codec at quality 50 (TensorFlow's libjpeg call; a PIL file differs by
    # about one grey level, its DCT being another implementation, far less than the damage)
    codec = tf.image.adjust_jpeg_quality((images[0] + 1) / 2, 50).numpy() * 2 - 1
    from_file = jpeg_round_trip((images.numpy() + 1) / 2, 50) * 2 - 1
    damage = np.abs(damaged.numpy() - images.numpy()).mean()
    assert damaged.shape == images.shape and damage > 0.02
    assert np.allclose(damaged.numpy()[0], codec, atol=1e-6)
    assert np.abs(damaged.numpy() - from_file).mean() < damage / 2
    # backward: the identity's gradient
    gradient = tape.gradient(loss, images).numpy()
    assert np.allclose(gradient, np.broadcast_to(np.arange(32.0)[None, :, None, None], gradient.shape))


def test_jpeg_layer_works_in_colour_and_refuses_impossible_qualities():
    images = tf.constant(np.random.default_rng(2).uniform(-1, 1, (2, 16, 16, 3)), tf.float32)
    damaged = JpegStraightThrough(70, 90, seed=0)(images, training=True)
    assert damaged.shape == images.shape and np.abs(damaged.numpy()).max() <= 1 + 1e-6
    with pytest.raises(ValueError, match="qualities"):
        JpegStraightThrough(90, 50)


def test_random_resize_blurs_a_fine_pattern_is_differentiable_and_keeps_the_size():
    layer = RandomResize(0.5, 0.5, seed=0)
    checker = tf.constant((np.indices((32, 32)).sum(0) % 2 * 2 - 1).astype(np.float32)[None, ..., None])
    with tf.GradientTape() as tape:
        tape.watch(checker)
        out = layer(checker, training=True)
        loss = tf.reduce_sum(out)
    assert out.shape == checker.shape and float(tf.reduce_max(tf.abs(out))) < 0.5  # the pattern is gone
    assert np.isfinite(tape.gradient(loss, checker).numpy()).all()
    assert np.array_equal(layer(checker, training=False).numpy(), checker.numpy())
    with pytest.raises(ValueError, match="fractions"):
        RandomResize(0.0, 1.0)


def test_the_training_mix_meets_every_damage_and_clean_batches_and_survives_saving(tmp_path):
    mix = damage_layers(seed=3)
    images = tf.constant(smooth_images(2) * 2 - 1, tf.float32)
    outcomes = set()
    for _ in range(40):
        damaged = mix(images, training=True).numpy()
        assert damaged.shape == images.shape and np.isfinite(damaged).all()
        outcomes.add(round(float(np.abs(damaged - images.numpy()).mean()), 3))
    assert 0.0 in outcomes and len(outcomes) >= 3  # clean batches and several kinds of damage
    assert np.array_equal(mix(images, training=False).numpy(), images.numpy())
    model = keras.Sequential([keras.Input((32, 32, 1)), mix])
    model.save(tmp_path / "mix.keras")
    loaded = keras.models.load_model(tmp_path / "mix.keras")
    restored = loaded.layers[-1]
    assert isinstance(restored, RandomDamage)
    assert [type(layer).__name__ for layer in restored.damages] == [
        "JpegStraightThrough",
        "RandomResize",
        "GaussianNoise",
    ]
