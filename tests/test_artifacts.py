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


def _trained_classifier():
    """A small compiled classifier made by a project builder, after one epoch (Adam's moments exist)."""
    from helpers.models.classifier import build_digit_classifier

    model = build_digit_classifier((8, 8, 1), n_classes=3, seed=0)
    model.fit(np.ones((4, 8, 8, 1)), np.array([0, 1, 2, 0]), verbose=0)
    return model


def _builders():
    from helpers.models.classifier import classifier_network

    return {"digit_classifier": classifier_network}


def test_bundles_leave_a_compiled_models_optimizer_out(tmp_path):
    model = _trained_classifier()
    model.save_weights(tmp_path / "with_optimizer.weights.h5")
    artifacts.save_model_bundle(tmp_path / "bundle", {"small": model}, {})
    (saved,) = (tmp_path / "bundle").glob("small.*.weights.h5")
    assert saved.stat().st_size < 0.6 * (tmp_path / "with_optimizer.weights.h5").stat().st_size
    models, config = artifacts.load_model_bundle(tmp_path / "bundle", "any.ipynb", _builders())
    probe = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype(np.float32)
    np.testing.assert_array_equal(models["small"].predict(probe, verbose=0), model.predict(probe, verbose=0))
    assert model.optimizer is not None  # the caller's model is untouched
    assert config["recipes"]["small"] == {
        "builder": "digit_classifier",
        "args": {"shape": [8, 8, 1], "n_classes": 3},
    }


def test_a_model_no_builder_made_is_refused_before_anything_is_written(tmp_path):
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs), name="handmade")
    with pytest.raises(ValueError, match="not made by one of the project's builders"):
        artifacts.save_model_bundle(tmp_path / "bundle", {"handmade": model}, {})
    assert not list((tmp_path / "bundle").glob("*"))


def _edit_config(folder, change):
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))


def test_a_model_that_computes_otherwise_than_when_saved_is_an_error(tmp_path):
    """The probe saved with each model catches weights read wrongly (another Keras, another builder)."""
    from helpers.errors import ArtifactError

    folder = artifacts.save_model_bundle(tmp_path / "bundle", {"small": _trained_classifier()}, {})
    _edit_config(
        folder, lambda config: config["probes"]["small"].__setitem__(0, 1.01 * config["probes"]["small"][0])
    )
    with pytest.raises(ArtifactError, match="computes other outputs than when it was saved"):
        artifacts.load_model_bundle(folder, "any.ipynb", _builders())


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["recipes"]["small"].__setitem__("builder", "os.system"), "no builder here makes"),
        (lambda c: c["recipes"]["small"]["args"].__setitem__("colour", "red"), "could not be built"),
        (lambda c: c["recipes"]["small"]["args"].__setitem__("n_classes", 5), "could not be loaded into"),
    ],
    ids=["unknown builder", "unknown argument", "other shape"],
)
def test_a_recipe_that_builds_nothing_fitting_is_an_error_naming_the_fix(tmp_path, change, message):
    from helpers.errors import ArtifactError

    folder = artifacts.save_model_bundle(tmp_path / "bundle", {"small": _trained_classifier()}, {})
    _edit_config(folder, change)
    with pytest.raises(ArtifactError, match=message) as error:
        artifacts.load_model_bundle(folder, "any.ipynb", _builders())
    assert "notebooks/any.ipynb" in str(error.value)


def test_a_bundle_of_whole_model_files_from_older_versions_still_loads(tmp_path):
    """Bundles saved before recipes existed held ``.keras`` files; this Keras wrote this one."""
    model = _trained_classifier()
    folder = tmp_path / "old_bundle"
    folder.mkdir()
    model.save(folder / "small.0123abcd.keras")
    files = {"small": "small.0123abcd.keras"}
    hashes = {"small": artifacts.file_sha256(folder / files["small"])}
    artifacts.save_json(folder / "config.json", {"files": files, "sha256": hashes})
    models, _ = artifacts.load_model_bundle(folder, "any.ipynb", _builders())
    probe = np.random.default_rng(0).normal(size=(3, 8, 8, 1)).astype(np.float32)
    np.testing.assert_allclose(models["small"].predict(probe, verbose=0), model.predict(probe, verbose=0))


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
