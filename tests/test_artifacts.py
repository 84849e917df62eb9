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
