import json

import numpy as np
import pytest

from helpers import artifacts


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = artifacts.save_json(tmp_path / "config.json", {"version": 1})
    with pytest.raises(RuntimeError), artifacts.atomic_path(path) as tmp:
        tmp.write_text('{"version": 2, "trunc')
        raise RuntimeError("interrupted half-way")
    assert path.read_text().strip() == '{\n "version": 1\n}'
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"], "temporary file removed"


def test_arrays_round_trip_without_pickle(tmp_path):
    path = artifacts.save_arrays(tmp_path / "a.npz", x=np.arange(3), names=np.array(["a", "bb"]))
    loaded = artifacts.load_arrays(path)
    assert loaded["x"].tolist() == [0, 1, 2] and loaded["names"].tolist() == ["a", "bb"]
    with pytest.raises(ValueError, match="pickle"):
        artifacts.save_arrays(tmp_path / "b.npz", bad=np.array([{"a": 1}], dtype=object))
    assert not (tmp_path / "b.npz").exists()


def test_json_keeps_numbers_on_one_line_and_round_trips(tmp_path):
    data = {
        "matrix": [[1.5, 2.0], [3.0, 4.0]],
        "vector": [1, 2, 3],
        "nested": {"list": [{"a": None}], "empty": {}},
    }
    path = artifacts.save_json(tmp_path / "c.json", data)
    text = path.read_text()
    assert json.loads(text) == data
    assert "[1.5, 2.0]" in text and "[1, 2, 3]" in text


def test_bundles_leave_a_compiled_models_optimizer_out(tmp_path):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((64,))
    model = keras.Model(inputs, keras.layers.Dense(64)(keras.layers.Dense(256)(inputs)), name="small")
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 64)), np.ones((4, 64)), verbose=0)
    model.save(tmp_path / "with_optimizer.keras")
    artifacts.save_model_bundle(tmp_path / "bundle", {"small": model}, {})
    (saved,) = (tmp_path / "bundle").glob("small.*.keras")
    assert saved.stat().st_size < 0.6 * (tmp_path / "with_optimizer.keras").stat().st_size
    models, _ = artifacts.load_model_bundle(tmp_path / "bundle", "any.ipynb")
    probe = np.random.default_rng(0).normal(size=(3, 64)).astype(np.float32)
    np.testing.assert_array_equal(models["small"].predict(probe, verbose=0), model.predict(probe, verbose=0))
    assert models["small"].name == "small" and model.optimizer is not None  # the caller's model is untouched


def test_save_array_writes_npy_atomically_and_refuses_pickle(tmp_path):
    path = artifacts.save_array(tmp_path / "z.npy", np.arange(4, dtype=np.float32))
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), np.arange(4))
    with pytest.raises(ValueError, match="pickle"):
        artifacts.save_array(tmp_path / "bad.npy", np.array([{"a": 1}], dtype=object))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["z.npy"]


def test_atomic_writes_get_a_normal_files_permissions(tmp_path):
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    path = artifacts.save_json(tmp_path / "a.json", {"x": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
