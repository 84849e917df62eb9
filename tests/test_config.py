from pathlib import Path

import pytest

from helpers import config
from helpers.errors import ConfigError


def test_default_preset_is_demo(monkeypatch):
    monkeypatch.delenv("A2I_PRESET", raising=False)
    assert config.load_preset().name == "demo"


def test_preset_from_environment(monkeypatch):
    monkeypatch.setenv("A2I_PRESET", "FULL")
    assert config.load_preset().name == "full"


def test_unknown_preset_lists_valid_names(monkeypatch):
    monkeypatch.setenv("A2I_PRESET", "huge")
    with pytest.raises(ConfigError, match=r"'huge'.*ci, demo, full"):
        config.load_preset()


def test_seed_override(monkeypatch):
    monkeypatch.setenv("A2I_SEED", "7")
    assert config.load_preset("ci").seed == 7
    monkeypatch.setenv("A2I_SEED", "seven")
    with pytest.raises(ConfigError, match="A2I_SEED"):
        config.load_preset("ci")


def test_front_end_gives_square_spectrograms():
    fe = config.load_preset("demo").front_end
    assert (fe.n_freq, fe.n_frames) == (128, 128)
    assert fe.db_floor == pytest.approx(-60.0)


@pytest.mark.parametrize(
    "var, fn", [("A2I_AUDIO_SOURCE", config.audio_source), ("A2I_IMAGE_SOURCE", config.image_source)]
)
def test_unknown_source_lists_valid_values(monkeypatch, var, fn):
    monkeypatch.setenv(var, "no-such-source-or-folder")
    with pytest.raises(ConfigError, match=f"{var}=.*neither a known source"):
        fn()


def test_sources_accept_names_and_folders(monkeypatch, tmp_path):
    monkeypatch.delenv("A2I_AUDIO_SOURCE", raising=False)
    monkeypatch.delenv("A2I_IMAGE_SOURCE", raising=False)
    assert config.audio_source() == "sample"
    assert config.image_source() == "digits"
    assert config.audio_source("FSDD") == "fsdd"
    assert config.image_source("mnist") == "mnist"
    assert config.audio_source(str(tmp_path)) == str(tmp_path.resolve())
    tag = config.source_tag(str(tmp_path / "My Clips"))
    assert tag.startswith("folder-my-clips-")
    assert config.source_tag(str(tmp_path / "elsewhere" / "My Clips")) != tag


def test_paths_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("A2I_ARTIFACTS", str(tmp_path / "run"))
    monkeypatch.setenv("A2I_CACHE", str(tmp_path / "cache"))
    paths = config.paths(config.load_preset("demo"))
    assert paths.root == tmp_path / "run"
    assert paths.audio_model == tmp_path / "run" / "audio_model"
    assert paths.cache == tmp_path / "cache"


def test_ci_preset_never_defaults_to_the_shipped_model_folders(monkeypatch):
    monkeypatch.delenv("A2I_ARTIFACTS", raising=False)
    ci = config.paths(config.load_preset("ci"))
    demo = config.paths(config.load_preset("demo"))
    assert demo.audio_model == config.REPO_ROOT / "audio_model"
    assert ci.audio_model != demo.audio_model
    assert Path(config.REPO_ROOT / "outputs") in ci.root.parents
