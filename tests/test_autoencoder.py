import dataclasses
import json
import subprocess
import sys

import keras
import numpy as np
import pytest
from crash import StopAfter

from helpers import config
from helpers.audio import NormStats, denormalise, log_spectrogram
from helpers.autoencoder_eval import latent_shift_by_group
from helpers.errors import ArtifactError
from helpers.features import FeatureSplit
from helpers.models.autoencoder import (
    AudioCodec,
    CompressedMagnitude,
    NormalisedDb,
    Whitening,
    build_vae,
    load_audio_codec,
    save_audio_codec,
    train_audio_codec,
)
from helpers.training import fit_resumable, make_dataset

PRESET = config.load_preset("ci")
CFG = dataclasses.replace(PRESET.autoencoder, filters=(8, 8, 8, 8), latent_dim=8, batch_size=8, epochs=4)
SHAPE = (PRESET.front_end.n_freq, PRESET.front_end.n_frames, 1)


@pytest.fixture
def split() -> FeatureSplit:
    rng = np.random.default_rng(0)
    n = 16
    return FeatureSplit(
        spectrograms=rng.normal(size=(n, *SHAPE)).astype(np.float32),
        clips=rng.normal(scale=0.1, size=(n, PRESET.front_end.clip_samples)).astype(np.float32),
        digits=np.arange(n) % 10,
        speakers=np.array(["a"] * n),
        files=np.array([f"{i}.wav" for i in range(n)]),
    )


@pytest.fixture
def stats() -> NormStats:
    return NormStats(mean_db=np.full(SHAPE[0], -30.0), std_db=np.full(SHAPE[0], 15.0))


def test_shapes_after_building(stats):
    vae = build_vae(SHAPE, stats, CFG)
    x = np.zeros((3, *SHAPE), np.float32)
    z_mean, z_log_var = vae.encoder(x)
    assert z_mean.shape == (3, CFG.latent_dim) and z_log_var.shape == (3, CFG.latent_dim)
    assert vae.decoder(z_mean).shape == (3, *SHAPE)
    assert vae(x).shape == x.shape
    assert [m.name for m in vae.metrics] == ["loss", "magnitude_error", "db_mse", "sc", "kl"]


def test_compressed_magnitude_layers_invert_each_other_above_the_floor(stats):
    to_compressed = CompressedMagnitude(stats.mean_db.tolist(), stats.std_db.tolist(), 0.5)
    to_db = NormalisedDb(stats.mean_db.tolist(), stats.std_db.tolist(), 0.5, floor_db=-60.0)
    db = np.random.default_rng(2).uniform(-59.0, 20.0, size=(2, *SHAPE)).astype(np.float32)
    normalised = (db + 30.0) / 15.0
    compressed = np.asarray(to_compressed(normalised))
    np.testing.assert_allclose(compressed, 10.0 ** (db / 40.0), rtol=1e-4)  # |S| ** 0.5
    np.testing.assert_allclose(np.asarray(to_db(compressed)), normalised, atol=1e-4)
    # a decoder writing zero or negative magnitudes gives the -60 dB floor, never -inf or NaN
    for layer in (to_compressed, to_db):
        again = type(layer).from_config(json.loads(json.dumps(layer.get_config())))
        np.testing.assert_allclose(np.asarray(again(normalised)), np.asarray(layer(normalised)), atol=1e-6)
    silent = np.stack([np.zeros(SHAPE, np.float32), np.full(SHAPE, -1.0, np.float32)])
    np.testing.assert_allclose(np.asarray(to_db(silent)), (-60.0 + 30.0) / 15.0, atol=1e-4)


def test_nonlinear_stages_are_an_option(stats):
    relu = build_vae(SHAPE, stats, dataclasses.replace(CFG, activation="relu"))
    linear = build_vae(SHAPE, stats, CFG)
    names = [layer.name for layer in relu.encoder.layers]
    assert "down0_norm" in names and "down0_act" in names
    assert not any(
        name.endswith(("_norm", "_act")) for name in (layer.name for layer in linear.encoder.layers)
    )
    assert relu.decoder(np.zeros((1, CFG.latent_dim), np.float32)).shape == (1, *SHAPE)


def test_whitening_gives_identity_covariance_and_undoes_exactly():
    rng = np.random.default_rng(1)
    latents = (
        rng.normal(size=(2000, 4)) @ np.array([[3, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0.2, 0], [0, 0, 0, 5]]) + 7
    )
    whitening = Whitening.fit(latents, epsilon=1e-9)
    white = whitening.apply(latents)
    np.testing.assert_allclose(white.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(np.cov(white, rowvar=False), np.eye(4), atol=1e-3)
    np.testing.assert_allclose(whitening.undo(white), latents, atol=1e-3)
    again = Whitening.from_dict(json.loads(json.dumps(whitening.to_dict())))
    np.testing.assert_allclose(again.apply(latents), white, atol=1e-6)


def voice_labels(voices: range, clips: int) -> np.ndarray:
    """``clips`` speaker labels ``v<i>`` for each voice ``i``."""
    return np.repeat([f"v{i}" for i in voices], clips)


def test_latent_shift_by_group_flags_only_the_group_that_drifts():
    rng = np.random.default_rng(2)
    train_speakers, train = voice_labels(range(40), 10), rng.normal(size=(400, 8))
    speakers, latents = voice_labels(range(40, 52), 10), rng.normal(size=(120, 8))
    drifted = np.isin(speakers, [f"v{i}" for i in range(48, 52)])
    latents[drifted] += 0.6  # four voices of an unknown kind
    report = latent_shift_by_group(
        latents, speakers, {"known": ~drifted, "unknown": drifted, "none": np.zeros(120, bool)},
        train, train_speakers, seed=0,
    )  # fmt: skip
    assert set(report) == {"known", "unknown"}  # an empty group is left out
    assert (report["known"]["voices"], report["known"]["clips"]) == (8, 80)
    assert (report["unknown"]["voices"], report["unknown"]["clips"]) == (4, 40)
    for row in report.values():
        p10, p50, p90 = row["train_groups_p10_p50_p90"]
        assert 0 < p10 <= p50 <= p90
    known, unknown = report["known"], report["unknown"]
    assert known["latent_mean_abs"] < known["train_groups_p10_p50_p90"][2] * 1.5
    assert unknown["latent_mean_abs"] > 2 * unknown["train_groups_p10_p50_p90"][2]
    # fewer voices drift more by chance: the smaller group's reference sits higher
    assert unknown["train_groups_p10_p50_p90"][1] > known["train_groups_p10_p50_p90"][1]
    # a group as large as the training voices has no random groups to compare with
    few = latent_shift_by_group(
        latents, speakers, {"all": np.ones(120, bool)}, train[:50], train_speakers[:50]
    )
    assert few["all"]["voices"] == 12 and few["all"]["train_groups_p10_p50_p90"] is None


class CountEpochs(keras.callbacks.Callback):
    """Records the epochs run and the weights the run started from (after any restore)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = []
        self.start_weights = None

    def on_train_begin(self, logs=None):
        self.start_weights = [w.copy() for w in self.model.get_weights()]

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def test_interrupted_training_resumes_from_the_last_epoch(tmp_path, split, stats):
    data = make_dataset(split.spectrograms, 8, seed=0)
    keras.utils.set_random_seed(0)
    first = build_vae(SHAPE, stats, CFG)
    with pytest.raises(KeyboardInterrupt):
        fit_resumable(first, data, 4, tmp_path, callbacks=[StopAfter(2)], verbose=0)
    assert (tmp_path / "backup").is_dir()
    weights_after_two = [w.copy() for w in first.get_weights()]
    # a crash between writing history.json and the checkpoint leaves the history one epoch ahead
    logged = json.loads((tmp_path / "history.json").read_text())
    for values in logged.values():
        values.append(values[-1] + 1 if values is logged["epoch"] else values[-1])
    (tmp_path / "history.json").write_text(json.dumps(logged))

    second = build_vae(SHAPE, stats, CFG)  # a fresh process would start from new weights
    counter = CountEpochs()
    history = fit_resumable(second, data, 4, tmp_path, callbacks=[counter], verbose=0)
    assert counter.seen == [2, 3], "the restart continues at epoch 2 instead of starting over"
    for restored, saved in zip(counter.start_weights, weights_after_two, strict=True):
        np.testing.assert_allclose(restored, saved, err_msg="the restart starts from the checkpoint")
    assert history["epoch"] == [0, 1, 2, 3] and len(history["loss"]) == 4
    assert not (tmp_path / "backup").exists(), "the checkpoint is removed once training completes"

    counter = CountEpochs()  # the same model trained again in the same process starts afresh
    history = fit_resumable(second, data, 2, tmp_path, callbacks=[counter], verbose=0)
    assert counter.seen == [0, 1] and history["epoch"] == [0, 1]


@pytest.fixture
def trained(tmp_path, split, stats) -> AudioCodec:
    preset = dataclasses.replace(PRESET, autoencoder=dataclasses.replace(CFG, epochs=1))
    vae = build_vae(SHAPE, stats, preset.autoencoder)
    codec, history = train_audio_codec(vae, split, split, preset, tmp_path / "work", verbose=0)
    assert np.isfinite(history["loss"]).all()
    return codec


def test_codec_round_trip_shapes_and_whitened_latents(trained, split):
    z = trained.encode(split.spectrograms)
    assert z.shape == (16, CFG.latent_dim)
    np.testing.assert_allclose(
        trained.whitening.undo(z), trained.encoder.predict(split.spectrograms)[0], atol=1e-3
    )
    assert trained.decode(z).shape == split.spectrograms.shape
    clips = trained.latents_to_clips(z[:2], n_iter=2)
    assert clips.shape == (2, PRESET.front_end.clip_samples) and np.isfinite(clips).all()


def test_extreme_latents_give_finite_spectrograms_in_range_and_finite_clips(trained):
    """A latent far from every clip (a real voice unlike the training voices, an edited file)
    must not reach Griffin-Lim or a file as a non-finite or impossible spectrogram."""
    front_end = PRESET.front_end
    dim = CFG.latent_dim
    latents = np.stack([np.full(dim, 1e4), np.full(dim, -1e4), np.full(dim, np.nan), np.zeros(dim)])
    latents = latents.astype(np.float32)
    latents[3, 0] = np.inf
    raw = denormalise(trained.decode(latents[:2])[..., 0], trained.stats)
    assert np.abs(raw).max() > front_end.db_ceiling, "the decoder alone leaves the range here"
    spectrograms = trained.latents_to_spectrograms_db(latents)
    assert np.isfinite(spectrograms).all()
    assert spectrograms.min() >= front_end.db_floor and spectrograms.max() <= front_end.db_ceiling
    clips = trained.latents_to_clips(latents, n_iter=2)
    assert np.isfinite(clips).all() and clips.shape == (4, front_end.clip_samples)


def test_the_ceiling_is_what_a_full_scale_clip_reaches():
    front_end = PRESET.front_end
    t = np.arange(front_end.clip_samples) / front_end.sample_rate
    bin_centre = 32 * front_end.sample_rate / front_end.n_fft
    loudest = log_spectrogram(np.sin(2 * np.pi * bin_centre * t).astype(np.float32), front_end).max()
    assert front_end.db_ceiling - 6.1 < loudest <= front_end.db_ceiling  # half the window's sum: -6 dB
    clipped = log_spectrogram(np.sign(np.sin(2 * np.pi * bin_centre * t)).astype(np.float32), front_end)
    assert clipped.max() <= front_end.db_ceiling  # a square wave at full scale stays under it too


def test_save_and_reload_reproduce_the_latents(tmp_path, trained, split):
    save_audio_codec(tmp_path / "audio_model", trained, {"preset": "ci"})
    loaded, saved = load_audio_codec(tmp_path / "audio_model", PRESET.front_end, CFG.latent_dim)
    np.testing.assert_allclose(
        loaded.encode(split.spectrograms), trained.encode(split.spectrograms), atol=1e-5
    )
    z = trained.encode(split.spectrograms)
    np.testing.assert_allclose(loaded.decode(z), trained.decode(z), atol=1e-4)
    assert saved["preset"] == "ci" and saved["latent_dim"] == CFG.latent_dim
    assert len(list((tmp_path / "audio_model").glob("*.weights.h5"))) == 2


def test_a_fresh_process_loads_the_bundle(tmp_path, trained):
    """The builders rebuild every layer, the conversion layers too; nothing else is needed."""
    save_audio_codec(tmp_path / "audio_model", trained, {})
    script = (
        "import sys, numpy as np; from helpers.models.autoencoder import load_audio_codec; "
        "codec, _ = load_audio_codec(sys.argv[1]); "
        f"print(codec.decode(np.zeros((1, {CFG.latent_dim}), 'float32')).shape)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "audio_model")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith(str((1, *SHAPE)))


def test_interrupted_save_keeps_the_previous_model(tmp_path, trained, split, monkeypatch):
    folder = tmp_path / "audio_model"
    save_audio_codec(folder, trained, {"version": 1})
    before = load_audio_codec(folder)[0].encode(split.spectrograms)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(trained.decoder, "save_weights", crash)  # the encoder is written, then the save dies
    trained.whitening = Whitening.fit(np.random.default_rng(2).normal(size=(50, CFG.latent_dim)))
    with pytest.raises(OSError):
        save_audio_codec(folder, trained, {"version": 2})
    assert len(list(folder.glob("*.weights.h5"))) == 2, "the failed save removed its own partial files"
    loaded, config_ = load_audio_codec(folder)
    assert config_["version"] == 1
    np.testing.assert_allclose(loaded.encode(split.spectrograms), before, atol=1e-6)


def test_mismatches_and_damage_give_clear_errors(tmp_path, trained):
    folder = tmp_path / "audio_model"
    with pytest.raises(ArtifactError, match=r"missing.*02_audio_autoencoder"):
        load_audio_codec(folder)
    save_audio_codec(folder, trained, {})
    with pytest.raises(ArtifactError, match="latent size 8, but 64 is expected"):
        load_audio_codec(folder, latent_dim=64)
    with pytest.raises(ArtifactError, match="front-end"):
        load_audio_codec(folder, dataclasses.replace(PRESET.front_end, n_fft=512))
    edited = json.loads((folder / "config.json").read_text())
    original = json.dumps(edited)
    edited["normalisation"]["mean_db"][0] += 5.0  # config.json no longer matches the decoder's copy
    (folder / "config.json").write_text(json.dumps(edited))
    with pytest.raises(ArtifactError, match=r"differs from config.json.*02_audio_autoencoder"):
        load_audio_codec(folder)
    (folder / "config.json").write_text(original)

    encoder_file = next(folder.glob("encoder.*.weights.h5"))
    encoder_file.write_bytes(encoder_file.read_bytes()[:1000])  # truncated
    with pytest.raises(ArtifactError, match=r"checksum.*02_audio_autoencoder"):
        load_audio_codec(folder)
    encoder_file.unlink()
    with pytest.raises(ArtifactError, match="missing"):
        load_audio_codec(folder)
    (folder / "config.json").write_text(json.dumps({"kind": "something else", "files": {}}))
    with pytest.raises(ArtifactError, match="not describe an audio autoencoder"):
        load_audio_codec(folder)
    (folder / "config.json").write_text("{oops")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load_audio_codec(folder)
