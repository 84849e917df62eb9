"""What a careful user does to the suite: kill training outright, and run the same thing twice."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMINGS = {  # with LOCATIONS, the only keys allowed to differ
    "seconds",
    "clips_per_second",
    "train_seconds",
    "in_memory_total_seconds",
    "in_memory_total_clips_per_second",
    "streaming_seconds",
    "streaming_clips_per_second",
}
LOCATIONS = {"kept_model"}  # where a run kept its model: each run has its own artifacts folder


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=os.environ.copy(), capture_output=True, text=True
    )


@pytest.mark.floor
@pytest.mark.parametrize("model", ["autoencoder", "gan"])
def test_training_killed_by_sigkill_resumes_from_the_last_epoch(tmp_path, model):
    whole = run("tests/kill_and_resume.py", model, str(tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-2000:]
    whole = json.loads(whole.stdout.splitlines()[-1])
    assert whole["epochs_run"] == [0, 1, 2]

    killed = run("tests/kill_and_resume.py", model, str(tmp_path / "cut"), "2")
    assert killed.returncode == -signal.SIGKILL, "the process died by SIGKILL, with no chance to clean up"
    resumed = run("tests/kill_and_resume.py", model, str(tmp_path / "cut"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    resumed = json.loads(resumed.stdout.splitlines()[-1])
    assert resumed["epochs_run"] == [2], "the rerun continues after the last completed epoch"
    assert resumed["history_epochs"] == [0, 1, 2], "the loss history survives the kill"
    # the resumed epoch sees its batches in another order (the input pipeline restarts), so
    # the final losses agree within a tolerance rather than exactly
    for key, value in whole["final"].items():
        assert np.isfinite(resumed["final"][key])
        assert resumed["final"][key] == pytest.approx(value, rel=0.25, abs=0.05), key


def without_timings(report: dict) -> dict:
    """The report without its timings and the folders it wrote to (both differ between runs)."""
    return {key: value for key, value in report.items() if key not in TIMINGS | LOCATIONS}


@pytest.mark.parametrize("benchmark", ["preprocess", "autoencoder"])
def test_the_ci_preset_gives_identical_numbers_twice(tmp_path, benchmark):
    """Bit-identical benchmark JSON, timings aside, from two fresh processes in separate folders."""
    reports = []
    for name in ("first", "second"):
        env = {**os.environ, "A2I_ARTIFACTS": str(tmp_path / name)}
        done = subprocess.run(
            [sys.executable, f"benchmarks/{benchmark}.py"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        reports.append(without_timings(json.loads(done.stdout)))
    assert reports[0] == reports[1]


def test_on_this_machine_the_strategy_is_one_device_and_changes_nothing():
    import tensorflow as tf

    from helpers import runtime

    chosen = runtime.strategy()
    assert chosen.num_replicas_in_sync == 1 and runtime.global_batch(16, chosen) == 16
    gradients = [tf.constant([2.0, 4.0]), None]
    assert runtime.replica_mean(gradients) is gradients


def test_the_autoencoder_and_the_gan_train_under_mirrored_strategy_on_two_devices(tmp_path):
    done = run("tests/two_devices.py", str(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["replicas"] == 2, "the CPU was split into two logical devices, one replica each"
    for key in ("autoencoder_loss", "gan_latent_mse", "gan_d_loss"):
        values = report[key]
        assert np.isfinite(values).all() and values[-1] < values[0], (key, values)


def test_global_batches_scale_every_batch_size_with_the_replicas():
    from helpers import config, runtime

    class Two:
        num_replicas_in_sync = 2

    preset = config.load_preset("demo")
    scaled = runtime.with_global_batches(preset, Two())
    assert scaled.autoencoder.batch_size == 2 * preset.autoencoder.batch_size
    assert scaled.gan.inversion_batch_size == 2 * preset.gan.inversion_batch_size
    assert scaled.tokens.translator_batch_size == 2 * preset.tokens.translator_batch_size
    assert scaled.autoencoder.epochs == preset.autoencoder.epochs and scaled.seed == preset.seed
    assert runtime.with_global_batches(preset, runtime.strategy()) is preset


@pytest.mark.floor
@pytest.mark.parametrize("point", ["after_first_file", "before_commit"])
def test_a_save_killed_part_way_leaves_the_previous_model_loadable_and_unchanged(tmp_path, point):
    import shutil

    from helpers.models.gan import load_image_model, save_image_model

    folder = tmp_path / "image_model"
    shutil.copytree(ROOT / "image_model", folder)
    before = (folder / "config.json").read_text()
    original, config = load_image_model(folder)

    killed = run("tests/kill_during_save.py", str(folder), point)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert (folder / "config.json").read_text() == before, "the commit point was never reached"
    models, _ = load_image_model(folder)  # checksums verified on load
    for loaded, kept in zip(
        models["generator"].get_weights(), original["generator"].get_weights(), strict=True
    ):
        np.testing.assert_array_equal(loaded, kept)

    # the dead save's orphaned files are cleared by the next save that completes
    extra = {key: value for key, value in config.items() if key not in ("files", "sha256")}
    save_image_model(folder, models, extra)
    named = set(json.loads((folder / "config.json").read_text())["files"].values())
    assert {path.name for path in folder.glob("*.weights.h5")} == named  # hidden staging files too


def test_nothing_loads_pickle_and_keras_files_load_in_safe_mode():
    sources = [*ROOT.glob("helpers/**/*.py"), *ROOT.glob("benchmarks/*.py"), *ROOT.glob("scripts/*.py")]
    sources += list(ROOT.glob("notebooks/*.ipynb"))
    for path in sources:
        text = path.read_text()
        for banned in ("import pickle", "allow_pickle=True", "safe_mode=False", "joblib", "dill"):
            assert banned not in text, f"{path.relative_to(ROOT)} uses {banned}"
    loaders = [p for p in sources if "load_model(" in p.read_text()]
    assert loaders, "the bundle loader was found"
    for path in loaders:
        for line in path.read_text().splitlines():
            if "keras.saving.load_model(" in line:
                assert "safe_mode=True" in line, f"{path.relative_to(ROOT)}: {line.strip()}"
