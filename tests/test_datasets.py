import hashlib
import http.server
import io
import re
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from conftest import tone
from helpers import config, datasets, features
from helpers.errors import ConfigError, DownloadError


@pytest.fixture
def paths(tmp_path) -> config.Paths:
    return config.Paths(root=tmp_path / "artifacts", cache=tmp_path / "cache")


# --- the embedded sample -------------------------------------------------------------------


def test_sample_source_has_all_digits_and_many_voices(paths):
    catalog = datasets.audio_catalog("sample", paths)
    assert len(catalog) >= 500
    assert set(catalog.digits.tolist()) == set(range(10))
    assert len(np.unique(catalog.speakers)) >= 50
    assert sum(p.stat().st_size for p in catalog.paths) <= 6_000_000


def test_speaker_split_is_disjoint_and_reproducible(paths):
    catalog = datasets.audio_catalog("sample", paths)
    train, test = datasets.split_by_speaker(catalog.speakers, 0.2, seed=3)
    assert len(train) + len(test) == len(catalog)
    assert not set(catalog.speakers[train]) & set(catalog.speakers[test])
    assert set(catalog.digits[test].tolist()) == set(range(10))
    again, _ = datasets.split_by_speaker(catalog.speakers, 0.2, seed=3)
    np.testing.assert_array_equal(train, again)


def test_split_needs_two_speakers():
    with pytest.raises(ConfigError, match="at least two speakers"):
        datasets.split_by_speaker(np.array(["a", "a"]), 0.2, seed=0)


def test_limit_speakers_keeps_whole_voices(paths):
    catalog = datasets.audio_catalog("sample", paths)
    small = datasets.limit_speakers(catalog, 5, seed=0)
    assert len(np.unique(small.speakers)) == 5
    assert len(small) == 50


def test_voice_kinds_name_every_sample_speaker_and_nothing_elsewhere(paths):
    catalog = datasets.audio_catalog("sample", paths)
    kinds = datasets.voice_kinds("sample")
    assert set(np.unique(catalog.speakers)) <= set(kinds)
    assert kinds["engbscotlandf1"] == "f1" and kinds["enusm2"] == "m2"  # the variant after "+"
    assert 10 < len(set(kinds.values())) < len(kinds)  # kinds are shared by some voices, not all
    assert datasets.voice_kinds("fsdd") == {} and datasets.voice_kinds(str(paths.root)) == {}


def test_voice_kind_groups_split_held_out_voices_by_whether_training_has_their_kind():
    train, held_out = np.array(["engbm1", "enusm2"]), np.array(["engbscotlandf1", "enusm2", "nobody"])
    groups = datasets.groups_by_voice_kind("sample", train, held_out)
    np.testing.assert_array_equal(groups["kind heard in training"], [False, True, False])
    np.testing.assert_array_equal(groups["kind never heard"], [True, False, True])  # unknown: never heard
    only = datasets.groups_by_voice_kind("fsdd", train, held_out)
    assert list(only) == ["all held-out voices"] and only["all held-out voices"].all()


# --- folders -------------------------------------------------------------------------------


def test_folder_names_give_digit_and_speaker(write_audio, tmp_path):
    write_audio("clips/7_jackson_32.wav", tone(300, 0.3, 8000), 8000)
    write_audio("clips/sub/3_theo_1.flac", tone(300, 0.3, 8000), 8000)
    write_audio("clips/birdsong.ogg", tone(300, 0.3, 8000), 8000)
    catalog = datasets.scan_audio_folder(tmp_path / "clips")
    by_name = {
        p.name: (d, s) for p, d, s in zip(catalog.paths, catalog.digits, catalog.speakers, strict=False)
    }
    assert by_name["7_jackson_32.wav"] == (7, "jackson")
    assert by_name["3_theo_1.flac"] == (3, "theo")
    assert by_name["birdsong.ogg"] == (-1, "birdsong")


def test_folder_without_audio_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text("no audio here")
    with pytest.raises(ConfigError, match="holds no audio files"):
        datasets.scan_audio_folder(tmp_path)


def test_folder_mixing_good_and_bad_files_skips_the_bad(write_audio, tmp_path, front_end):
    for i in range(3):
        write_audio(f"mix/{i}_a_0.wav", tone(300 + 50 * i, 0.3, 8000), 8000)
    (tmp_path / "mix" / "5_b_0.wav").write_text("not audio")
    (tmp_path / "mix" / "6_b_0.wav").write_bytes(b"")
    catalog = datasets.scan_audio_folder(tmp_path / "mix")
    with pytest.warns(UserWarning, match=r"skipped 2 unreadable.*5_b_0.wav.*6_b_0.wav"):
        clips, kept = features.load_clips(catalog, front_end)
    assert clips.shape == (3, front_end.clip_samples)
    assert [p.name for p in kept.paths] == ["0_a_0.wav", "1_a_0.wav", "2_a_0.wav"]


def test_folder_with_only_bad_files_fails(tmp_path, front_end):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "1_a_0.wav").write_text("not audio")
    catalog = datasets.scan_audio_folder(tmp_path / "bad")
    with pytest.warns(UserWarning), pytest.raises(ConfigError, match="no readable audio"):
        features.load_clips(catalog, front_end)


# --- downloads, served from 127.0.0.1 ---------------------------------------------------------


@pytest.fixture
def serve(tmp_path):
    """Serve files from a folder on 127.0.0.1; yields a function name -> URL."""
    folder = tmp_path / "served"
    folder.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def publish(name: str, payload: bytes) -> tuple[str, str]:
        (folder / name).write_bytes(payload)
        return f"http://127.0.0.1:{server.server_address[1]}/{name}", hashlib.sha256(payload).hexdigest()

    yield publish
    server.shutdown()
    server.server_close()


def fsdd_fixture_archive() -> bytes:
    """A miniature FSDD release: 3 speakers x 10 digits, laid out like the real archive."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for speaker in ("ann", "bob", "cy"):
            for digit in range(10):
                wav = io.BytesIO()
                sf.write(wav, tone(200 + 40 * digit, 0.4, 8000), 8000, format="WAV")
                info = tarfile.TarInfo(f"free-spoken-digit-dataset-1.0.9/recordings/{digit}_{speaker}_0.wav")
                info.size = wav.getbuffer().nbytes
                wav.seek(0)
                tar.addfile(info, wav)
    return buffer.getvalue()


def test_fsdd_download_extract_and_cache(serve, paths, monkeypatch, capsys):
    url, sha = serve("fsdd.tar.gz", fsdd_fixture_archive())
    monkeypatch.setenv("A2I_FSDD_URL", url)
    monkeypatch.setenv("A2I_FSDD_SHA256", sha)
    catalog = datasets.audio_catalog("fsdd", paths)
    printed = capsys.readouterr()
    assert printed.out == "" and "Downloading" in printed.err  # stdout is left to a benchmark's JSON
    assert len(catalog) == 30 and catalog.source == "fsdd"
    assert set(catalog.speakers.tolist()) == {"ann", "bob", "cy"}
    assert set(catalog.digits.tolist()) == set(range(10))
    # a second call is served from the cache: no server needed
    monkeypatch.setenv("A2I_FSDD_URL", "http://127.0.0.1:9/unreachable.tar.gz")
    assert len(datasets.audio_catalog("fsdd", paths)) == 30


def test_download_with_wrong_hash_fails_and_leaves_nothing(serve, paths, monkeypatch):
    url, _ = serve("fsdd.tar.gz", fsdd_fixture_archive())
    monkeypatch.setenv("A2I_FSDD_URL", url)
    monkeypatch.setenv("A2I_FSDD_SHA256", "0" * 64)
    with pytest.raises(DownloadError, match="pinned SHA-256"):
        datasets.audio_catalog("fsdd", paths)
    assert not (paths.cache / "audio2image" / datasets.FSDD.filename).exists()


def test_unreachable_download_names_the_url(paths, monkeypatch):
    monkeypatch.setenv("A2I_MNIST_URL", "http://127.0.0.1:9/mnist.npz")
    with pytest.raises(DownloadError, match=r"127\.0\.0\.1:9.*embedded source"):
        datasets.image_set("mnist", config.load_preset("ci"), paths)


def test_pinned_hashes_are_sha256():
    for download in (datasets.FSDD, datasets.MNIST):
        assert re.fullmatch(r"[0-9a-f]{64}", download.sha256)


def mnist_fixture_npz(n_train: int = 20, n_test: int = 5) -> bytes:
    """A miniature ``mnist.npz``: random 28 x 28 digits labelled 0, 1, 2, ... in turn."""
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        x_train=rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        y_train=np.arange(n_train) % 10,
        x_test=rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        y_test=np.arange(n_test) % 10,
    )
    return buffer.getvalue()


def test_fsdd_and_mnist_give_paired_data(serve, paths, monkeypatch):
    from helpers.paired_data import load_paired_data

    for name, payload in (("FSDD", fsdd_fixture_archive()), ("MNIST", mnist_fixture_npz(60, 20))):
        url, sha = serve(f"{name}.bin", payload)
        monkeypatch.setenv(f"A2I_{name}_URL", url)
        monkeypatch.setenv(f"A2I_{name}_SHA256", sha)
    data = load_paired_data(paths, config.load_preset("ci"), "fsdd", "mnist", announce=False)
    assert len(data.train) + len(data.test) == 30 and len(data.train_images) + len(data.test_images) == 80
    assert not set(data.train.speakers) & set(data.test.speakers)
    for split, pool in ((data.train, data.train_images), (data.test, data.test_images)):
        assert np.array_equal(pool.labels[split.partner_index], split.digits)
        assert split.partners.shape == (len(split), 32, 32, 1)


def test_mnist_download_path(serve, paths, monkeypatch):
    url, sha = serve("mnist.npz", mnist_fixture_npz())
    monkeypatch.setenv("A2I_MNIST_URL", url)
    monkeypatch.setenv("A2I_MNIST_SHA256", sha)
    images = datasets.image_set("mnist", config.load_preset("ci"), paths)
    assert images.images.shape == (25, 32, 32, 1)
    assert images.labels.tolist()[:10] == list(range(10))
    assert images.images.min() >= 0.0 and images.images.max() <= 1.0


# --- images ----------------------------------------------------------------------------------


def test_digits_source_is_real_handwriting_at_32_pixels(paths):
    preset = config.load_preset("demo")
    images = datasets.image_set("digits", preset, paths)
    assert images.images.shape == (1797, 32, 32, 1)
    assert set(images.labels.tolist()) == set(range(10))
    assert images.images.min() >= 0.0 and images.images.max() <= 1.0
    train, test = datasets.split_images(images.labels, 0.2, seed=0)
    assert not set(train) & set(test) and len(train) + len(test) == len(images)
    assert set(images.labels[test].tolist()) == set(range(10))


def test_ci_preset_caps_images(paths):
    images = datasets.image_set("digits", config.load_preset("ci"), paths)
    assert len(images) == config.load_preset("ci").max_images


def test_features_are_written_and_read_back(paths):
    preset = config.load_preset("ci")
    folder = features.features_dir(paths, preset, "sample")
    summary = features.prepare_features(datasets.audio_catalog("sample", paths), preset, folder)
    train, test = features.load_split(folder, "train"), features.load_split(folder, "test")
    assert summary["clips"] == len(train) + len(test) == 10 * preset.max_voices
    assert train.spectrograms.shape[1:] == (128, 128, 1) and train.spectrograms.dtype == np.float32
    assert not set(train.speakers) & set(test.speakers)
    assert features.load_summary(folder)["test_speakers"] == summary["test_speakers"]
    assert features.load_stats(folder, preset.front_end).mean_db.shape == (128,)


def test_ensure_features_builds_once_and_then_reuses(paths, capsys):
    preset = config.load_preset("ci")
    folder = features.ensure_features(paths, preset, "sample")
    assert (
        folder == features.features_dir(paths, preset, "sample")
        and "building them" in capsys.readouterr().out
    )
    written = (folder / "test.npz").stat().st_mtime_ns
    assert features.ensure_features(paths, preset, "sample", announce=False) == folder
    assert (folder / "test.npz").stat().st_mtime_ns == written and capsys.readouterr().out == ""


def test_missing_or_broken_features_say_how_to_rebuild(tmp_path):
    from helpers.errors import ArtifactError

    with pytest.raises(ArtifactError, match="01_preprocess"):
        features.load_split(tmp_path, "train")
    (tmp_path / "train.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ArtifactError, match="unreadable"):
        features.load_split(Path(tmp_path), "train")


def test_fixed_partners_show_the_same_digit_and_are_spread_evenly():
    digits = np.array([0, 0, 0, 0, 1, 1, 2])
    labels = np.array([1, 0, 2, 0, 1, 0, 9])
    partners = datasets.pair_by_digit(digits, labels, seed=3)
    assert partners.dtype == np.int64 and np.array_equal(labels[partners], digits)
    zeros = partners[digits == 0].tolist()  # four clips, three images of a zero: each dealt once, one twice
    assert set(zeros) == {1, 3, 5} and max(zeros.count(i) for i in (1, 3, 5)) == 2
    assert np.array_equal(partners, datasets.pair_by_digit(digits, labels, seed=3))


def test_pairing_names_what_is_missing():
    from helpers.errors import ConfigError

    with pytest.raises(ConfigError, match=r"no image shows digit\(s\) \[3\]"):
        datasets.pair_by_digit(np.array([0, 3]), np.array([0, 1]), seed=0)
    with pytest.raises(ConfigError, match="1 clip\\(s\\) have no digit label"):
        datasets.pair_by_digit(np.array([0, -1]), np.array([0, 1]), seed=0)


def test_fresh_partners_change_each_epoch_but_keep_the_digit():
    from helpers.training import fresh_partner_dataset

    digits = np.repeat(np.arange(3), 4)
    clips = digits[:, None].astype(np.float32)  # a clip "is" its digit, so pairs can be checked
    labels = np.repeat(np.arange(3), 5)
    images = (np.arange(15, dtype=np.float32)[:, None] * 10 + labels[:, None]).astype(
        np.float32
    )  # id*10 + digit
    data = fresh_partner_dataset(clips, digits, images, labels, batch_size=4, seed=7)
    epochs = []
    for _ in range(2):
        seen = {}
        for clip_batch, image_batch in data:
            for clip, image in zip(clip_batch.numpy()[:, 0], image_batch.numpy()[:, 0], strict=True):
                assert int(image) % 10 == int(clip)  # the partner shows the clip's digit
                seen.setdefault(int(clip), []).append(int(image) // 10)
        epochs.append({digit: sorted(ids) for digit, ids in seen.items()})
    assert sum(len(ids) for ids in epochs[0].values()) == 12
    assert epochs[0] != epochs[1], "a new epoch draws new partners"

    def first_epoch(dataset):
        return [(c.numpy().tolist(), i.numpy().tolist()) for c, i in dataset]

    twin = fresh_partner_dataset(clips, digits, images, labels, batch_size=4, seed=7)
    assert first_epoch(twin) == first_epoch(fresh_partner_dataset(clips, digits, images, labels, 4, seed=7))
