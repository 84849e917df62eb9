import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from crash import StopAfter

from helpers import config
from helpers.errors import ArtifactError
from helpers.models.gan import (
    BatchSpread,
    ImageGridSaver,
    build_discriminator,
    build_gan,
    build_generator,
    expected_latent_dim,
    generator_paths,
    keep_average_generator,
    load_image_model,
    sample_latents,
    save_image_model,
    train_gan,
)
from helpers.training import fit_resumable

PRESET = config.load_preset("ci")
CFG = dataclasses.replace(
    PRESET.gan, generator_width=16, discriminator_width=8, encoder_units=16, batch_size=8
)
DENSE = dataclasses.replace(CFG, code_basis="dense", code_amplitude=0.1)  # the first design's code
SHAPE = (16, 16, 1)


def images(n: int = 32) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0, 1, size=(n, *SHAPE)).astype(np.float32)


@pytest.mark.parametrize("shape", [(32, 32, 1), (64, 64, 3), (8, 8, 1)])
def test_generator_makes_the_image_shape_in_tanh_range(shape):
    generator = build_generator(12, shape, CFG if shape[0] >= 16 else DENSE)  # 8 x 8: 9 DCT slots
    out = generator(sample_latents(3, 12, 0)).numpy()
    assert out.shape == (3, *shape) and np.all(np.abs(out) <= 1.0)


def test_generator_refuses_sizes_that_are_not_powers_of_two():
    with pytest.raises(ValueError, match="power of two"):
        build_generator(12, (48, 48, 1), CFG)


def test_generator_adds_a_faint_code_to_the_content_and_keeps_the_pixel_range():
    z = sample_latents(3, 12, 0)
    generator = build_generator(12, (16, 16, 1), dataclasses.replace(CFG, code_amplitude=0.1))
    (both, code_only) = generator_paths(generator)
    content, code = (t.numpy() for t in both(z))
    np.testing.assert_allclose(generator(z).numpy(), np.clip(content + 0.1 * code, -1, 1), atol=1e-6)
    np.testing.assert_allclose(code_only(z).numpy(), code, atol=1e-6)
    assert np.std(code) > 0.01  # a code that varies, not a constant
    # the content keeps its contrast: a zero code leaves every pixel, black and white included, as it was
    mix = generator.get_layer("mixed")
    picture = np.linspace(-1.0, 1.0, 9, dtype=np.float32).reshape(1, 3, 3, 1)
    np.testing.assert_allclose(mix(picture, np.zeros_like(picture)).numpy(), picture)
    reloaded = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(mix))
    assert reloaded.amplitude == 0.1
    plain = build_generator(12, (16, 16, 1), dataclasses.replace(CFG, code_amplitude=0.0))
    assert generator_paths(plain) is None and "code_image" not in {layer.name for layer in plain.layers}


def test_batch_spread_lets_the_discriminator_see_a_batch_of_look_alikes():
    keras.utils.set_random_seed(0)
    varied = images(8)
    alike = np.repeat(varied[:1], 8, axis=0)
    spread = BatchSpread()
    assert np.allclose(spread(alike).numpy()[..., -1], 1e-4, atol=1e-6)  # sqrt of the 1e-8 guard
    channel = spread(varied).numpy()[..., -1]
    assert np.allclose(channel, channel.flat[0]) and channel.flat[0] > 0.1  # one number, the batch's spread
    discriminator = build_discriminator(SHAPE, dataclasses.replace(CFG, batch_spread=True))
    assert "down_spread" in {layer.name for layer in discriminator.layers}
    assert discriminator.get_layer("down1").input.shape[-1] == CFG.discriminator_width + 1  # before the last
    # the same image is judged differently among look-alikes than among varied images
    assert not np.isclose(discriminator(alike)[0, 0], discriminator(varied)[0, 0], atol=1e-5)
    plain = build_discriminator(SHAPE, dataclasses.replace(CFG, batch_spread=False))
    assert "down_spread" not in {layer.name for layer in plain.layers}
    np.testing.assert_allclose(plain(alike)[0], plain(varied[:1])[0], atol=1e-6)


def test_latent_error_trains_only_the_code_path_and_real_images_carry_a_code():
    """The latent term reaches only the (dense) code path; the discriminator reaches the content path."""
    gan = build_gan(8, SHAPE, DENSE, seed=0)
    z = tf.constant(sample_latents(4, 8, 1))
    real = tf.constant(images(4) * 2 - 1)
    with tf.GradientTape(persistent=True) as tape:
        fake, readable, real_seen, _ = gan.render(z, real)
        latent_error = tf.reduce_mean(tf.square(gan.encoder(readable) - z))
        realism = tf.reduce_mean(gan.discriminator(fake))
    code_vars = gan.generator.get_layer("code").trainable_variables
    content_vars = [v for v in gan.generator.trainable_variables if all(v is not c for c in code_vars)]
    latent_grads = tape.gradient(latent_error, content_vars + code_vars)
    assert all(g is None for g in latent_grads[: len(content_vars)])
    assert all(g is not None and np.abs(g.numpy()).sum() > 0 for g in latent_grads[len(content_vars) :])
    realism_grads = tape.gradient(realism, content_vars)
    assert all(g is not None for g in realism_grads)
    np.testing.assert_allclose(fake.numpy(), gan.generator(z).numpy(), atol=1e-5)  # the same mix
    inside = np.abs(real_seen.numpy()) < 1.0  # where the clip left the code whole
    real_code = (real_seen.numpy() - real.numpy())[inside] / 0.1
    assert inside.mean() > 0.8 and np.abs(real_code).max() <= 1.0 + 1e-4 and np.std(real_code) > 0.01
    own_code = generator_paths(gan.generator)[1](z).numpy()[inside]
    assert not np.allclose(real_code, own_code, atol=1e-3)  # the code of another z


def test_gan_shapes_metrics_and_a_finite_training_run(tmp_path):
    gan = build_gan(8, SHAPE, CFG, seed=0)
    assert [m.name for m in gan.metrics] == [
        "d_loss",
        "g_loss",
        "latent_mse",
        "real_score",
        "fake_score",
        "r1",
    ]
    preset = dataclasses.replace(PRESET, gan=dataclasses.replace(CFG, epochs=3))
    history = train_gan(gan, images(), preset, tmp_path, sample_latents(4, 8, 0))
    assert len(history["d_loss"]) == 3
    assert all(np.isfinite(history[key]).all() for key in ("d_loss", "g_loss", "latent_mse", "r1"))
    assert sorted(p.name for p in (tmp_path / "grids").iterdir()) == [f"epoch_00{i}.png" for i in (1, 2, 3)]


def test_latent_term_reaches_the_generator():
    """With a dense code the generator's update depends on the latent term; with the fixed
    block-DCT code it cannot (the code has no weights, the content is cut off from it)."""
    data = np.tanh(images(16) * 2 - 1)
    for cfg, changes in ((DENSE, True), (CFG, False)):
        updates = {}
        for weight in (0.0, 50.0):
            gan = build_gan(8, SHAPE, cfg, seed=0, latent_weight=weight)
            before = [w.copy() for w in gan.generator.get_weights()]
            gan.train_on_batch(data)
            updates[weight] = sum(
                np.abs(a - b).sum() for a, b in zip(gan.generator.get_weights(), before, strict=True)
            )
        assert (updates[50.0] != pytest.approx(updates[0.0], rel=1e-3)) == changes, (cfg.code_basis, updates)


def test_r1_penalty_measures_the_discriminator_slope_on_real_images_and_changes_its_update():
    data = np.tanh(images(16) * 2 - 1)
    updates, penalties = {}, {}
    for weight in (0.0, 10.0):
        gan = build_gan(8, SHAPE, dataclasses.replace(CFG, r1_weight=weight), seed=0)
        gan.d_optimizer = keras.optimizers.SGD(0.1)  # an update proportional to the gradient
        before = [w.copy() for w in gan.discriminator.get_weights()]
        penalties[weight] = gan.train_on_batch(data, return_dict=True)["r1"]
        updates[weight] = [a - b for a, b in zip(gan.discriminator.get_weights(), before, strict=True)]
    assert penalties[0.0] == 0.0 and np.isfinite(penalties[10.0]) and penalties[10.0] > 0.0
    # the same first step from the same weights: the difference is the penalty's gradient
    change = sum(np.abs(a - b).sum() for a, b in zip(updates[0.0], updates[10.0], strict=True))
    assert change > 1e-3 * sum(np.abs(a).sum() for a in updates[0.0])
    # and the penalty is the mean squared slope of the real logits, measured independently
    gan = build_gan(8, SHAPE, dataclasses.replace(CFG, r1_weight=1.0, code_amplitude=0.0), seed=0)
    real = tf.constant(data)
    with tf.GradientTape() as tape:
        tape.watch(real)
        logits = gan.discriminator(real, training=True)
    slope = float(tf.reduce_mean(tf.reduce_sum(tf.square(tape.gradient(logits, real)), axis=[1, 2, 3])))
    assert gan.train_on_batch(data, return_dict=True)["r1"] == pytest.approx(slope, rel=1e-4)


@pytest.mark.parametrize("decay", [0.0, 0.9])
def test_the_generator_kept_is_the_average_of_its_weights_or_the_last_ones(tmp_path, decay):
    """With ``average_decay`` the kept weights are an average of those training went through:
    between their smallest and largest values, and not the last step's; without it, the last."""
    cfg = dataclasses.replace(CFG, epochs=3, average_decay=decay)
    gan = build_gan(8, SHAPE, cfg, seed=0)
    trainable = [i for i, w in enumerate(gan.generator.weights) if w.trainable]

    class Record(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen = [[w.copy() for w in gan.generator.get_weights()]]

        def on_train_batch_end(self, batch, logs=None):
            self.seen.append([w.copy() for w in self.model.generator.get_weights()])

    record = Record()
    train_gan(
        gan,
        images(),
        dataclasses.replace(PRESET, gan=cfg),
        tmp_path,
        sample_latents(4, 8, 0),
        callbacks=[record],
    )
    kept = gan.generator.get_weights()
    assert len(record.seen) == 1 + 3 * (32 // 8)
    for i in trainable:
        history = np.stack([step[i] for step in record.seen])
        if decay == 0:
            np.testing.assert_array_equal(kept[i], history[-1])
        else:
            assert np.all(kept[i] >= history.min(0) - 1e-6) and np.all(kept[i] <= history.max(0) + 1e-6)
    if decay:
        assert not all(np.allclose(kept[i], record.seen[-1][i], atol=1e-6) for i in trainable)


def test_keeping_the_average_refuses_an_optimizer_built_for_other_weights():
    gan = build_gan(8, SHAPE, CFG, seed=0)
    gan.g_optimizer = keras.optimizers.Adam(use_ema=True)
    gan.g_optimizer.build(gan.discriminator.trainable_variables[:1])
    with pytest.raises(ValueError, match="averages other weights"):
        keep_average_generator(gan)


def test_interrupted_gan_training_resumes_with_weights_and_optimizer_state(tmp_path):
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices(images() * 2 - 1).batch(8)
    first = build_gan(8, SHAPE, CFG, seed=0)
    with pytest.raises(KeyboardInterrupt):
        fit_resumable(first, data, 4, tmp_path, callbacks=[StopAfter(2)], verbose=0)
    saved = [w.copy() for w in first.generator.get_weights()]
    saved_optimizer = [v.numpy().copy() for v in first.g_optimizer.variables]  # the weight average too
    assert int(first.g_optimizer.iterations) == 8 and first.g_optimizer.use_ema

    second = build_gan(8, SHAPE, CFG, seed=1)  # another process: other starting weights

    class Check(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.weights = [w.copy() for w in self.model.generator.get_weights()]
            self.iterations = int(self.model.g_optimizer.iterations)
            self.optimizer_state = [v.numpy().copy() for v in self.model.g_optimizer.variables]

    check = Check()
    history = fit_resumable(second, data, 4, tmp_path, callbacks=[check], verbose=0)
    for restored, expected in zip(check.weights, saved, strict=True):
        np.testing.assert_allclose(restored, expected)
    assert check.iterations == 8, "the optimizers' state comes back with the weights"
    for restored, expected in zip(check.optimizer_state, saved_optimizer, strict=True):
        np.testing.assert_allclose(restored, expected)
    assert history["epoch"] == [0, 1, 2, 3]


def test_grid_saver_writes_one_png_per_epoch(tmp_path):
    gan = build_gan(8, SHAPE, CFG, seed=0)
    saver = ImageGridSaver(sample_latents(6, 8, 0), tmp_path, n_cols=3)
    saver.set_model(gan)
    saver.on_epoch_end(4)
    from PIL import Image

    with Image.open(tmp_path / "epoch_005.png") as grid:
        assert grid.size == (3 * 17 - 1, 2 * 17 - 1)


def test_image_model_round_trip_and_mismatch_errors(tmp_path):
    gan = build_gan(8, SHAPE, CFG, seed=0)
    folder = tmp_path / "image_model"
    save_image_model(folder, {"generator": gan.generator, "encoder": gan.encoder}, {"metrics": {"x": 1}})
    models, saved = load_image_model(folder, 8, SHAPE)
    z = sample_latents(2, 8, 0)
    np.testing.assert_allclose(models["generator"](z), gan.generator(z), atol=1e-6)
    assert saved["latent_dim"] == 8 and saved["image_shape"] == list(SHAPE)
    with pytest.raises(ArtifactError, match=r"latents of size 8.*16 is"):
        load_image_model(folder, 16, SHAPE)
    with pytest.raises(ArtifactError, match=r"makes \[16, 16, 1\] images"):
        load_image_model(folder, 8, (32, 32, 1))
    config_path = folder / "config.json"
    config_path.write_text("{not json")
    with pytest.raises(ArtifactError, match=r"not valid JSON.*03_gan_and_projection"):
        load_image_model(folder)
    with pytest.raises(ArtifactError, match=r"missing.*03_gan_and_projection"):
        load_image_model(tmp_path / "nowhere")


def test_generator_latent_size_must_match_the_saved_audio_model(tmp_path):
    assert expected_latent_dim(PRESET, tmp_path) == PRESET.autoencoder.latent_dim  # no audio model yet
    (tmp_path / "config.json").write_text(json.dumps({"latent_dim": 99, "files": {}}))
    with pytest.raises(ArtifactError, match=r"latent size 99.*02_audio_autoencoder"):
        expected_latent_dim(PRESET, tmp_path)


def test_fewer_images_than_one_batch_still_train(tmp_path):
    gan = build_gan(8, SHAPE, CFG, seed=0)
    preset = dataclasses.replace(PRESET, gan=dataclasses.replace(CFG, epochs=1, batch_size=64))
    history = train_gan(gan, images(10), preset, tmp_path, sample_latents(2, 8, 0))
    assert np.isfinite(history["d_loss"]).all() and int(gan.g_optimizer.iterations) == 1
