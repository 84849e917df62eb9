"""The command-line converter: its outputs, its refusals and its error messages.

Most tests use small untrained models saved as real bundles (fast, and every code path
is the one a trained model takes); the last ones use the shipped demo models.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from helpers import config
from helpers.convert import main

ROOT = Path(__file__).resolve().parent.parent
PRESET = config.load_preset("ci")
FRONT_END = PRESET.front_end


def word(seconds: float = 1.0, rate: int = 8000, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.4 * np.sin(2 * np.pi * 300 * t) * np.hanning(len(t))
    return np.repeat(signal[:, None], channels, axis=1).astype(np.float32)


def convert(root: Path, *args: str) -> int:
    return main([*args, "--artifacts", str(root)])


def test_help_documents_every_option():
    result = subprocess.run(
        [sys.executable, "-m", "helpers.convert", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for text in (
        "audio-to-image",
        "image-to-audio",
        "--artifacts",
        "--overwrite",
        "--gl-iterations",
        "square",
    ):
        assert text in result.stdout
    shipped = re.findall(r"\b(data/\S+)", result.stdout)
    assert shipped and all((ROOT / name).is_file() for name in shipped), shipped  # its examples work


def test_a_wav_becomes_a_png_and_the_png_a_wav(tiny_models, tmp_path):
    sf.write(tmp_path / "clip.wav", word(), 8000)
    assert convert(tiny_models, "audio-to-image", str(tmp_path / "clip.wav"), str(tmp_path / "clip.png")) == 0
    image = Image.open(tmp_path / "clip.png")
    assert image.size == (32, 32) and image.mode == "L"
    assert convert(tiny_models, "image-to-audio", str(tmp_path / "clip.png"), str(tmp_path / "back.wav")) == 0
    audio, rate = sf.read(tmp_path / "back.wav")
    assert rate == FRONT_END.sample_rate and audio.shape == (FRONT_END.clip_samples,)
    assert np.isfinite(audio).all()


def test_an_existing_output_is_kept_unless_overwrite_is_given(tiny_models, tmp_path, capsys):
    sf.write(tmp_path / "clip.wav", word(), 8000)
    target = tmp_path / "clip.png"
    target.write_bytes(b"precious")
    with pytest.raises(SystemExit) as exit_info:
        convert(tiny_models, "audio-to-image", str(tmp_path / "clip.wav"), str(target))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "already exist" in err and "nothing was written" in err and "--overwrite" in err
    assert target.read_bytes() == b"precious"
    assert convert(tiny_models, "audio-to-image", str(tmp_path / "clip.wav"), str(target), "--overwrite") == 0
    assert Image.open(target).size == (32, 32)


def test_a_folder_converts_what_it_can_and_names_what_it_cannot(tiny_models, tmp_path, capsys):
    clips = tmp_path / "clips"
    (clips / "sub").mkdir(parents=True)
    sf.write(clips / "one.wav", word(), 8000)
    sf.write(clips / "sub" / "two.flac", word(0.5, 16000, 2), 16000)
    (clips / "broken.wav").write_bytes(b"RIFF not really")
    (clips / "empty.wav").write_bytes(b"")
    (clips / "notes.txt").write_text("not audio, ignored")
    failures = convert(tiny_models, "audio-to-image", str(clips), str(tmp_path / "images"))
    captured = capsys.readouterr()
    assert failures == 1  # exit status 1: some inputs failed
    assert (tmp_path / "images" / "one.png").is_file() and (tmp_path / "images" / "sub" / "two.png").is_file()
    assert (
        not (tmp_path / "images" / "broken.png").exists() and not (tmp_path / "images" / "empty.png").exists()
    )
    assert "broken.wav" in captured.err and "empty.wav" in captured.err and "empty (0 bytes)" in captured.err
    assert "resampled from 16000 Hz" in captured.out and "2 channels mixed to mono" in captured.out
    assert "padded with silence" in captured.out and "converted 2 of 4" in captured.out


def test_images_of_other_sizes_and_modes_are_converted_with_a_note(tiny_models, tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 4), dtype=np.uint8), "RGBA").save(folder / "rgba.png")
    Image.fromarray(rng.integers(0, 65535, (32, 32), dtype=np.uint16)).save(folder / "deep.png")
    Image.fromarray(rng.integers(0, 255, (32, 32), dtype=np.uint8), "L").save(folder / "grey.jpg")
    assert convert(tiny_models, "image-to-audio", str(folder), str(tmp_path / "sounds")) == 0
    out = capsys.readouterr().out
    assert "resized from 64 x 64 to 32 x 32" in out and "colour converted to grey" in out
    assert "transparency composited onto black" in out
    assert sorted(p.name for p in (tmp_path / "sounds").iterdir()) == ["deep.wav", "grey.wav", "rgba.wav"]


def test_a_non_square_image_is_refused_with_the_reason(tiny_models, tmp_path, capsys):
    Image.new("L", (40, 32)).save(tmp_path / "wide.png")
    assert convert(tiny_models, "image-to-audio", str(tmp_path / "wide.png"), str(tmp_path / "wide.wav")) == 1
    err = capsys.readouterr().err
    assert "wide.png" in err and "40 x 32" in err and "square" in err
    assert not (tmp_path / "wide.wav").exists()


def test_a_corrupt_image_is_named(tiny_models, tmp_path, capsys):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG but no more")
    assert convert(tiny_models, "image-to-audio", str(tmp_path / "bad.png"), str(tmp_path / "bad.wav")) == 1
    assert "bad.png" in capsys.readouterr().err and not (tmp_path / "bad.wav").exists()


def test_missing_models_say_which_notebook_to_run(tmp_path, capsys):
    sf.write(tmp_path / "clip.wav", word(), 8000)
    (tmp_path / "empty_root").mkdir()
    code = main(
        [
            "audio-to-image",
            str(tmp_path / "clip.wav"),
            str(tmp_path / "clip.png"),
            "--artifacts",
            str(tmp_path / "empty_root"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "audio_model" in err and "02_audio_autoencoder" in err
    assert not (tmp_path / "clip.png").exists()


def test_mismatched_models_name_both_folders(tmp_path, capsys, save_tiny_models):
    root = save_tiny_models(tmp_path / "mixed", image_latent_dim=PRESET.autoencoder.latent_dim + 4)
    sf.write(tmp_path / "clip.wav", word(), 8000)
    assert (
        main(
            ["audio-to-image", str(tmp_path / "clip.wav"), str(tmp_path / "c.png"), "--artifacts", str(root)]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "latents of size 20" in err and "16" in err and "audio_model" in err
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize(
    ("direction", "source", "target", "message"),
    [
        ("audio-to-image", "clip.wav", "clip.wav", "must end in .png or .jpg or .jpeg"),
        ("image-to-audio", "image.png", "image.flac", "must end in .wav"),
        ("audio-to-image", "nowhere.wav", "x.png", "no such file or folder"),
        ("audio-to-image", "folder", "file.png", "is a file"),
        ("image-to-audio", "folder", "out", "holds no image files"),
    ],
)
def test_wrong_command_lines_fail_fast_with_the_reason(
    tiny_models, tmp_path, capsys, direction, source, target, message
):
    sf.write(tmp_path / "clip.wav", word(), 8000)
    Image.new("L", (32, 32)).save(tmp_path / "image.png")
    (tmp_path / "folder").mkdir()
    sf.write(tmp_path / "folder" / "a.wav", word(), 8000)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(SystemExit) as exit_info:
        convert(tiny_models, direction, str(tmp_path / source), str(tmp_path / target))
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.floor
def test_the_shipped_models_take_a_spoken_digit_there_and_back(tmp_path):
    """End to end, as a user runs it after a clone: two commands, and the word survives."""
    from helpers.audio import load_clip
    from helpers.metrics import spectrogram_scores
    from helpers.models.autoencoder import load_audio_codec
    from helpers.models.listener import hear_digits

    clip_path = ROOT / "data" / "spoken_digits" / "7_engbtravis_0.flac"
    env = {**os.environ, "A2I_ARTIFACTS": str(tmp_path / "nothing_trained_here")}
    for args in (
        ["audio-to-image", str(clip_path), str(tmp_path / "seven.png")],
        ["image-to-audio", str(tmp_path / "seven.png"), str(tmp_path / "seven.wav")],
    ):
        subprocess.run([sys.executable, "-m", "helpers.convert", *args], cwd=ROOT, env=env, check=True)
    codec, _ = load_audio_codec(ROOT / "audio_model")
    original, rebuilt = (
        load_clip(clip_path, codec.front_end),
        load_clip(tmp_path / "seven.wav", codec.front_end),
    )
    sc_db, _ = spectrogram_scores(original[None], rebuilt[None], codec.front_end)
    assert sc_db[0] < -1.0  # far from silence (0 dB); notebook 04 reports the distribution
    assert hear_digits(codec.listener, rebuilt[None], codec.front_end, codec.stats)[0] == 7


@pytest.mark.floor
def test_the_shipped_models_hear_a_shared_jpeg_and_an_enlarged_png(tmp_path):
    """The image shared as a user shares it: saved as a JPEG at quality 75, and enlarged eight
    times with bilinear filtering (a slide, a screenshot). The converter reads both, and both
    still speak the seven, nearly as close to the recording as the PNG: the enlargement is
    read back at the small picture's pixel centres (``images.shrink_plane``)."""
    from helpers.audio import load_clip
    from helpers.metrics import spectrogram_scores
    from helpers.models.autoencoder import load_audio_codec
    from helpers.models.listener import hear_digits

    clip_path = ROOT / "data" / "spoken_digits" / "7_engbtravis_0.flac"
    env = {**os.environ, "A2I_ARTIFACTS": str(tmp_path / "nothing_trained_here")}
    png = tmp_path / "seven.png"
    run = [sys.executable, "-m", "helpers.convert"]
    subprocess.run([*run, "audio-to-image", str(clip_path), str(png)], cwd=ROOT, env=env, check=True)
    (tmp_path / "shared").mkdir()
    with Image.open(png) as image:
        image.save(tmp_path / "shared" / "seven_jpeg75.jpg", quality=75)
        image.resize((image.width * 8, image.height * 8), Image.Resampling.BILINEAR).save(
            tmp_path / "shared" / "seven_x8.png"
        )
    (tmp_path / "shared" / "seven.png").write_bytes(png.read_bytes())
    subprocess.run(
        [*run, "image-to-audio", str(tmp_path / "shared"), str(tmp_path / "sounds")],
        cwd=ROOT,
        env=env,
        check=True,
    )
    codec, _ = load_audio_codec(ROOT / "audio_model")
    original = load_clip(clip_path, codec.front_end)
    names = ("seven", "seven_jpeg75", "seven_x8")
    rebuilt = np.stack([load_clip(tmp_path / "sounds" / f"{name}.wav", codec.front_end) for name in names])
    sc_db, _ = spectrogram_scores(np.repeat(original[None], len(names), axis=0), rebuilt, codec.front_end)
    print(dict(zip(names, np.round(sc_db, 2), strict=True)))
    assert list(hear_digits(codec.listener, rebuilt, codec.front_end, codec.stats)) == [7, 7, 7]
    assert sc_db[1] <= sc_db[0] + 1.5 and sc_db[2] <= sc_db[0] + 0.5, sc_db  # measured -7.49, -7.14, -7.38


def test_the_command_prints_its_own_lines_only_with_a_bar_for_a_folder(tiny_models, tmp_path):
    """TensorFlow's start-up messages stay out of the output; a folder of more than a few
    files gets a progress bar on stderr, and stdout holds one line per file and the count."""
    clips = tmp_path / "clips"
    clips.mkdir()
    for i in range(6):
        sf.write(clips / f"c{i}.wav", word(0.5 + 0.1 * i), 8000)
    environment = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "helpers.convert",
            "audio-to-image",
            str(clips),
            str(tmp_path / "out"),
            "--artifacts",
            str(tiny_models),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=environment,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert len(lines) == 7 and lines[-1] == "converted 6 of 6 file(s)", result.stdout
    assert all(" -> " in line for line in lines[:-1])
    assert "6/6" in result.stderr  # the progress bar
    for noise in ("I0000", "oneDNN", "absl", "WARNING", "cuda"):
        assert noise not in result.stderr, result.stderr
