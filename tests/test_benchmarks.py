import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.models.autoencoder import load_audio_codec

ROOT = Path(__file__).resolve().parent.parent


def run_benchmark(script: str, artifacts: Path, *args: str, check: bool = True):
    """Run ``benchmarks/<script>`` in the ci preset; the completed process."""
    env = {**os.environ, "A2I_PRESET": "ci", "A2I_ARTIFACTS": str(artifacts)}
    command = [sys.executable, f"benchmarks/{script}", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=check)


def test_preprocess_benchmark_prints_one_json_object(tmp_path):
    report = json.loads(run_benchmark("preprocess.py", tmp_path).stdout)
    for key in ("clips", "seconds", "clips_per_second", "gl_iterations", "gl_sc_db", "gl_lsd_db"):
        assert key in report
    assert report["clips"] == 100 and report["gl_iterations"] == 16
    assert report["gl_sc_db"] < -12 and report["clips_per_second"] > 0
    assert report["in_memory_total_clips_per_second"] > 0 and report["streaming_clips_per_second"] > 0
    assert report["default_path"] == "in_memory"
    assert (tmp_path / "features" / "ci-sample-seed1234" / "train.npz").is_file()
    assert not (tmp_path / "outputs" / "benchmark_features").exists() or not any(
        (tmp_path / "outputs" / "benchmark_features").iterdir()
    ), "the other path's scratch features are deleted"


def test_preprocess_benchmark_streams_a_folder_source(tmp_path):
    from test_streaming import write_voices

    voices = write_voices(tmp_path / "voices", speakers=4, takes=2)
    env = {
        **os.environ,
        "A2I_PRESET": "ci",
        "A2I_ARTIFACTS": str(tmp_path / "a"),
        "A2I_AUDIO_SOURCE": str(voices),
    }
    run = subprocess.run(
        [sys.executable, "benchmarks/preprocess.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(run.stdout)
    assert report["default_path"] == "streaming" and report["clips"] == 80
    assert report["streaming_clips_per_second"] > 0 and report["in_memory_total_clips_per_second"] > 0
    assert len(list((tmp_path / "a" / "features").glob("*/test.tfdata"))) == 1


def test_autoencoder_benchmark_trains_and_measures(tmp_path):
    report = json.loads(run_benchmark("autoencoder.py", tmp_path).stdout)
    expected = ("latent_dim", "epochs", "train_seconds", "sc_db", "lsd_db", "stoi", "gl_floor_sc_db")
    for key in (*expected, "baseline_sc_db", "latent_mean_abs", "latent_std_mean"):
        assert key in report
    assert report["latent_dim"] == 16 and report["epochs"] == 2 and report["train_seconds"] > 0
    assert report["gl_floor_sc_db"] < report["sc_db"] < 0.0
    assert 0.0 <= report["stoi"] <= 1.0
    assert not (tmp_path / "audio_model").exists(), "the benchmark never writes the model folder"
    kept = tmp_path / "outputs" / "benchmarks" / "audio_model"
    assert report["kept_model"] == str(kept)
    codec, saved = load_audio_codec(kept)
    assert codec.latent_dim == 16 and saved["epochs"] == 2


def test_a_failed_measurement_keeps_the_trained_autoencoder(tmp_path, monkeypatch):
    """The model is saved before it is measured: a crash in the measurement loses no training."""
    spec = importlib.util.spec_from_file_location(
        "autoencoder_benchmark", ROOT / "benchmarks" / "autoencoder.py"
    )
    benchmark = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(benchmark)
    monkeypatch.setenv("A2I_PRESET", "ci")
    monkeypatch.setenv("A2I_ARTIFACTS", str(tmp_path))

    def failing_measurement(*args, **kwargs):
        raise FloatingPointError("the measurement failed after training")

    monkeypatch.setattr(benchmark, "evaluate_audio_codec", failing_measurement)
    with pytest.raises(FloatingPointError):
        benchmark.main(no_train=False)
    codec, saved = load_audio_codec(tmp_path / "outputs" / "benchmarks" / "audio_model")
    assert codec.latent_dim == 16 and saved["epochs"] == 2 and saved["train_seconds"] > 0


def test_autoencoder_benchmark_without_a_model_says_what_to_run(tmp_path):
    result = run_benchmark("autoencoder.py", tmp_path, "--no-train", check=False)
    assert result.returncode != 0 and "02_audio_autoencoder" in result.stderr


def test_projection_benchmark_trains_and_measures(tmp_path):
    report = json.loads(run_benchmark("projection.py", tmp_path).stdout)
    expected = ("recovery_rate", "median_cos", "pixel_mse", "ms_per_image", "baseline_steps")
    expected += ("baseline_recovery_rate", "baseline_ms_per_image", "fd", "fd_real_baseline")
    for key in (*expected, "classifier_accuracy", "train_seconds"):
        assert key in report
    assert report["latent_dim"] == 16 and report["baseline_steps"] == 40 and report["timing_repeats"] == 3
    assert 0.0 <= report["recovery_rate"] <= 1.0 and -1.0 <= report["median_cos"] <= 1.0
    assert report["ms_per_image"] > 0 and report["baseline_ms_per_image"] > 0
    assert 0 < report["encoder_only_ms_per_image"] < report["feedback_only_ms_per_image"]
    assert report["feedback_steps"] == 8 and report["audio_recovery_rate"] is None  # no audio model here
    assert report["fd"] >= 0 and report["fd_real_baseline"] >= 0 and 0 <= report["classifier_accuracy"] <= 1
    assert not (tmp_path / "image_model").exists(), "the benchmark never writes the model folder"


def test_projection_benchmark_without_a_model_says_what_to_run(tmp_path):
    result = run_benchmark("projection.py", tmp_path, "--no-train", check=False)
    assert result.returncode != 0 and "03_gan_and_projection" in result.stderr


def test_round_trip_benchmark_measures_the_shipped_models_when_none_was_trained(tmp_path):
    report = json.loads(run_benchmark("round_trip.py", tmp_path).stdout)
    expected = ("clips", "gl_sc_db", "ae_sc_db", "rt_sc_db", "rt_jpeg75_sc_db", "ae_lsd_db", "rt_lsd_db")
    expected += ("ae_stoi", "rt_stoi", "latent_cos_median", "digit_acc_original", "digit_acc_ae")
    expected += ("digit_acc_rt", "ms_per_clip_audio_to_image", "ms_per_clip_image_to_audio")
    for key in expected:
        assert key in report
    assert report["audio_model"] == str(ROOT / "audio_model") and report["gl_iterations"] == 16
    assert report["clips"] == 20 and report["gl_sc_db"] < report["ae_sc_db"] < 0.0
    # the shipped pair is trained: the image gives the latent back and costs the sound almost nothing
    assert report["latent_cos_median"] > 0.99 and report["rt_sc_db"] <= report["ae_sc_db"] + 1.0
    assert 0.0 <= report["digit_acc_rt"] <= 1.0 and report["ms_per_clip_image_to_audio"] > 0
    # meaning: the shipped judge reads each clip's image, the listener hears each real test image
    assert 0.0 <= report["a2i_digit_acc"] <= 1.0 and 0.0 <= report["i2a_digit_acc"] <= 1.0
    assert not (tmp_path / "audio_model").exists(), "the benchmark never writes a model folder"


def test_round_trip_benchmark_with_an_empty_artifacts_folder_says_what_to_run(tmp_path):
    result = run_benchmark("round_trip.py", tmp_path, "--artifacts", str(tmp_path), check=False)
    assert result.returncode != 0 and "02_audio_autoencoder" in result.stderr


def test_paired_benchmark_prints_one_row_per_model(tmp_path):
    report = json.loads(run_benchmark("paired.py", tmp_path, "--models", "mfcc", "cgan").stdout)
    assert set(report) == {"mfcc", "cgan", "all"}
    for name in ("mfcc", "cgan"):
        row = report[name]
        for key in ("digit_acc", "ssim", "hist_sim", "diversity", "fd", "fd_real_baseline", "train_seconds"):
            assert key in row
        assert 0.0 <= row["digit_acc"] <= 1.0 and row["fd"] >= 0 and row["train_seconds"] > 0
    assert report["mfcc"]["diversity"] is None and report["cgan"]["diversity"] > 0
    assert report["all"]["best_model"] in ("mfcc", "cgan") and report["all"]["train_seconds_total"] > 0
    assert 0.0 <= report["all"]["judge_accuracy"] <= 1.0


def test_paired_benchmark_refuses_an_unknown_model(tmp_path):
    result = run_benchmark("paired.py", tmp_path, "--models", "dalle", check=False)
    assert result.returncode != 0 and "invalid choice" in result.stderr


def test_tokens_benchmark_trains_and_measures(tmp_path):
    report = json.loads(run_benchmark("tokens.py", tmp_path).stdout)
    expected = ("image_vae_psnr", "image_codebook_perplexity", "audio_vae_sc_db", "audio_codebook_perplexity")
    expected += ("a2i_token_accuracy", "a2i_digit_accuracy", "i2a_token_accuracy", "i2a_digit_accuracy")
    for key in (*expected, "cycle_audio_sc_db", "cycle_image_digit_accuracy", "train_seconds"):
        assert key in report, key
    assert report["preset"] == "ci" and report["train_seconds"] > 0
    assert 0 <= report["a2i_digit_accuracy"] <= 1 and 0 <= report["i2a_token_accuracy"] <= 1
    assert set(report["train_seconds_by_stage"]) == {
        "image_vae",
        "audio_vae",
        "audio_to_image",
        "image_to_audio",
    }
