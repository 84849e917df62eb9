"""The streaming feature path (``helpers/streaming.py``, ``features.prepare_features(...,
streaming_path=True)``): same values as the in-memory path, bad files skipped, atomic
writes, training from disk, and memory that does not grow with the number of files."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import artifacts, config, datasets, features, streaming
from helpers.errors import ArtifactError, ConfigError
from helpers.models.autoencoder import build_vae, split_latents, train_audio_codec

ROOT = Path(__file__).resolve().parent.parent
PRESET = dataclasses.replace(config.load_preset("ci"), max_voices=None)
FRONT_END = PRESET.front_end


def write_voices(folder: Path, speakers: int = 6, takes: int = 5) -> Path:
    """Every digit said ``takes`` times by each of ``speakers`` synthetic voices (0.3 s tones)."""
    folder.mkdir(parents=True, exist_ok=True)
    time = np.arange(2400) / 8000
    rng = np.random.default_rng(0)
    for speaker in range(speakers):
        for digit in range(10):
            for take in range(takes):
                pitch = 120 + 30 * digit + 7 * speaker + take
                tone = 0.3 * np.sin(2 * np.pi * pitch * time) + 0.01 * rng.standard_normal(len(time))
                sf.write(folder / f"{digit}_v{speaker}_{take}.wav", tone.astype(np.float32), 8000)
    return folder


@pytest.fixture(scope="module")
def voices(tmp_path_factory) -> Path:
    return write_voices(tmp_path_factory.mktemp("voices"))


@pytest.fixture(scope="module")
def both_paths(voices, tmp_path_factory) -> tuple[Path, Path, dict, dict]:
    """The same catalog through the in-memory and the streaming path."""
    root = tmp_path_factory.mktemp("features")
    catalog = datasets.scan_audio_folder(voices)
    in_memory = features.prepare_features(catalog, PRESET, root / "arrays", streaming_path=False)
    streamed = features.prepare_features(catalog, PRESET, root / "stream", streaming_path=True)
    return root / "arrays", root / "stream", in_memory, streamed


def test_streamed_features_hold_the_same_values_as_in_memory_ones(both_paths):
    arrays_dir, stream_dir, in_memory, streamed = both_paths
    assert (in_memory["format"], streamed["format"]) == ("arrays", "stream")
    for key in ("clips", "train_clips", "test_clips", "train_speakers", "test_speakers"):
        assert in_memory[key] == streamed[key]
    assert sorted(p.name for p in stream_dir.iterdir()) == [
        "features.json",
        "stats.json",
        "test.tfdata",
        "train.tfdata",
    ]
    a, b = features.load_stats(arrays_dir, FRONT_END), features.load_stats(stream_dir, FRONT_END)
    np.testing.assert_allclose(b.mean_db, a.mean_db, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b.std_db, a.std_db, rtol=0, atol=1e-9)
    for name in features.SPLITS:
        x, y = features.load_split(arrays_dir, name), features.load_split(stream_dir, name)
        i, j = np.argsort(x.files), np.argsort(y.files)
        assert list(x.files[i]) == list(y.files[j])
        assert np.array_equal(x.clips[i], y.clips[j]) and np.array_equal(x.digits[i], y.digits[j])
        assert list(x.speakers[i]) == list(y.speakers[j])
        np.testing.assert_allclose(y.spectrograms[j], x.spectrograms[i], rtol=0, atol=1e-5)
    test_a, test_b = features.load_split(arrays_dir, "test"), features.load_split(stream_dir, "test")
    assert list(test_a.files) == list(test_b.files), "the test split keeps the catalog's order"
    train_b = features.load_split(stream_dir, "train")
    assert list(train_b.files) != sorted(train_b.files), "training records are written shuffled"


def test_the_streaming_path_is_reproducible(voices, both_paths, tmp_path):
    _, stream_dir, _, _ = both_paths
    features.prepare_features(datasets.scan_audio_folder(voices), PRESET, tmp_path, streaming_path=True)
    for name in features.SPLITS:
        first, again = features.load_split(stream_dir, name), features.load_split(tmp_path, name)
        assert list(first.files) == list(again.files)
        assert np.array_equal(first.spectrograms, again.spectrograms)


def test_open_split_leaves_a_streamed_split_on_disk(both_paths):
    arrays_dir, stream_dir, _, streamed = both_paths
    split = features.open_split(stream_dir, "train")
    assert isinstance(split, features.StreamedSplit) and len(split) == streamed["train_clips"]
    assert isinstance(features.open_split(arrays_dir, "train"), features.FeatureSplit)
    every = features.sample_split(split, seed=0)
    assert len(every) == len(split)
    some = features.sample_split(split, seed=3, max_clips=40)
    assert len(some) == 40 and len(set(some.files)) == 40 and set(some.files) <= set(every.files)
    assert list(features.sample_split(split, seed=3, max_clips=40).files) == list(some.files)
    assert list(features.sample_split(split, seed=4, max_clips=40).files) != list(some.files)
    assert len(set(some.digits.tolist())) >= 8, "a sample spreads over the digits"


def test_streamed_batches_visit_every_record_once_per_epoch_in_a_new_order(both_paths):
    _, stream_dir, _, _ = both_paths
    split = features.open_split(stream_dir, "train")
    reference = features.load_split(stream_dir, "train").spectrograms
    data = features.spectrogram_batches(split, 32, seed=7)
    epochs = [np.concatenate(list(data.as_numpy_iterator())) for _ in range(2)]
    for epoch in epochs:
        assert epoch.shape == reference.shape
        assert np.allclose(np.sort(epoch.sum(axis=(1, 2, 3))), np.sort(reference.sum(axis=(1, 2, 3))))
    assert not np.array_equal(epochs[0], epochs[1])
    unshuffled = np.concatenate(list(features.spectrogram_batches(split, 32, 7, shuffle=False)))
    assert np.array_equal(unshuffled, reference)


def test_the_autoencoder_trains_from_a_streamed_split(both_paths, tmp_path):
    _, stream_dir, _, _ = both_paths
    train, test = features.open_split(stream_dir, "train"), features.open_split(stream_dir, "test")
    stats = features.load_stats(stream_dir, FRONT_END)
    vae = build_vae((FRONT_END.n_freq, FRONT_END.n_frames, 1), stats, PRESET.autoencoder, seed=0)
    codec, history = train_audio_codec(vae, train, test, PRESET, tmp_path / "run")
    assert len(history["loss"]) == PRESET.autoencoder.epochs
    assert np.isfinite(history["loss"]).all() and history["loss"][-1] < history["loss"][0]
    latents = split_latents(codec, train)
    in_memory = codec.encode(features.load_split(stream_dir, "train").spectrograms)
    assert latents.shape == (len(train), PRESET.autoencoder.latent_dim)
    np.testing.assert_allclose(latents, in_memory, atol=1e-4)
    assert abs(latents.mean(axis=0)).max() < 1e-3, "the whitening was fitted on every training clip"


def test_streaming_skips_unreadable_files_with_one_warning(voices, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for path in sorted(voices.iterdir())[:120]:
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "3_v0_98.wav").write_text("not audio")
    (folder / "4_v1_99.wav").write_bytes(b"")
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable audio file\(s\)") as caught:
        summary = features.prepare_features(
            datasets.scan_audio_folder(folder), PRESET, tmp_path / "out", streaming_path=True
        )
    message = next(str(w.message) for w in caught if "unreadable" in str(w.message))
    assert "3_v0_98.wav" in message and "4_v1_99.wav" in message
    assert summary["clips"] == 120 == summary["train_clips"] + summary["test_clips"]
    loaded = np.concatenate([features.load_split(tmp_path / "out", n).files for n in features.SPLITS])
    assert "3_v0_98.wav" not in loaded and len(loaded) == 120


def test_streaming_with_nothing_readable_fails_and_leaves_no_features(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    for speaker in range(3):
        (folder / f"1_s{speaker}_0.wav").write_text("not audio")
    with pytest.warns(UserWarning, match="skipped"), pytest.raises(ConfigError, match="readable"):
        features.prepare_features(datasets.scan_audio_folder(folder), PRESET, tmp_path / "out", True)
    assert not features.has_features(tmp_path / "out")


def test_a_failed_rebuild_never_looks_finished(voices, tmp_path):
    """A build that fails part-way (here: every held-out speaker's files unreadable, found only
    after the training split is written) leaves no finished-looking folder, not even the old one."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for path in sorted(voices.iterdir()):
        (folder / path.name).write_bytes(path.read_bytes())
    catalog = datasets.scan_audio_folder(folder)
    out = tmp_path / "features"
    first = features.prepare_features(catalog, PRESET, out, streaming_path=True)
    assert features.has_features(out)
    for path in folder.iterdir():
        if path.stem.split("_")[1] in first["test_speakers"]:
            path.write_text("not audio")
    with pytest.warns(UserWarning, match="skipped"), pytest.raises(ConfigError, match="unreadable files"):
        features.prepare_features(catalog, PRESET, out, streaming_path=True)
    assert not features.has_features(out)
    assert sorted(p.name for p in out.iterdir()) == [], "nothing of either build is left to be mistaken"


def test_a_killed_write_leaves_nothing_behind_for_the_next_build(voices, tmp_path):
    out = tmp_path / "features"
    out.mkdir()
    (out / ".train.tfdata.abc123").mkdir()  # what a write killed inside Dataset.save leaves
    (out / ".train.tfdata.abc123" / "00000.shard").write_bytes(b"x" * 1000)
    (out / "features.json").write_text("{}")  # an older build's summary
    features.prepare_features(datasets.scan_audio_folder(voices), PRESET, out, streaming_path=True)
    assert not list(out.glob(".*")) and features.has_features(out)
    assert features.load_summary(out)["format"] == "stream"


def test_parallel_decoding_leaves_the_warning_filters_as_they_were(voices, tmp_path):
    """Unreadable files make librosa warn on the decoding threads; a ``catch_warnings`` there
    (not thread-safe) once left an "ignore everything" filter behind for the whole process."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    for path in sorted(voices.iterdir())[:60]:
        (folder / path.name).write_bytes(path.read_bytes())
    for speaker in range(6):
        for take in range(4):
            (folder / f"2_v{speaker}_{90 + take}.wav").write_text("not audio")
    for attempt in range(3):
        with pytest.warns(UserWarning, match=r"skipped 24 unreadable audio file\(s\)"):
            before = list(warnings.filters)  # inside: pytest.warns restores the filters on leaving
            features.prepare_features(
                datasets.scan_audio_folder(folder), PRESET, tmp_path / f"out{attempt}", streaming_path=True
            )
            assert warnings.filters == before


@pytest.mark.parametrize(
    ("setting", "source", "expected"),
    [
        (None, "sample", False),
        (None, "fsdd", True),
        (None, "/data/my_clips", True),
        ("auto", "/data/my_clips", True),
        ("1", "sample", True),
        ("0", "/data/my_clips", False),
        ("off", "fsdd", False),
    ],
)
def test_folder_sources_stream_unless_told_otherwise(monkeypatch, setting, source, expected):
    if setting is None:
        monkeypatch.delenv("A2I_STREAMING", raising=False)
    else:
        monkeypatch.setenv("A2I_STREAMING", setting)
    assert config.streams_features(source) is expected


def test_a_bad_streaming_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("A2I_STREAMING", "sometimes")
    with pytest.raises(ConfigError, match="A2I_STREAMING"):
        config.streams_features("sample")


def test_ensure_features_streams_a_folder_source_once(voices, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("A2I_STREAMING", raising=False)
    paths = config.Paths(root=tmp_path, cache=tmp_path / "cache")
    source = config.audio_source(str(voices))
    folder = features.ensure_features(paths, PRESET, source)
    assert "building them" in capsys.readouterr().out
    assert (folder / "test.tfdata").is_dir() and not (folder / "test.npz").exists()
    written = (folder / "features.json").stat().st_mtime_ns
    assert features.ensure_features(paths, PRESET, source) == folder
    assert (folder / "features.json").stat().st_mtime_ns == written and capsys.readouterr().out == ""


def test_changing_path_replaces_the_other_format(voices, tmp_path):
    catalog = datasets.scan_audio_folder(voices)
    features.prepare_features(catalog, PRESET, tmp_path, streaming_path=True)
    features.prepare_features(catalog, PRESET, tmp_path, streaming_path=False)
    assert not list(tmp_path.glob("*.tfdata")) and isinstance(
        features.open_split(tmp_path, "train"), features.FeatureSplit
    )
    features.prepare_features(catalog, PRESET, tmp_path, streaming_path=True)
    assert not list(tmp_path.glob("*.npz")) and isinstance(
        features.open_split(tmp_path, "train"), features.StreamedSplit
    )


def test_a_broken_stream_names_the_folder_and_the_fix(both_paths, tmp_path):
    _, stream_dir, _, _ = both_paths
    broken = tmp_path / "features"
    subprocess.run(["cp", "-r", str(stream_dir), str(broken)], check=True)
    (broken / "test.tfdata" / "dataset_spec.pb").unlink()
    with pytest.raises(ArtifactError, match=r"test\.tfdata.*01_preprocess"):
        features.load_split(broken, "test")
    for data_file in (broken / "train.tfdata").rglob("*.snapshot"):
        data_file.write_bytes(data_file.read_bytes()[:100])
    with pytest.raises(ArtifactError, match=r"train\.tfdata is unreadable.*01_preprocess"):
        features.load_split(broken, "train")


def test_an_interrupted_stream_write_keeps_the_previous_one(both_paths, tmp_path):
    _, stream_dir, _, _ = both_paths
    target = tmp_path / "test.tfdata"
    subprocess.run(["cp", "-r", str(stream_dir / "test.tfdata"), str(target)], check=True)
    before = streaming.records_to_arrays(target, features.load_stats(stream_dir, FRONT_END))

    class InterruptedWriteError(Exception):
        pass

    with pytest.raises(InterruptedWriteError), artifacts.atomic_folder(target) as staging:
        (staging / "dataset_spec.pb").write_bytes(b"half")
        raise InterruptedWriteError
    after = streaming.records_to_arrays(target, features.load_stats(stream_dir, FRONT_END))
    assert np.array_equal(before["spectrograms"], after["spectrograms"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.tfdata"], "no staging folder left behind"


def measure(folder: Path, files: int, mode: str) -> dict:
    run = subprocess.run(
        [sys.executable, str(ROOT / "tests" / "stream_memory.py"), str(folder), str(files), mode],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_streaming_memory_stays_bounded_on_thousands_of_tiny_files(tmp_path):
    streamed = measure(tmp_path / "stream", 3000, "stream")
    assert streamed["format"] == "stream" and streamed["clips"] >= 2400
    assert streamed["features_mb"] > 200
    # measured ~25 MB of growth for ~234 MB of features; holding them would take the whole amount
    assert streamed["grew_mb"] < 0.25 * streamed["features_mb"], streamed
    # the probe can tell: the in-memory path on the same files grows past their size (~930 MB measured)
    in_memory = measure(tmp_path / "memory", 3000, "memory")
    assert in_memory["grew_mb"] > in_memory["features_mb"], in_memory
