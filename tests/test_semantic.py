"""The semantic code: the digit head, the fidelity term, the drawing reader, and the way
everything still works without labels."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import config, datasets
from helpers.models.gan import (
    build_gan,
    build_generator,
    digits_of_latents,
    generate,
    install_digit_head,
    load_image_model,
    sample_latents,
    save_image_model,
    train_gan,
)
from helpers.models.semantic import (
    DrawingReader,
    digit_prototypes,
    fidelity_classifier_network,
    read_digits,
    train_digit_head,
    train_semantic_parts,
)
from helpers.projection import project_images, rms_pixel_error
from helpers.round_trip import load_bridge

PRESET = config.load_preset("ci")
CFG = dataclasses.replace(
    PRESET.gan,
    generator_width=16,
    discriminator_width=8,
    encoder_units=16,
    batch_size=8,
    head_units=32,
    head_count=2,
    head_epochs=40,
    classifier_epochs=1,
)
SHAPE = (16, 16, 1)
D = 8


def clustered_latents(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Latents ``(n, D)`` in ten well-separated clusters, and their cluster (digit)."""
    centres = np.random.default_rng(0).normal(0.0, 3.0, (10, D))
    rng = np.random.default_rng(seed)
    digits = np.arange(n) % 10
    return (centres[digits] + rng.normal(0.0, 0.5, (n, D))).astype(np.float32), digits


def digit_images(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Labelled images ``(n, 16, 16, 1)`` in [0, 1]: one bright bar per digit, at its own place."""
    labels = np.arange(n) % 10
    images = np.zeros((n, *SHAPE), np.float32)
    for i, digit in enumerate(labels):
        images[i, digit : digit + 4, 2:14] = 1.0
    return images, labels


def test_the_head_reads_digits_and_the_generator_draws_from_the_same_reading_while_training():
    latents, digits = clustered_latents(400, seed=1)
    head = train_digit_head(latents, digits, CFG, seed=0)
    fresh, fresh_digits = clustered_latents(200, seed=2)
    assert np.mean(read_digits(head, fresh) == fresh_digits) >= 0.9
    generator = build_generator(D, SHAPE, CFG, n_classes=10)
    install_digit_head(generator, head)
    np.testing.assert_array_equal(digits_of_latents(generator, fresh), read_digits(head, fresh))
    # the head carries no noise or dropout: in training mode the generator reads z as at inference
    probabilities = keras.Model(generator.inputs, generator.get_layer("digit_probabilities").output)
    np.testing.assert_allclose(
        probabilities(fresh, training=True), probabilities(fresh, training=False), atol=1e-6
    )
    assert digits_of_latents(build_generator(D, SHAPE, CFG), fresh) is None  # no head, no reading


def test_the_fidelity_term_trains_the_content_path_and_never_the_head(tmp_path):
    latents, digits = clustered_latents(200, seed=1)
    head = train_digit_head(latents, digits, dataclasses.replace(CFG, head_epochs=2), seed=0)
    fidelity = fidelity_classifier_network(SHAPE, 10)
    fidelity.trainable = False
    gan = build_gan(D, SHAPE, CFG, seed=0, head=head, fidelity_classifier=fidelity)
    assert "fidelity" in [m.name for m in gan.metrics]
    z = tf.constant(sample_latents(8, D, 1))
    with tf.GradientTape() as tape:
        _, _, _, content = gan.render(z, tf.zeros((8, *SHAPE)))
        wanted = tf.argmax(gan.head_logits(z), axis=-1)
        loss = tf.reduce_mean(
            keras.losses.sparse_categorical_crossentropy(wanted, fidelity(content), from_logits=True)
        )
    gradients = tape.gradient(loss, gan.generator.trainable_variables)
    assert any(g is not None and np.abs(g.numpy()).sum() > 0 for g in gradients)
    head_weights = [w.copy() for w in gan.generator.get_layer("digit_head").get_weights()]
    assert not gan.generator.get_layer("digit_head").trainable_weights  # frozen
    images, _ = digit_images(24)
    preset = dataclasses.replace(PRESET, gan=dataclasses.replace(CFG, epochs=2))
    history = train_gan(gan, images, preset, tmp_path / "semantic", sample_latents(4, D, 0))
    assert np.isfinite(history["fidelity"]).all() and len(history["fidelity"]) == 2
    for before, after in zip(head_weights, gan.generator.get_layer("digit_head").get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)
    plain = build_gan(D, SHAPE, CFG, seed=0)  # the unconditioned ablation: no head, no fidelity term
    assert "fidelity" not in [m.name for m in plain.metrics]
    assert "digit_head" not in {layer.name for layer in plain.generator.layers}
    with pytest.raises(ValueError, match="digits"):
        build_gan(D, SHAPE, CFG, head=head, fidelity_classifier=fidelity_classifier_network(SHAPE, 3))


def test_semantic_parts_need_labels_on_both_sides():
    latents, digits = clustered_latents(100, seed=1)
    images, labels = digit_images(50)
    parts = train_semantic_parts(latents, digits, images, labels, CFG, seed=0)
    assert parts is not None and parts.head.output_shape[-1] == 10
    np.testing.assert_allclose(parts.prototypes[3], latents[digits == 3].mean(axis=0), rtol=1e-5)
    unknown = np.full_like(digits, -1)  # an unlabelled audio folder: every digit -1
    assert train_semantic_parts(latents, unknown, images, labels, CFG, seed=0) is None
    assert train_semantic_parts(None, None, images, labels, CFG, seed=0) is None  # no audio model yet
    assert train_semantic_parts(latents, digits, images, np.full_like(labels, -1), CFG, seed=0) is None
    assert train_semantic_parts(latents, digits % 5, images, labels, CFG, seed=0) is None  # other digits
    off = dataclasses.replace(CFG, semantic=False)
    assert train_semantic_parts(latents, digits, images, labels, off, seed=0) is None
    with pytest.raises(ValueError, match="digit"):
        digit_prototypes(latents[digits < 9], digits[digits < 9], 10)


def test_an_unlabelled_audio_folder_trains_without_the_semantic_term(tmp_path, write_audio, front_end):
    """Files with no digit in their names: the catalog says -1, the semantic code is off, and the
    unconditioned GAN still trains and its images still give their latents back."""
    t = np.arange(front_end.clip_samples) / front_end.sample_rate
    for i in range(4):
        write_audio(
            f"voices/clip_{i}.wav", (0.3 * np.sin(2 * np.pi * (300 + 50 * i) * t)).astype(np.float32), 8000
        )
    catalog = datasets.scan_audio_folder(tmp_path / "voices")
    assert (catalog.digits == -1).all()
    images, labels = digit_images(16)
    latents = np.random.default_rng(0).normal(size=(len(catalog), D)).astype(np.float32)
    assert train_semantic_parts(latents, catalog.digits, images, labels, CFG, seed=0) is None
    gan = build_gan(D, SHAPE, CFG, seed=0, head=None, fidelity_classifier=None)
    preset = dataclasses.replace(PRESET, gan=dataclasses.replace(CFG, epochs=1))
    history = train_gan(gan, images, preset, tmp_path / "gan", sample_latents(4, D, 0))
    assert "fidelity" not in history and np.isfinite(history["g_loss"]).all()
    z = sample_latents(4, D, 3)
    z_hat = project_images(generate(gan.generator, z), gan.generator, gan.encoder, steps=2, tolerance=0.0)
    assert z_hat.shape == z.shape and np.isfinite(z_hat).all()


def test_projection_hands_only_the_images_it_cannot_fit_to_the_drawing_reader():
    generator = build_generator(D, SHAPE, CFG)
    encoder = build_gan(D, SHAPE, CFG, seed=0).encoder
    z = sample_latents(6, D, 2)
    drawings, _ = digit_images(6)
    images = np.concatenate([generate(generator, z), drawings])
    plain = project_images(images, generator, encoder, steps=3, tolerance=0.0)
    error = rms_pixel_error(images, generator, plain)
    tolerance = float(np.median(error))
    answer = np.full((1, D), 7.0, np.float32)
    asked = []

    def reader(batch: np.ndarray) -> np.ndarray:
        asked.append(len(batch))
        return np.repeat(answer, len(batch), axis=0)

    z_hat = project_images(
        images, generator, encoder, steps=3, tolerance=0.0, drawing_tolerance=tolerance, read_drawings=reader
    )
    far = error > tolerance
    assert asked == [int(far.sum())] and 0 < far.sum() < len(images)
    np.testing.assert_allclose(z_hat[far], 7.0)
    np.testing.assert_allclose(z_hat[~far], plain[~far], atol=1e-5)
    # off by default: no tolerance, no reader
    np.testing.assert_allclose(
        project_images(images, generator, encoder, steps=3, tolerance=0.0, read_drawings=reader),
        plain,
        atol=1e-5,
    )


def test_a_drawing_reader_answers_with_the_prototype_of_the_digit_it_sees():
    images, labels = digit_images(40)
    classifier = fidelity_classifier_network(SHAPE, 10)
    classifier.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    keras.utils.set_random_seed(0)
    classifier.fit(images * 2 - 1, labels, epochs=40, verbose=0)
    prototypes = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, D), np.float32)
    reader = DrawingReader(classifier, prototypes)
    np.testing.assert_array_equal(reader.digits(images), labels)
    np.testing.assert_allclose(reader(images[:3]), prototypes[labels[:3]])


@pytest.mark.floor
def test_a_semantic_image_model_saves_and_loads_with_its_head_and_drawing_reader(tmp_path, save_tiny_models):
    root = save_tiny_models(tmp_path / "models")
    latent_dim = PRESET.autoencoder.latent_dim
    latents = np.random.default_rng(0).normal(size=(200, latent_dim)).astype(np.float32)
    digits = np.arange(200) % 10
    head = train_digit_head(latents, digits, dataclasses.replace(CFG, head_epochs=2), seed=0)
    gan = build_gan(latent_dim, (32, 32, 1), CFG, seed=0, head=head)
    reader = fidelity_classifier_network((32, 32, 1), 10)
    prototypes = digit_prototypes(latents, digits, 10)
    models = {"generator": gan.generator, "encoder": gan.encoder, "reader": reader}
    save_image_model(root / "image_model", models, {"semantic": True, "prototypes": prototypes.tolist()})
    loaded, _ = load_image_model(root / "image_model", latent_dim, (32, 32, 1))
    z = sample_latents(4, latent_dim, 1)
    np.testing.assert_allclose(
        loaded["generator"].predict(z, verbose=0), gan.generator.predict(z, verbose=0), atol=1e-5
    )
    np.testing.assert_array_equal(digits_of_latents(loaded["generator"], z), read_digits(head, z))
    bridge = load_bridge(root / "audio_model", root / "image_model")
    assert bridge.drawing_reader is not None
    np.testing.assert_allclose(bridge.drawing_reader.prototypes, prototypes, rtol=1e-6)
    drawings = np.zeros((2, 32, 32, 1), np.float32)
    drawings[:, 8:24, 14:18] = 1.0  # a "1" the generator never drew
    sounds = bridge.images_to_clips(drawings)
    assert sounds.shape == (2, PRESET.front_end.clip_samples) and np.isfinite(sounds).all()


def test_the_head_reads_every_digit_equally_often_on_the_prior():
    """Clusters far from the prior's centre would leave some digits rare among prior samples;
    the balance evens them out and keeps the clusters read right."""
    latents, digits = clustered_latents(400, seed=1)
    head = train_digit_head(latents, digits, CFG, seed=0)
    share = np.bincount(read_digits(head, sample_latents(5000, D, 9)), minlength=10) / 5000
    assert share.min() >= 0.07 and share.max() <= 0.13
    fresh, fresh_digits = clustered_latents(200, seed=2)
    assert np.mean(read_digits(head, fresh) == fresh_digits) >= 0.9
    balance = head.get_layer("prior_balance").get_weights()[0]
    assert np.abs(balance).max() > 0  # it did move
