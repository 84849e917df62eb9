"""Bad input, everywhere a file enters: one table of damaged or unusual files, fed to every entry point.

Entry points: the audio loader (``load_audio``, ``load_clip``), the image loader (``load_image``),
the audio and image folder sources (``audio_catalog`` + ``features.load_clips``, ``image_folder``),
the artifact loaders (``load_audio_codec``, ``load_image_model``, ``load_bridge``) and the converter
(``helpers.convert.main``) in both directions with the shipped demo models.

Every file is generated here, in a temporary folder; the shipped models are only read (damaged
copies live in the temporary folder too). Each case either works, and the result is checked
(shape, dtype, finite values, rate and length, mono, image size and mode), or raises the project's
own error type with a message that names the file and says what to do.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from helpers import config, datasets, features
from helpers.artifacts import file_sha256
from helpers.audio import load_audio, load_clip
from helpers.convert import main as convert_main
from helpers.errors import ArtifactError, AudioFileError, ConfigError, ImageFileError
from helpers.images import load_image

ROOT = Path(__file__).resolve().parent.parent
FRONT_END = config.load_preset("ci").front_end  # the shipped models use the same front-end
RATE, CLIP = FRONT_END.sample_rate, FRONT_END.clip_samples
SIZE = 32  # the shipped generator's image side
FIX = "What to do: "  # how AudioFileError and ImageFileError introduce the fix


def tone(frequency: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def dominant_hz(signal: np.ndarray, rate: int) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(signal))) * rate / len(signal))


TONE = tone(440, 0.5, RATE)  # 4000 samples


def assert_names_file_and_fix(message: str, path: Path, fix: str) -> None:
    """The two halves of a clear error: the file (by its full path) and an instruction."""
    assert str(path) in message, f"the message does not name {path}: {message}"
    assert re.search(fix, message), f"the message says nothing like {fix!r}: {message}"


# --- the audio cases ---------------------------------------------------------------------------


def _pcm16_tone(path: Path) -> bytes:
    sf.write(path, TONE, RATE, subtype="PCM_16")
    return path.read_bytes()


def _header_length(data: bytes) -> int:
    return len(data) - 2 * len(TONE)


def make_empty(path: Path) -> None:
    path.write_bytes(b"")


def make_header_only(path: Path) -> None:
    data = _pcm16_tone(path)
    path.write_bytes(data[: _header_length(data)])


def make_cut_mid_data(path: Path) -> None:
    data = _pcm16_tone(path)
    path.write_bytes(data[: _header_length(data) + 2 * 3000])  # 3000 of its 4000 samples


def make_text(path: Path) -> None:
    path.write_text("this is a shopping list, not a recording\n" * 20)


def make_nan(path: Path) -> None:
    data = TONE.copy()
    data[1000:1100] = np.nan
    sf.write(path, data, RATE, subtype="FLOAT")


def make_pcm24(path: Path) -> None:
    sf.write(path, TONE, RATE, subtype="PCM_24")


def make_float32(path: Path) -> None:
    sf.write(path, TONE, RATE, subtype="FLOAT")


def make_eight_channels(path: Path) -> None:
    sf.write(path, np.stack([TONE * k / 7 for k in range(8)], axis=1), RATE, subtype="PCM_16")


def make_96k(path: Path) -> None:
    sf.write(path, tone(440, 0.5, 96000), 96000, subtype="PCM_16")


def make_4k(path: Path) -> None:
    sf.write(path, tone(440, 0.5, 4000), 4000, subtype="PCM_16")


def make_ten_minutes(path: Path) -> None:
    noise = np.random.default_rng(0).integers(-100, 101, 600 * RATE, dtype=np.int16)
    sf.write(path, noise, RATE, subtype="PCM_16")  # 9.6 MB of quiet noise


def make_silence(path: Path) -> None:
    sf.write(path, np.zeros(int(1.5 * RATE), np.float32), RATE, subtype="PCM_16")


def check_cut(audio: np.ndarray) -> None:
    np.testing.assert_allclose(audio, TONE[:3000], atol=1e-4)  # what was there, no garbage after it


def check_pcm24(audio: np.ndarray) -> None:
    np.testing.assert_allclose(audio, TONE, atol=1e-6)


def check_float32(audio: np.ndarray) -> None:
    np.testing.assert_array_equal(audio, TONE)


def check_mixed_to_mono(audio: np.ndarray) -> None:
    np.testing.assert_allclose(audio, TONE * 0.5, atol=1e-4)  # the mean of amplitudes 0/7 .. 7/7


def check_resampled(audio: np.ndarray) -> None:
    assert abs(dominant_hz(audio, RATE) - 440) < 5
    assert np.max(np.abs(audio)) == pytest.approx(0.5, abs=0.03)


def check_quiet_noise(audio: np.ndarray) -> None:
    assert np.max(np.abs(audio)) <= 101 / 32768 and audio.std() > 1e-3


def check_silence(audio: np.ndarray) -> None:
    assert not np.any(audio)


@dataclass(frozen=True)
class AudioCase:
    filename: str
    make: Callable[[Path], None]
    problem: str = ""  # regex of the AudioFileError's problem; "" means the file must load
    samples: int = 0  # length decoded at RATE (resampled files within 2 samples)
    check: Callable[[np.ndarray], None] | None = None
    notes: tuple[str, ...] = ()  # what the converter must say it changed


PADDED = " s long: padded with silence to 1.016 s"
AUDIO_CASES = {
    "empty": AudioCase("empty.wav", make_empty, problem=r"empty \(0 bytes\)"),
    "header_only": AudioCase("header_only.wav", make_header_only, problem="zero samples"),
    "cut_mid_data": AudioCase(
        "cut_mid_data.wav", make_cut_mid_data, samples=3000, check=check_cut, notes=("0.38" + PADDED,)
    ),
    "text_named_wav": AudioCase("text_named_wav.wav", make_text, problem="not a readable audio file"),
    "nan_samples": AudioCase("nan_samples.wav", make_nan, problem="NaN or infinite samples"),
    "pcm_24bit": AudioCase(
        "pcm_24bit.wav", make_pcm24, samples=4000, check=check_pcm24, notes=("0.50" + PADDED,)
    ),
    "float_32bit": AudioCase(
        "float_32bit.wav", make_float32, samples=4000, check=check_float32, notes=("0.50" + PADDED,)
    ),
    "eight_channels": AudioCase(
        "eight_channels.wav",
        make_eight_channels,
        samples=4000,
        check=check_mixed_to_mono,
        notes=("8 channels mixed to mono",),
    ),
    "rate_96k": AudioCase(
        "rate_96k.wav",
        make_96k,
        samples=4000,
        check=check_resampled,
        notes=("resampled from 96000 Hz to 8000 Hz",),
    ),
    "rate_4k": AudioCase(
        "rate_4k.wav",
        make_4k,
        samples=4000,
        check=check_resampled,
        notes=("resampled from 4000 Hz to 8000 Hz",),
    ),
    "ten_minutes": AudioCase(
        "ten_minutes.wav",
        make_ten_minutes,
        samples=600 * RATE,
        check=check_quiet_noise,
        notes=(
            "600.00 s long (its first 30 s searched), sound found at 0.00-",
            "the 1.016 s from 0.00 s are used",
        ),
    ),
    "silence": AudioCase(
        "silence.wav",
        make_silence,
        samples=int(1.5 * RATE),
        check=check_silence,
        notes=("no sound in it: the 1.016 s from 0.00 s are used", "silent: its image shows silence"),
    ),
}
BAD_AUDIO = sorted(name for name, case in AUDIO_CASES.items() if case.problem)
GOOD_AUDIO = sorted(name for name, case in AUDIO_CASES.items() if not case.problem)


def write_audio_cases(folder: Path, names=AUDIO_CASES) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        paths[name] = folder / AUDIO_CASES[name].filename
        AUDIO_CASES[name].make(paths[name])
    return paths


# --- the image cases ---------------------------------------------------------------------------


def make_rgba(path: Path) -> None:
    rgba = np.full((48, 48, 4), 255, np.uint8)
    rgba[:, 24:, 3] = 0  # right half fully transparent (its colour is white: alpha must win)
    Image.fromarray(rgba, "RGBA").save(path)


def make_png16(path: Path) -> None:
    ramp = (np.arange(40) * (65535 // 39)).astype(np.uint16)
    Image.fromarray(np.tile(ramp, (40, 1))).save(path)  # mode I;16, black to white left to right


def make_palette_gif(path: Path) -> None:
    index = np.zeros((24, 24), np.uint8)
    index[:, 8:16], index[:, 16:] = 1, 2
    gif = Image.fromarray(index, "P")
    gif.putpalette([255, 0, 0, 0, 0, 255, 255, 255, 255] + [0] * (253 * 3))  # red, blue, white
    gif.save(path, transparency=2, optimize=False)  # the white stripe is transparent


def make_one_pixel(path: Path) -> None:
    Image.new("L", (1, 1), 200).save(path)


def make_photo(path: Path) -> None:
    photo = Image.new("RGB", (4000, 3000), (255, 255, 255))
    photo.paste((200, 60, 60), (400, 0, 3600, 3000))  # white bands at the sides, cropped away
    photo.save(path, quality=85)


def make_corrupt_jpeg(path: Path) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def check_rgba(pixels: np.ndarray) -> None:
    assert pixels[:, :14].min() > 0.95 and pixels[:, 18:].max() < 0.05  # transparency is black


def check_png16(pixels: np.ndarray) -> None:
    columns = pixels[..., 0].mean(axis=0)
    assert columns[0] < 0.05 and columns[-1] > 0.95 and np.all(np.diff(columns) >= -1e-6)


def check_palette(pixels: np.ndarray) -> None:
    red, blue = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(pixels[:, :9], np.broadcast_to(red, (SIZE, 9, 3)), atol=0.1)
    np.testing.assert_allclose(pixels[:, 13:19], np.broadcast_to(blue, (SIZE, 6, 3)), atol=0.1)
    assert pixels[:, 24:].max() < 0.1  # the transparent stripe


def check_one_pixel(pixels: np.ndarray) -> None:
    np.testing.assert_allclose(pixels, 200 / 255, atol=0.01)


def check_photo(pixels: np.ndarray) -> None:
    colour = np.array([200, 60, 60]) / 255  # the centre crop holds none of the white bands
    np.testing.assert_allclose(pixels, np.broadcast_to(colour, pixels.shape), atol=0.03)


@dataclass(frozen=True)
class ImageCase:
    filename: str
    make: Callable[[Path], None]
    problem: str = ""  # regex of load_image's ImageFileError; "" means it must load
    channels: int = 1  # what load_image(channels=None) keeps
    check: Callable[[np.ndarray], None] | None = None  # on load_image(path, SIZE, channels=None)
    convert_problem: str = ""  # the converter's ImageFileError, when it refuses the file
    convert_fix: str = FIX
    notes: tuple[str, ...] = field(default_factory=tuple)


UNREADABLE = r"not a readable image \(OSError"
IMAGE_CASES = {
    "png_alpha": ImageCase(
        "png_alpha.png",
        make_rgba,
        check=check_rgba,
        notes=("resized from 48 x 48 to 32 x 32", "transparency composited onto black"),
    ),
    "png_16bit": ImageCase(
        "png_16bit.png",
        make_png16,
        check=check_png16,
        notes=("resized from 40 x 40 to 32 x 32", "16-bit pixels scaled to 8 bits"),
    ),
    "palette_gif": ImageCase(
        "palette_gif.gif",
        make_palette_gif,
        channels=3,
        check=check_palette,
        notes=("colour converted to grey", "transparency composited onto black"),
    ),
    "one_pixel": ImageCase(
        "one_pixel.png", make_one_pixel, check=check_one_pixel, notes=("resized from 1 x 1 to 32 x 32",)
    ),
    "photo_4000x3000": ImageCase(
        "photo_4000x3000.jpg",
        make_photo,
        channels=3,
        check=check_photo,
        convert_problem="is 4000 x 3000 pixels; generated images are square",
        convert_fix=FIX + "pass the whole generated image",
    ),
    "corrupt_jpeg": ImageCase(
        "corrupt_jpeg.jpg", make_corrupt_jpeg, problem=UNREADABLE, convert_problem=UNREADABLE
    ),
}


def write_image_cases(folder: Path, names=IMAGE_CASES) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names:
        paths[name] = folder / IMAGE_CASES[name].filename
        IMAGE_CASES[name].make(paths[name])
    return paths


# --- the audio loader --------------------------------------------------------------------------


@pytest.mark.parametrize("name", AUDIO_CASES)
def test_audio_loader(tmp_path, name):
    case = AUDIO_CASES[name]
    path = write_audio_cases(tmp_path, [name])[name]
    if case.problem:
        for loader in (load_audio, load_clip):
            with pytest.raises(AudioFileError, match=re.escape(path.name)) as caught:
                loader(path, FRONT_END)
            assert re.search(case.problem, str(caught.value))
            assert_names_file_and_fix(str(caught.value), path, FIX)
        return
    audio = load_audio(path, FRONT_END)
    assert audio.ndim == 1 and audio.dtype == np.float32 and np.isfinite(audio).all()
    assert abs(len(audio) - case.samples) <= 2
    case.check(audio)
    clip = load_clip(path, FRONT_END)  # decodes at most SEARCH_SECONDS
    assert clip.shape == (CLIP,) and clip.dtype == np.float32 and np.isfinite(clip).all()
    kept = min(len(audio), CLIP)
    np.testing.assert_allclose(clip[:kept], audio[:kept], atol=1e-6)
    assert not np.any(clip[kept:]), "a short file is padded with silence"


# --- the image loader --------------------------------------------------------------------------


@pytest.mark.parametrize("name", IMAGE_CASES)
def test_image_loader(tmp_path, name):
    case = IMAGE_CASES[name]
    path = write_image_cases(tmp_path, [name])[name]
    if case.problem:
        for channels in (None, 1, 3):
            with pytest.raises(ImageFileError, match=re.escape(path.name)) as caught:
                load_image(path, SIZE, channels)
            assert re.search(case.problem, str(caught.value))
            assert_names_file_and_fix(str(caught.value), path, FIX)
        return
    pixels = load_image(path, SIZE, channels=None)
    assert pixels.shape == (SIZE, SIZE, case.channels) and pixels.dtype == np.float32
    assert np.isfinite(pixels).all() and pixels.min() >= 0.0 and pixels.max() <= 1.0
    case.check(pixels)
    for channels in (1, 3):
        forced = load_image(path, SIZE, channels)
        assert forced.shape == (SIZE, SIZE, channels) and forced.dtype == np.float32
        assert forced.min() >= 0.0 and forced.max() <= 1.0


# --- the folder sources ------------------------------------------------------------------------


def audio_source(folder: Path, tmp_path: Path):
    """What 01_preprocess does with A2I_AUDIO_SOURCE=<folder>: catalog it, then load every clip."""
    paths = config.Paths(root=tmp_path / "artifacts", cache=tmp_path / "cache")
    return features.load_clips(datasets.audio_catalog(str(folder), paths), FRONT_END)


def test_audio_folder_skips_the_bad_files_and_names_them(tmp_path):
    folder = tmp_path / "clips"
    paths = write_audio_cases(folder)
    with pytest.warns(UserWarning, match=rf"skipped {len(BAD_AUDIO)} unreadable audio file\(s\)") as record:
        clips, kept = audio_source(folder, tmp_path)
    (message,) = [str(w.message) for w in record if "unreadable audio" in str(w.message)]
    for name in BAD_AUDIO:
        assert str(paths[name]) in message and re.search(AUDIO_CASES[name].problem, message)
    for name in GOOD_AUDIO:
        assert paths[name].name not in message
    assert message.count(FIX) == len(BAD_AUDIO)
    assert sorted(p.name for p in kept.paths) == sorted(paths[name].name for name in GOOD_AUDIO)
    assert clips.shape == (len(GOOD_AUDIO), CLIP) and clips.dtype == np.float32
    assert np.isfinite(clips).all()


def _bad_audio_only(folder: Path) -> None:
    write_audio_cases(folder, BAD_AUDIO)


def _no_audio_files(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "readme.txt").write_text("recordings go here")
    make_one_pixel(folder / "cover.png")


def test_image_folder_skips_the_bad_files_and_names_them(tmp_path):
    folder = tmp_path / "images"
    write_image_cases(folder)
    bad = [case.filename for case in IMAGE_CASES.values() if case.problem]
    with pytest.warns(UserWarning, match=rf"skipped {len(bad)} unreadable image\(s\) in") as record:
        found = datasets.image_folder(folder, SIZE)
    (message,) = [str(w.message) for w in record if "unreadable image" in str(w.message)]
    assert str(folder) in message and all(name in message for name in bad)
    assert all(case.filename not in message for case in IMAGE_CASES.values() if not case.problem)
    good = sorted(case.filename for case in IMAGE_CASES.values() if not case.problem)
    assert found.images.shape == (len(good), SIZE, SIZE, 3)  # colour, since some images have colour
    assert found.images.dtype == np.float32 and np.isfinite(found.images).all()
    assert found.images.min() >= 0.0 and found.images.max() <= 1.0
    np.testing.assert_allclose(found.images[good.index("one_pixel.png")], 200 / 255, atol=0.01)
    assert found.labels.tolist() == [-1] * len(good)


def _bad_images_only(folder: Path) -> None:
    write_image_cases(folder, ["corrupt_jpeg"])
    (folder / "notes.png").write_text("not an image")


def _no_image_files(folder: Path) -> None:
    folder.mkdir(parents=True)
    (folder / "readme.txt").write_text("images go here")
    make_silence(folder / "sound.wav")


# a folder with nothing usable: (how to fill it, which source reads it, the warning for skipped files)
NOTHING_USABLE = {
    "audio-only_bad_files": (_bad_audio_only, "audio", rf"skipped {len(BAD_AUDIO)} unreadable audio"),
    "audio-no_audio_files": (_no_audio_files, "audio", None),
    "image-only_bad_files": (
        _bad_images_only,
        "image",
        r"skipped 2 unreadable image\(s\).*corrupt_jpeg\.jpg.*notes\.png",
    ),
    "image-no_image_files": (_no_image_files, "image", None),
}


@pytest.mark.parametrize("case", list(NOTHING_USABLE))
def test_a_folder_with_nothing_usable_fails(tmp_path, case):
    fill, kind, skipped = NOTHING_USABLE[case]
    folder = tmp_path / kind
    fill(folder)
    warns = pytest.warns(UserWarning, match=skipped) if skipped else contextlib.nullcontext()
    with warns, pytest.raises(ConfigError, match=re.escape(str(folder))) as caught:
        if kind == "audio":
            audio_source(folder, tmp_path)
        else:
            datasets.image_folder(folder, SIZE)
    assert f"A2I_{kind.upper()}_SOURCE" in str(caught.value)


# --- the converter, with the shipped models ----------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    inputs: dict[str, Path]
    outputs: Path
    stdout: str
    stderr: str


def run_converter(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = convert_main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def shipped_root(tmp_path_factory) -> Path:
    """An --artifacts folder whose two models are links to the shipped ones (read only), so a model
    trained into A2I_ARTIFACTS by another test cannot take their place."""
    root = tmp_path_factory.mktemp("shipped")
    for name in ("audio_model", "image_model"):
        (root / name).symlink_to(ROOT / name, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def audio_to_image(tmp_path_factory, shipped_root) -> Run:
    """Every audio case converted in one command (folder to folder): one model load, one batch."""
    base = tmp_path_factory.mktemp("audio_to_image")
    inputs = write_audio_cases(base / "clips")
    code, out, err = run_converter(
        "audio-to-image", str(base / "clips"), str(base / "images"), "--artifacts", str(shipped_root)
    )
    return Run(code, inputs, base / "images", out, err)


@pytest.fixture(scope="module")
def image_to_audio(tmp_path_factory, shipped_root) -> Run:
    base = tmp_path_factory.mktemp("image_to_audio")
    inputs = write_image_cases(base / "images")
    code, out, err = run_converter(
        "image-to-audio", str(base / "images"), str(base / "sounds"), "--artifacts", str(shipped_root)
    )
    return Run(code, inputs, base / "sounds", out, err)


def error_line(run: Run, path: Path) -> str:
    lines = [line for line in run.stderr.splitlines() if line.startswith("error: ") and str(path) in line]
    assert len(lines) == 1, f"expected one error naming {path}, stderr was:\n{run.stderr}"
    return lines[0]


def done_line(run: Run, source: Path, target: Path) -> str:
    lines = [line for line in run.stdout.splitlines() if line.startswith(f"{source} -> {target}")]
    assert len(lines) == 1, f"expected one line for {source}, stdout was:\n{run.stdout}"
    return lines[0]


def test_converter_counts_what_failed(audio_to_image, image_to_audio):
    assert audio_to_image.code == 1 and image_to_audio.code == 1  # exit 1: some inputs failed
    n_audio, n_images = len(AUDIO_CASES), len(IMAGE_CASES)
    refused = sum(1 for case in IMAGE_CASES.values() if case.convert_problem)
    assert (
        f"converted {len(GOOD_AUDIO)} of {n_audio} file(s), {len(BAD_AUDIO)} failed" in audio_to_image.stdout
    )
    assert f"converted {n_images - refused} of {n_images} file(s), {refused} failed" in image_to_audio.stdout


@pytest.mark.parametrize("name", AUDIO_CASES)
def test_converter_audio_to_image(audio_to_image, name):
    case, source = AUDIO_CASES[name], audio_to_image.inputs[name]
    target = audio_to_image.outputs / (source.stem + ".png")
    if case.problem:
        line = error_line(audio_to_image, source)
        assert re.search(case.problem, line)
        assert_names_file_and_fix(line, source, FIX)
        assert not target.exists()
        return
    line = done_line(audio_to_image, source, target)
    for note in case.notes:
        assert note in line
    with Image.open(target) as image:
        assert image.format == "PNG" and image.size == (SIZE, SIZE) and image.mode == "L"
        pixels = np.asarray(image)
    assert pixels.dtype == np.uint8 and pixels.std() > 0, "the generator drew something"


@pytest.mark.parametrize("name", IMAGE_CASES)
def test_converter_image_to_audio(image_to_audio, name):
    case, source = IMAGE_CASES[name], image_to_audio.inputs[name]
    target = image_to_audio.outputs / (source.stem + ".wav")
    if case.convert_problem:
        line = error_line(image_to_audio, source)
        assert re.search(case.convert_problem, line)
        assert_names_file_and_fix(line, source, re.escape(case.convert_fix))
        assert not target.exists()
        return
    line = done_line(image_to_audio, source, target)
    for note in case.notes:
        assert note in line
    info = sf.info(str(target))
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (RATE, 1, CLIP, "PCM_16")
    audio, _ = sf.read(target, dtype="float32")
    assert audio.shape == (CLIP,) and np.isfinite(audio).all() and np.abs(audio).max() <= 1.0


# --- the artifact loaders, on damaged copies of the shipped models -----------------------------

NOTEBOOKS = {
    "audio_model": "notebooks/02_audio_autoencoder.ipynb",
    "image_model": "notebooks/03_gan_and_projection.ipynb",
}


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def _first_model_file(folder: Path) -> Path:
    return folder / next(iter(_config(folder)["files"].values()))


def remove_config(folder: Path) -> Path:
    (folder / "config.json").unlink()
    return folder / "config.json"


def remove_model_file(folder: Path) -> Path:
    path = _first_model_file(folder)
    path.unlink()
    return path


def truncate_model_file(folder: Path) -> Path:
    path = _first_model_file(folder)
    path.write_bytes(path.read_bytes()[:100_000])
    return path


def truncate_model_file_and_its_checksum(folder: Path) -> Path:
    """A truncated file whose checksum was updated too: the loader itself must catch it."""
    path, config_data = truncate_model_file(folder), _config(folder)
    name = next(iter(config_data["files"]))
    config_data["sha256"][name] = file_sha256(path)
    (folder / "config.json").write_text(json.dumps(config_data))
    return path


def wrong_latent_size(folder: Path) -> Path:
    config_data = _config(folder)
    config_data["latent_dim"] = 64  # the saved models take 128
    (folder / "config.json").write_text(json.dumps(config_data))
    return folder / "config.json"


def config_not_json(folder: Path) -> Path:
    path = folder / "config.json"
    path.write_text(path.read_text()[:500])  # cut short, as by a full disk
    return path


DAMAGES = {
    "config_missing": (remove_config, "config.json is missing"),
    "model_file_missing": (remove_model_file, r"is missing \(named in config.json\)"),
    "model_file_truncated": (truncate_model_file, "does not match the checksum"),
    "model_file_truncated_checksum_updated": (truncate_model_file_and_its_checksum, "could not be loaded"),
    "wrong_latent_size": (wrong_latent_size, "latent"),
    "config_not_json": (config_not_json, "is not valid JSON"),
}


def damaged_copy(tmp_path: Path, model: str, damage: str) -> tuple[Path, Path]:
    """Copies of both shipped models under ``tmp_path/run``, one of them damaged; returns the
    run folder and the damaged file."""
    run = tmp_path / "run"
    for name in ("audio_model", "image_model"):
        shutil.copytree(ROOT / name, run / name)
    return run, DAMAGES[damage][0](run / model)


def assert_clear_artifact_error(error: Exception, damaged: Path, model: str, damage: str) -> None:
    message = str(error)
    assert re.search(DAMAGES[damage][1], message)
    assert_names_file_and_fix(message, damaged, re.escape(NOTEBOOKS[model]))


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_audio_model_loader(tmp_path, damage):
    from helpers.models.autoencoder import load_audio_codec

    run, damaged = damaged_copy(tmp_path, "audio_model", damage)
    with pytest.raises(ArtifactError, match=re.escape(damaged.name)) as caught:
        load_audio_codec(run / "audio_model")
    assert_clear_artifact_error(caught.value, damaged, "audio_model", damage)


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_image_model_loader(tmp_path, damage):
    from helpers.models.gan import load_image_model

    run, damaged = damaged_copy(tmp_path, "image_model", damage)
    with pytest.raises(ArtifactError, match=re.escape(damaged.name)) as caught:
        load_image_model(run / "image_model")
    assert_clear_artifact_error(caught.value, damaged, "image_model", damage)


@pytest.mark.parametrize(
    ("model", "damage"),
    [(model, damage) for model in ("audio_model", "image_model") for damage in DAMAGES],
)
def test_bridge_loader(tmp_path, model, damage):
    """load_bridge (the converter's and notebook 04's loader) names the damaged file of the two.
    An image config with the wrong latent size is caught against the audio model: that path is clear."""
    from helpers.round_trip import load_bridge

    run, damaged = damaged_copy(tmp_path, model, damage)
    with pytest.raises(ArtifactError, match=re.escape(str(damaged))) as caught:
        load_bridge(run / "audio_model", run / "image_model")
    assert_clear_artifact_error(caught.value, damaged, model, damage)


@pytest.mark.parametrize(
    ("model", "damage"),
    [
        ("audio_model", "model_file_truncated"),
        ("image_model", "config_not_json"),
        ("image_model", "model_file_missing"),
    ],
)
def test_converter_with_damaged_artifacts(tmp_path, model, damage):
    run, damaged = damaged_copy(tmp_path, model, damage)
    make_pcm24(tmp_path / "clip.wav")
    code, _, err = run_converter(
        "audio-to-image", str(tmp_path / "clip.wav"), str(tmp_path / "clip.png"), "--artifacts", str(run)
    )
    assert code == 1 and "error: " in err
    assert_clear_artifact_error(Exception(err), damaged, model, damage)
    assert not (tmp_path / "clip.png").exists(), "nothing is written when the models cannot load"
