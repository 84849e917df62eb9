"""The paired models (``models/paired.py``), their data, training and measurement, in the ci preset."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from helpers import config
from helpers.metrics import histogram_intersection, mean_pairwise_distance, ssim_scores
from helpers.models.classifier import classify, train_image_judge
from helpers.models.paired import (
    FEATURE_OF,
    MODELS,
    REFERENCES,
    batch_hard_triplet_loss,
    build_critic,
    build_paired_model,
    train_paired,
)
from helpers.paired_data import load_paired_data, paired_dataset
from helpers.paired_eval import digit_collage, reference_scores, run_paired_model


@pytest.fixture(scope="module")
def preset():
    return config.load_preset("ci")


@pytest.fixture(scope="module")
def data(preset):
    return load_paired_data(config.paths(preset), preset, "sample", "digits", announce=False)


@pytest.fixture(scope="module")
def judge(data, preset):
    images = data.train_images
    return train_image_judge(images.images, images.labels, preset.paired.classifier_epochs, preset.seed)


def test_paired_data_pairs_each_clip_with_an_image_of_its_digit_from_its_own_side(data, judge):
    for split, pool in ((data.train, data.train_images), (data.test, data.test_images)):
        assert split.audio["spectrogram"].shape == (len(split), 128, 128, 1)
        assert split.audio["mfcc"].shape == (len(split), 20, 128, 1)
        assert split.partners.shape == (len(split), 32, 32, 1)
        assert np.array_equal(pool.images[split.partner_index], split.partners)
        assert np.array_equal(pool.labels[split.partner_index], split.digits)
    assert not set(data.train.speakers) & set(data.test.speakers), "held-out voices only"


def test_images_lacking_a_spoken_digit_are_refused_by_name(preset, tmp_path):
    from helpers.errors import ConfigError
    from helpers.images import save_image

    folder = tmp_path / "images"
    for digit in range(5):  # no image of 5 to 9
        for take in range(3):
            save_image(folder / f"{digit}_{take}.png", np.full((32, 32, 1), digit / 9.0))
    with pytest.raises(ConfigError, match=r"no image shows digit\(s\) \[5, 6, 7, 8, 9\]"):
        load_paired_data(config.paths(preset), preset, "sample", str(folder), announce=False)


def test_fresh_partners_change_between_epochs_and_fixed_ones_do_not(data, preset):
    def partners_seen(partnering):
        dataset = paired_dataset(data, "spectrogram", partnering, 1000, preset.seed)
        epochs = [next(iter(dataset)) for _ in range(2)]
        return [np.sort(batch[1].numpy().reshape(len(batch[1]), -1), axis=0) for batch in epochs]

    fixed = partners_seen("fixed")
    assert np.array_equal(fixed[0], fixed[1])
    fresh = partners_seen("fresh")
    assert not np.array_equal(fresh[0], fresh[1])
    with pytest.raises(ValueError, match="partnering"):
        paired_dataset(data, "spectrogram", "sometimes", 8, 0)


@pytest.mark.parametrize("name", MODELS + REFERENCES)
def test_every_model_builds_trains_generates_and_is_measured(name, data, judge, preset, tmp_path):
    run = run_paired_model(name, data, judge, preset, tmp_path / name)
    assert run.report.images.shape == (len(data.test), 32, 32, 1)
    assert run.report.images.min() >= 0.0 and run.report.images.max() <= 1.0
    losses = {key: values for key, values in run.history.items() if key != "epoch"}
    assert losses and all(
        len(v) == preset.paired.epochs or len(v) == preset.paired.gan_epochs for v in losses.values()
    )
    assert all(np.isfinite(values).all() for values in losses.values())
    summary = run.report.summary
    read = classify(judge, run.report.images)  # the judge's reading of this report's own images
    assert summary["digit_acc"] == float(np.mean(read == data.test.digits)) and -1.0 <= summary["ssim"] <= 1.0
    assert 0.0 <= summary["hist_sim"] <= 1.0 and summary["fd"] >= 0 and summary["train_seconds"] > 0
    if name == "mfcc":
        assert summary["diversity"] is None, "one clip always gives the same image"
    else:
        assert summary["diversity"] > 0
    assert run.model.feature == FEATURE_OF[name]


def test_the_mfcc_model_is_deterministic_and_the_unconditional_gan_ignores_the_audio(data, preset):
    cfg = preset.paired
    mfcc = build_paired_model(
        "mfcc", data.audio_shape("mfcc"), data.image_shape, cfg, 0, data.train.audio["mfcc"]
    )
    clips = data.test.audio["mfcc"][:4]
    assert np.array_equal(mfcc.generate(clips, seed=1), mfcc.generate(clips, seed=2))
    blind = build_paired_model("wgan_gp_uncond", data.audio_shape("spectrogram"), data.image_shape, cfg, 0)
    clips = data.test.audio["spectrogram"]
    assert np.allclose(blind.generate(clips[:4], seed=3), blind.generate(clips[4:8], seed=3))
    cgan = build_paired_model("cgan", data.audio_shape("spectrogram"), data.image_shape, cfg, 0)
    assert not np.allclose(cgan.generate(clips[:4], seed=3), cgan.generate(clips[4:8], seed=3))


def test_a_conditioned_critic_hears_the_embedding_and_a_deaf_one_cannot():
    images = tf.random.stateless_uniform((2, 32, 32, 1), (1, 2))
    embedding = tf.random.stateless_normal((2, 8), (3, 4))
    for conditioning in ("projection", "concat"):
        critic = build_critic((32, 32, 1), 8, 8, conditioning)
        assert not np.allclose(critic([images, embedding]), critic([images, -embedding]))
    assert build_critic((32, 32, 1), 8, 8, "none")(images).shape == (2, 1)
    with pytest.raises(ValueError, match="projection, concat or none"):
        build_critic((32, 32, 1), 8, 8, "loud")


def test_an_unknown_model_name_lists_the_known_ones(data, preset):
    with pytest.raises(ValueError, match="cvae"):
        build_paired_model("dalle", data.audio_shape("spectrogram"), data.image_shape, preset.paired)


def test_batch_hard_triplet_loss_matches_a_hand_computation():
    # on a line: digit 0 at 0 and 1, digit 1 at 1.5 and 4
    embeddings = tf.constant([[0.0], [1.0], [1.5], [4.0]])
    labels = tf.constant([0, 0, 1, 1])
    # hardest positive / negative per anchor: (1, 1.5), (1, 0.5), (2.5, 0.5), (2.5, 3)
    expected = np.mean([max(0, 1 - 1.5 + 1), max(0, 1 - 0.5 + 1), max(0, 2.5 - 0.5 + 1), max(0, 2.5 - 3 + 1)])
    assert float(batch_hard_triplet_loss(embeddings, labels, margin=1.0)) == pytest.approx(expected, rel=1e-5)


def test_the_triplet_stage_is_kept_and_not_redone_on_resume(data, preset, tmp_path):
    model = build_paired_model("triplet", data.audio_shape("spectrogram"), data.image_shape, preset.paired, 0)
    train_paired(model, data, preset, tmp_path)
    saved = tmp_path / "triplet.weights.h5"
    stamp = saved.stat().st_mtime_ns
    again = build_paired_model("triplet", data.audio_shape("spectrogram"), data.image_shape, preset.paired, 5)
    train_paired(again, data, preset, tmp_path)
    assert saved.stat().st_mtime_ns == stamp
    clips = data.test.audio["spectrogram"][:3]
    assert np.allclose(model.embedder(clips), again.embedder(clips), atol=1e-6)


def test_the_ci_preset_gives_the_same_numbers_twice(data, judge, preset, tmp_path):
    first = run_paired_model("cvae", data, judge, preset, tmp_path / "a").report
    second = run_paired_model("cvae", data, judge, preset, tmp_path / "b").report
    assert np.array_equal(first.images, second.images)
    assert {k: v for k, v in first.summary.items() if k != "train_seconds"} == {
        k: v for k, v in second.summary.items() if k != "train_seconds"
    }


def test_similarity_scores_on_known_images():
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(1, 32, 32, 1))
    black, white = np.zeros_like(image), np.ones_like(image)
    assert ssim_scores(image, image)[0] == pytest.approx(1.0, abs=1e-5)
    assert histogram_intersection(image, image)[0] == pytest.approx(1.0)
    assert histogram_intersection(black, white)[0] == pytest.approx(0.0)
    shuffled = rng.permutation(image.ravel()).reshape(image.shape)  # same grey levels, elsewhere
    assert histogram_intersection(image, shuffled)[0] == pytest.approx(1.0)
    assert ssim_scores(image, shuffled)[0] < 0.2
    half = np.concatenate([black[:, :16], white[:, 16:]], axis=1)
    assert histogram_intersection(half, white)[0] == pytest.approx(0.5)


def test_mean_pairwise_distance():
    samples = np.stack([np.zeros((2, 2, 1)), np.ones((2, 2, 1)), np.ones((2, 2, 1))])
    assert mean_pairwise_distance(samples) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="two samples"):
        mean_pairwise_distance(samples[:1])


def test_reference_scores_and_collage(data, preset):
    scores = reference_scores(data, preset.seed)
    assert set(scores) == {"real, same digit", "digit mean", "real, other digit"}
    assert all(0 <= s["hist_sim"] <= 1 and -1 <= s["ssim"] <= 1 for s in scores.values())
    images = np.ones((len(data.test), 4, 4, 1))
    grid = digit_collage(images, data.test.digits, n_cols=3)
    n_rows = len(np.unique(data.test.digits))
    assert grid.shape == (n_rows * 5 - 1, 3 * 5 - 1, 1)
