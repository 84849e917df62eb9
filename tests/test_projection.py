import dataclasses
import json
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import config
from helpers.images import as_png
from helpers.metrics import cosine_rows, recovery_rate
from helpers.models.gan import build_gan, generate, sample_latents, train_gan
from helpers.projection import (
    broyden_update,
    damage_images,
    project_images,
    project_images_adam,
    project_images_baseline,
    quantise,
    train_inversion_encoder,
)
from helpers.projection_eval import timed_projection

PRESET = config.load_preset("ci")
SHAPE = (16, 16, 1)


def linear_generator(latent_dim: int = 6, seed: int = 0, scale: float = 0.15) -> keras.Model:
    """A well-conditioned map z -> tanh(W z) image: its exact inverse exists, so Adam must find it
    (a larger ``scale`` saturates the tanh more: a bent generator)."""
    z = keras.Input((latent_dim,))
    dense = keras.layers.Dense(int(np.prod(SHAPE)), use_bias=False, activation="tanh")
    model = keras.Model(z, keras.layers.Reshape(SHAPE)(dense(z)))
    rng = np.random.default_rng(seed)
    dense.set_weights([rng.normal(scale=scale, size=(latent_dim, int(np.prod(SHAPE)))).astype(np.float32)])
    return model


def zero_encoder(latent_dim: int = 6) -> keras.Model:
    image = keras.Input(SHAPE)
    return keras.Model(image, keras.layers.Lambda(lambda x: tf.zeros((tf.shape(x)[0], latent_dim)))(image))


def ill_conditioned_generator(latent_dim: int = 8, seed: int = 0) -> keras.Model:
    """A linear map whose directions are rendered at strengths 1 ... 0.03 (condition number about 33)."""
    z = keras.Input((latent_dim,))
    dense = keras.layers.Dense(int(np.prod(SHAPE)), use_bias=False)
    model = keras.Model(z, keras.layers.Reshape(SHAPE)(dense(z)))
    rng = np.random.default_rng(seed)
    left, _ = np.linalg.qr(rng.normal(size=(latent_dim, latent_dim)))
    right, _ = np.linalg.qr(rng.normal(size=(int(np.prod(SHAPE)), latent_dim)))
    strengths = np.geomspace(1.0, 0.03, latent_dim)
    dense.set_weights([(left * strengths @ right.T * 0.5).astype(np.float32)])
    return model


def test_gauss_newton_finds_the_latent_of_an_invertible_generator():
    generator = linear_generator()
    z = sample_latents(20, 6, 1)
    images = generate(generator, z)
    z_hat = project_images(images, generator, zero_encoder(), steps=8, jacobian_updates=8)
    assert z_hat.shape == z.shape
    assert recovery_rate(z, z_hat) == 1.0
    assert np.min(cosine_rows(z, z_hat)) > 0.9999
    # and no steps means the encoder's estimate is returned as it is
    assert np.all(project_images(images, generator, zero_encoder(), 0) == 0.0)


def linear_encoder(generator: keras.Model, mixing: np.ndarray, bias: np.ndarray) -> keras.Model:
    """For a linear generator ``x = z A``: the encoder ``x -> z_true M + b`` with ``M = mixing``
    (a row of latents times ``mixing``) and ``b = bias``; ``M = I, b = 0`` inverts it exactly."""
    kernel = generator.layers[1].get_weights()[0]  # (d, pixels)
    image = keras.Input(SHAPE)
    dense = keras.layers.Dense(kernel.shape[0])
    model = keras.Model(image, dense(keras.layers.Flatten()(image)))
    dense.set_weights([(np.linalg.pinv(kernel) @ mixing).astype(np.float32), bias.astype(np.float32)])
    return model


def test_feedback_steps_cancel_the_encoders_own_error():
    """An encoder off by a fixed bias and a mixing of directions recovers few latents; reading it
    on the target and on the current image cancels its error (e -> (I - M) e per step)."""
    generator, latent_dim = ill_conditioned_generator(), 8
    rng = np.random.default_rng(3)
    mixing = np.eye(latent_dim) + 0.3 * np.linalg.qr(rng.normal(size=(latent_dim, latent_dim)))[0]
    encoder = linear_encoder(generator, mixing, bias=np.full(latent_dim, 0.5))
    z = sample_latents(32, latent_dim, 5)
    images = generate(generator, z)
    alone = project_images(images, generator, encoder, steps=0)
    fed_back = project_images(images, generator, encoder, steps=0, feedback_steps=12)
    assert recovery_rate(z, alone) < 0.5
    assert np.min(cosine_rows(z, fed_back)) > 0.9999


def test_feedback_steps_never_return_a_worse_fit_than_the_encoders():
    """An encoder that overshoots threefold makes every feedback step worse (e -> -2 e): each image
    keeps the encoder's estimate, the best fit it saw."""
    generator, latent_dim = ill_conditioned_generator(), 8
    encoder = linear_encoder(generator, 3.0 * np.eye(latent_dim), np.zeros(latent_dim))
    images = generate(generator, sample_latents(16, latent_dim, 6))
    alone = project_images(images, generator, encoder, steps=0)
    fed_back = project_images(images, generator, encoder, steps=0, feedback_steps=4)
    np.testing.assert_allclose(fed_back, alone, atol=1e-6)


def test_gauss_newton_is_spent_only_on_images_still_off(monkeypatch):
    """Images the earlier stages already fit within ``tolerance`` never reach Gauss-Newton."""
    from helpers import projection

    generator, latent_dim = ill_conditioned_generator(), 8
    encoder = linear_encoder(generator, np.eye(latent_dim), np.zeros(latent_dim))  # exact
    clean = generate(generator, sample_latents(8, latent_dim, 7))
    noisy = clean.copy()
    noisy[5:] += np.random.default_rng(0).normal(scale=0.05, size=noisy[5:].shape).astype(np.float32)
    solved = []
    solver = projection._gauss_newton_on_z
    monkeypatch.setattr(
        projection, "_gauss_newton_on_z", lambda *args: solved.append(len(args[1])) or solver(*args)
    )
    exact = project_images(clean, generator, encoder, steps=3, polish_steps=2)
    assert solved == [] and np.allclose(exact, project_images(clean, generator, encoder, steps=0))
    project_images(noisy, generator, encoder, steps=3, polish_steps=2)
    assert solved == [3, 3, 3]  # the three noisy images: Gauss-Newton, then each polishing step


def test_gauss_newton_is_not_slowed_by_faint_directions_where_adam_is():
    """On a generator with condition number 33, two lightly damped Gauss-Newton steps recover
    every latent; Adam, given 100 steps, leaves the faint directions short of their values
    (measured: at most 41 % recovered for learning rates 0.05-0.2)."""
    generator = ill_conditioned_generator()
    z = sample_latents(32, 8, 4)
    images = generate(generator, z)
    gauss_newton = project_images(
        images, generator, zero_encoder(8), steps=2, jacobian_updates=1, damping=1e-7, tolerance=0.0
    )  # some of these faint images are within the usual tolerance of a zero latent
    adam = project_images_adam(images, generator, zero_encoder(8), 100, 0.1, 0.0)
    assert np.min(cosine_rows(z, gauss_newton)) > 0.9999
    assert recovery_rate(z, adam) < 0.5


def test_broyden_update_matches_the_measured_change_and_keeps_other_directions():
    rng = np.random.default_rng(0)
    jacobian = tf.constant(rng.standard_normal((2, 5, 7)), tf.float32)
    normal = tf.matmul(jacobian, jacobian, transpose_b=True)
    step = tf.constant(rng.standard_normal((2, 5)), tf.float32)
    change = tf.constant(rng.standard_normal((2, 7)), tf.float32)
    updated, updated_normal = (t.numpy() for t in broyden_update(jacobian, normal, step, change))
    np.testing.assert_allclose(np.einsum("bdp,bd->bp", updated, step.numpy()), change.numpy(), atol=1e-4)
    np.testing.assert_allclose(updated_normal, updated @ updated.transpose(0, 2, 1), atol=1e-3)
    other = rng.standard_normal(5)
    other -= other @ step.numpy()[0] / np.sum(step.numpy()[0] ** 2) * step.numpy()[0]  # orthogonal to step 0
    np.testing.assert_allclose(other @ updated[0], other @ jacobian.numpy()[0], atol=1e-4)
    tiny, tiny_normal = broyden_update(jacobian, normal, step * 1e-6, change)
    np.testing.assert_array_equal(tiny.numpy(), jacobian.numpy())
    np.testing.assert_array_equal(tiny_normal.numpy(), normal.numpy())


def test_gauss_newton_corrects_its_jacobian_between_steps(monkeypatch):
    """On a saturating generator one Jacobian taken at the start goes stale; the steps that
    correct it (Broyden) end closer than the same steps with the Jacobian frozen."""
    from helpers import projection

    def final_error(generator: keras.Model) -> float:
        z = sample_latents(32, 6, 3)
        targets = tf.constant(generate(generator, z) * 2.0 - 1.0)
        _, error, _ = projection._gauss_newton_on_z(
            generator, targets, tf.zeros_like(z), tf.constant(6), tf.constant(1), tf.constant(1e-3)
        )
        return float(np.mean(error))

    corrected = final_error(linear_generator(seed=2, scale=0.6))
    monkeypatch.setattr(
        projection, "broyden_update", lambda jacobian, normal, step, change: (jacobian, normal)
    )
    frozen = final_error(linear_generator(seed=2, scale=0.6))  # a new model object: traced again
    assert corrected < 0.5 * frozen


def test_gauss_newton_never_returns_a_worse_fit_than_its_start():
    """Keep-the-best: with no damping on a saturating generator, no image ends further from its target."""
    generator = linear_generator()
    targets = generate(generator, sample_latents(16, 6, 8) * 4.0)  # deep in tanh's flat tails
    start = sample_latents(16, 6, 9)
    encoder = keras.Model(
        inputs := keras.Input(SHAPE),
        keras.layers.Lambda(lambda x: tf.constant(start)[: tf.shape(x)[0]])(inputs),
    )
    z_hat = project_images(
        targets, generator, encoder, steps=6, jacobian_updates=6, damping=0.0, batch_size=16
    )
    error = lambda z: np.mean((generate(generator, z) - targets) ** 2, axis=(1, 2, 3))  # noqa: E731
    assert np.all(error(z_hat) <= error(start) + 1e-7)


def test_batch_size_does_not_change_the_answer():
    generator = linear_generator()
    images = generate(generator, sample_latents(10, 6, 2))
    one = project_images(images, generator, zero_encoder(), 3, batch_size=10)
    split = project_images(images, generator, zero_encoder(), 3, batch_size=3)
    np.testing.assert_allclose(one, split, atol=1e-4)
    one = project_images_adam(images, generator, zero_encoder(), 30, 0.05, 0.01, batch_size=10)
    split = project_images_adam(images, generator, zero_encoder(), 30, 0.05, 0.01, batch_size=3)
    np.testing.assert_allclose(one, split, atol=1e-5)


def test_every_stage_gives_the_same_answer_whatever_the_batch_size():
    """Feedback, Gauss-Newton on the poor fits (gathered across batches) and polishing agree
    for batches of 3 (a short last batch) and one batch of all 10."""
    generator, latent_dim = ill_conditioned_generator(), 8
    mixing = np.eye(latent_dim) + 0.3 * np.linalg.qr(np.random.default_rng(4).normal(size=(8, 8)))[0]
    encoder = linear_encoder(generator, mixing, bias=np.full(latent_dim, 0.5))
    images = generate(generator, sample_latents(10, latent_dim, 9))
    images[::2] += np.random.default_rng(1).normal(scale=0.05, size=images[::2].shape).astype(np.float32)
    settings = dict(steps=3, polish_steps=2, feedback_steps=4)
    split = project_images(images, generator, encoder, batch_size=3, **settings)
    np.testing.assert_allclose(
        split, project_images(images, generator, encoder, batch_size=10, **settings), atol=1e-4
    )


def test_a_single_image_projects_like_a_batch():
    """One image alone (the converter's commonest call) traces with a static batch of 1."""
    generator = linear_generator(seed=5)
    images = generate(generator, sample_latents(4, 6, 3))
    alone = project_images(images[:1], generator, zero_encoder(), 3)
    together = project_images(images, generator, zero_encoder(), 3)
    np.testing.assert_allclose(alone[0], together[0], atol=1e-4)


def test_baseline_is_seeded_and_moves_towards_the_target():
    generator = linear_generator()
    z = sample_latents(16, 6, 3)
    images = generate(generator, z)
    start = project_images_baseline(images, generator, steps=0, seed=5)
    after = project_images_baseline(images, generator, steps=1000, learning_rate=0.01, seed=5)
    np.testing.assert_array_equal(after, project_images_baseline(images, generator, steps=1000, seed=5))
    error = lambda z_hat: np.mean(np.abs(generate(generator, z_hat) - images))  # noqa: E731
    assert error(after) < 0.6 * error(start)
    assert np.median(cosine_rows(z, after)) > np.median(cosine_rows(z, start))


def test_damage_keeps_shape_and_range_and_quantises():
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, size=(8, 32, 32, 1)).astype(np.float32))
    damaged = damage_images(images, keras.random.SeedGenerator(0)).numpy()
    assert damaged.shape == images.shape and np.all(np.abs(damaged) <= 1.0)
    levels = (damaged + 1.0) * 127.5
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
    assert np.abs(damaged - images.numpy()).max() > 2 / 255, "something beyond rounding happened"
    np.testing.assert_allclose(quantise(quantise(images)), quantise(images))
    seeds = keras.random.SeedGenerator(0)
    traced = tf.function(lambda batch: damage_images(batch, seeds))
    spec = tf.TensorSpec((None, 32, 32, 1), tf.float32)
    assert traced.get_concrete_function(spec).output_shapes == spec.shape, "a graph knows the side"


def test_projection_recovers_latents_of_a_small_trained_gan(tmp_path):
    """The whole recipe on a tiny invertible GAN: recovery above a floor, and better than the baseline."""
    from helpers.datasets import sklearn_digits

    cfg = dataclasses.replace(
        PRESET.gan, generator_width=32, discriminator_width=16, encoder_units=64, epochs=4
    )
    preset = dataclasses.replace(PRESET, gan=cfg)
    real = sklearn_digits(16).images[:256]
    gan = build_gan(4, SHAPE, cfg, seed=0, latent_weight=10.0)
    train_gan(gan, real, preset, tmp_path, sample_latents(4, 4, 0))
    encoder, curve = train_inversion_encoder(gan.generator, gan.encoder, 100, 64, 5e-4, seed=0)
    assert np.isfinite(curve).all()
    from helpers.artifacts import model_recipe

    assert model_recipe(encoder) == model_recipe(gan.encoder), "the fine-tuned copy can be saved in a bundle"
    z = sample_latents(64, 4, 7)
    images = as_png(generate(gan.generator, z))
    learned = project_images(images, gan.generator, encoder, steps=5, feedback_steps=8)
    alone = project_images(images, gan.generator, encoder, steps=0)
    fed_back = project_images(images, gan.generator, encoder, steps=0, feedback_steps=8)
    baseline = project_images_baseline(images, gan.generator, steps=100, seed=0)
    assert np.median(cosine_rows(z, fed_back)) > max(np.median(cosine_rows(z, alone)), 0.99)  # 0.96 alone
    assert np.median(cosine_rows(z, learned)) >= 0.99
    assert recovery_rate(z, learned) > recovery_rate(z, baseline)

    # the chapter's one evaluation, as notebook 03 and benchmarks/projection.py call it
    from helpers.images import to_tanh_range
    from helpers.models.classifier import build_digit_classifier, classify
    from helpers.projection_eval import ClipLatents, evaluate_projection

    labels = sklearn_digits(16).labels[:256]
    judge = build_digit_classifier(SHAPE)  # untrained: its readings and features are enough here
    small = dataclasses.replace(preset, gan=dataclasses.replace(cfg, eval_images=32, baseline_steps=20))
    unlabelled = ClipLatents(sample_latents(8, 4, 3), np.full(8, -1))
    report = evaluate_projection(
        gan.generator, encoder, judge, small, real[:128], real[128:], labels[128:], unlabelled
    )
    summary = report.summary()
    assert set(report.runs) == {"encoder", "feedback", "method", "adam", "baseline"}
    assert report.latents.shape == (32, 4) and report.images.shape == (32, *SHAPE)
    assert summary["recovery_rate"] == recovery_rate(report.latents, report.method.z_hat)
    np.testing.assert_allclose(report.runs["encoder"].z_hat, encoder(to_tanh_range(report.images)), atol=1e-5)
    assert summary["feedback_only_median_cos"] > summary["encoder_only_median_cos"]
    assert summary["audio_recovery_rate"] == report.audio.recovery_rate and report.audio.z_hat.shape == (8, 4)
    assert summary["a2i_digit_acc"] is None  # the clips' digits are unknown
    assert summary["classifier_accuracy"] == float(np.mean(classify(judge, real[128:]) == labels[128:]))
    assert np.isfinite(summary["fd"]) and summary["speedup"] > 0


def test_judge_kind_decides_accuracy_and_digit_counts():
    from helpers.models.classifier import (
        build_digit_classifier,
        build_feature_autoencoder,
        classifier_accuracy,
        classify,
        is_classifier,
    )

    classifier, autoencoder = build_digit_classifier(SHAPE), build_feature_autoencoder(SHAPE)
    assert is_classifier(classifier) and not is_classifier(autoencoder)
    images = np.zeros((4, *SHAPE), np.float32)
    assert classifier_accuracy(autoencoder, images, np.zeros(4, int)) is None
    read = classify(classifier, images)
    assert classifier_accuracy(classifier, images, read) == 1.0
    assert classifier_accuracy(classifier, images, (read + 1) % 10) == 0.0
    assert classifier_accuracy(classifier, images, np.full(4, -1)) is None  # unlabelled images


def test_projection_settings_survive_the_saved_config():
    settings = config.ProjectionSettings(feedback_steps=3, refine_steps=7, damping=0.5, fit_tolerance=0.02)
    saved = json.loads(json.dumps(dataclasses.asdict(settings)))  # as config.json holds them
    assert saved["refine_steps"] == 7  # one name per field, saved as it is
    assert config.ProjectionSettings.from_saved(saved) == settings
    older = config.ProjectionSettings.from_saved(
        {"method": "encoder + Gauss-Newton", "steps": 4, "polish_tolerance": 0.03}
    )  # saved before the feedback steps, under older names
    defaults = config.ProjectionSettings()
    assert older == dataclasses.replace(defaults, refine_steps=4, fit_tolerance=0.03)
    assert PRESET.gan.projection == defaults  # the presets' projection is this type's


def test_each_stage_can_be_measured_alone():
    from helpers.projection import stopped_after

    settings = config.ProjectionSettings(feedback_steps=6, refine_steps=5, polish_steps=2, lowpass_steps=3)
    encoder_only, feedback_only = stopped_after(settings, "encoder"), stopped_after(settings, "feedback")
    assert encoder_only == dataclasses.replace(
        settings, feedback_steps=0, refine_steps=0, polish_steps=0, lowpass_steps=0
    )
    assert feedback_only == dataclasses.replace(settings, refine_steps=0, polish_steps=0, lowpass_steps=0)
    with pytest.raises(ValueError, match="stage must be"):
        stopped_after(settings, "gauss-newton")


def test_timing_keeps_the_fastest_of_the_repeats():
    """A run slowed by other work on the machine does not count when repeats are asked for."""
    z = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    delays = iter([0.0, 0.3, 0.01, 0.01, 0.0, 0.3])  # warm-up, then the timed runs

    def project(images: np.ndarray) -> np.ndarray:
        time.sleep(next(delays))
        return z[: len(images)]

    best = timed_projection(project, z, z, repeats=3)
    assert best.seconds < 0.15 and np.allclose(best.cos, 1.0)
    single = timed_projection(project, z, z)  # warm-up 0.0, one timed run of 0.3 s
    assert single.seconds >= 0.3


def test_clip_latents_wait_for_the_audio_model(tmp_path):
    """Before notebooks 01 and 02 have run for a preset there are no clip latents to recover."""
    from helpers.config import Paths
    from helpers.projection_eval import clip_latents

    assert clip_latents(PRESET, Paths(tmp_path, tmp_path), 16, "train") is None
    assert clip_latents(PRESET, Paths(tmp_path, tmp_path), 16, "test") is None
