"""Data sources: the embedded spoken digits, downloads (FSDD, MNIST), folders, and splits.

Audio sources give an ``AudioCatalog`` (paths, digit labels, speakers); image sources
give an ``ImageSet`` (pixels in [0, 1], digit labels). Splits hold whole speakers
out, never the same voice on both sides. Taught in ``01_preprocess.ipynb``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from helpers.artifacts import file_sha256
from helpers.audio import AUDIO_EXTENSIONS
from helpers.config import SAMPLE_AUDIO_DIR, Paths, Preset
from helpers.errors import ConfigError, DownloadError, ImageFileError
from helpers.images import IMAGE_EXTENSIONS, load_image, resize_images


@dataclass(frozen=True)
class Download:
    """A file to fetch once into the cache, checked against a pinned SHA-256."""

    name: str  # short upper-case key: A2I_<name>_URL and A2I_<name>_SHA256 override
    url: str
    sha256: str
    filename: str


# The Free Spoken Digit Dataset, release 1.0.9 (CC BY-SA 4.0): 2500 recordings, 5 speakers.
FSDD = Download(
    name="FSDD",
    url="https://github.com/Jakobovski/free-spoken-digit-dataset/archive/v1.0.9.tar.gz",
    sha256="8bc44cde129d505cbbb6b365c09f80c663f2aa77578afc634e6141a2f87100c0",
    filename="fsdd-v1_0_9.tar.gz",
)
# MNIST as packaged by Keras (CC BY-SA 3.0): 70 000 handwritten digits, 28 x 28.
MNIST = Download(
    name="MNIST",
    url="https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
    sha256="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1",
    filename="mnist.npz",
)
_NAME_PATTERN = re.compile(r"^(?P<digit>\d)_(?P<speaker>[A-Za-z0-9-]+)_(?P<take>\d+)$")


def fetch(download: Download, cache: Path) -> Path:
    """Download ``download`` into ``cache/audio2image`` unless a verified copy is there.

    Uses ``keras.utils.get_file`` with the pinned hash; a mismatch deletes the bad
    file and raises ``DownloadError``. The URL and hash can be replaced through
    ``A2I_<NAME>_URL`` / ``A2I_<NAME>_SHA256`` (e.g. for a mirror).
    """
    import keras  # imported here: only downloading sources need it

    url = os.environ.get(f"A2I_{download.name}_URL", download.url)
    sha256 = os.environ.get(f"A2I_{download.name}_SHA256", download.sha256)
    target = cache / "audio2image" / download.filename
    try:
        with contextlib.redirect_stdout(sys.stderr):  # Keras's progress bar: stdout is a benchmark's JSON
            fetched = keras.utils.get_file(
                fname=download.filename,
                origin=url,
                file_hash=sha256,
                hash_algorithm="sha256",
                cache_dir=str(cache),
                cache_subdir="audio2image",
            )
        return Path(fetched)
    except ValueError as exc:
        target.unlink(missing_ok=True)
        if "hash" not in str(exc).lower():  # keras raises ValueError for bad URLs too
            raise DownloadError(f"could not download {url!r} ({exc}): check the URL.") from exc
        raise DownloadError(
            f"{url} did not match its pinned SHA-256 {sha256} ({exc}). The partial file was "
            "deleted; retry, or set the A2I_*_URL / A2I_*_SHA256 variables for a mirror."
        ) from exc
    except Exception as exc:  # network errors come as several exception types
        target.unlink(missing_ok=True)
        raise DownloadError(
            f"could not download {url} ({type(exc).__name__}: {exc}). Check the network, "
            "or use the embedded source (A2I_AUDIO_SOURCE=sample, A2I_IMAGE_SOURCE=digits)."
        ) from exc


def extract_once(archive: Path) -> Path:
    """Unpack a tar archive beside itself (once per archive content) and return the folder.

    The folder name carries the archive's hash, so a different archive never reuses an
    old extraction. Extraction goes to a temporary folder that is renamed into place
    when complete, so an interrupted run never leaves a half-extracted dataset behind.
    """
    target = archive.with_name(f"{archive.name.split('.')[0]}_{file_sha256(archive)[:12]}")
    if target.is_dir():
        return target
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=archive.parent))
    try:
        with tarfile.open(archive) as tar:
            if hasattr(tarfile, "data_filter"):  # refuse absolute paths, links out, devices
                tar.extractall(staging, filter="data")
            else:  # Python < 3.10.12: check member paths by hand
                for member in tar.getmembers():
                    if member.name.startswith("/") or ".." in Path(member.name).parts:
                        raise DownloadError(f"{archive} holds an unsafe path {member.name!r}.")
                tar.extractall(staging)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@dataclass(frozen=True)
class AudioCatalog:
    """The audio files of one source, with their digit labels (-1: unknown) and speakers."""

    paths: tuple[Path, ...]
    digits: np.ndarray  # (n,) int64
    speakers: np.ndarray  # (n,) str
    source: str

    def __len__(self) -> int:
        return len(self.paths)

    def subset(self, index: np.ndarray) -> AudioCatalog:
        """The catalog restricted to the positions in ``index``."""
        index = np.asarray(index, dtype=np.int64)
        return AudioCatalog(
            paths=tuple(self.paths[i] for i in index),
            digits=self.digits[index],
            speakers=self.speakers[index],
            source=self.source,
        )


def parse_audio_name(path: Path, folder: Path | None = None) -> tuple[int, str]:
    """Digit and speaker from an FSDD-style name ``7_jackson_32.wav``.

    Other names are accepted: the digit is then -1 and the speaker is the file's path
    (relative to ``folder``), so each such file forms its own group in a split.
    """
    match = _NAME_PATTERN.match(path.stem)
    if match:
        return int(match["digit"]), match["speaker"].lower()
    return -1, str((path.relative_to(folder) if folder else path).with_suffix(""))


def scan_audio_folder(folder: str | Path, source: str | None = None) -> AudioCatalog:
    """Every audio file under ``folder`` (recursively, sorted), labelled from its name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder: set A2I_AUDIO_SOURCE to a folder of audio files.")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise ConfigError(
            f"{folder} holds no audio files ({', '.join(AUDIO_EXTENSIONS)}): "
            "point A2I_AUDIO_SOURCE at a folder that does."
        )
    labels = [parse_audio_name(p, folder) for p in files]
    return AudioCatalog(
        paths=tuple(files),
        digits=np.array([d for d, _ in labels], dtype=np.int64),
        speakers=np.array([s for _, s in labels]),
        source=source or str(folder),
    )


def audio_catalog(source: str, paths: Paths) -> AudioCatalog:
    """The catalog of ``source`` (``sample``, ``fsdd`` or a folder; see ``config.audio_source``)."""
    if source == "sample":
        return scan_audio_folder(SAMPLE_AUDIO_DIR, source="sample")
    if source == "fsdd":
        root = extract_once(fetch(FSDD, paths.cache))
        recordings = next((p for p in root.rglob("recordings") if p.is_dir()), None)
        if recordings is None:
            raise DownloadError(f"{root} has no 'recordings' folder: delete it and download again.")
        return scan_audio_folder(recordings, source="fsdd")
    return scan_audio_folder(source)


def voice_kinds(source: str) -> dict[str, str]:
    """Speaker -> voice kind for the embedded sample (the espeak-ng voice variant, e.g. ``f1`` of
    ``en-gb-scotland+f1``, from ``manifest.json``); empty for any other source. Notebook 02 asks
    whether the held-out voices' kinds also occur among the training voices."""
    manifest = SAMPLE_AUDIO_DIR / "manifest.json"
    if source != "sample" or not manifest.is_file():
        return {}
    entries = json.loads(manifest.read_text())
    return {
        parse_audio_name(Path(entry["file"]))[1]: entry["voice"].partition("+")[2] or entry["voice"]
        for entry in entries
    }


def groups_by_voice_kind(
    source: str, train_speakers: np.ndarray, speakers: np.ndarray
) -> dict[str, np.ndarray]:
    """Masks over ``speakers`` (held-out clips): ``kind heard in training`` and ``kind never heard``
    (see ``voice_kinds``; a voice missing from the manifest counts as never heard), or one group,
    ``all held-out voices``, for a source without voice kinds. Notebook 02 feeds them to
    ``evaluation.latent_shift_by_group``."""
    kinds = voice_kinds(source)
    if not kinds:
        return {"all held-out voices": np.ones(len(speakers), bool)}
    heard = {kinds.get(s) for s in train_speakers} - {None}
    seen = np.array([kinds.get(s) in heard for s in speakers], bool)
    return {"kind heard in training": seen, "kind never heard": ~seen}


def limit_speakers(catalog: AudioCatalog, max_speakers: int | None, seed: int) -> AudioCatalog:
    """Keep all clips of at most ``max_speakers`` speakers chosen with ``seed``."""
    speakers = np.unique(catalog.speakers)
    if max_speakers is None or len(speakers) <= max_speakers:
        return catalog
    keep = np.random.default_rng(seed).choice(speakers, size=max_speakers, replace=False)
    return catalog.subset(np.flatnonzero(np.isin(catalog.speakers, keep)))


def split_by_speaker(speakers: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test positions such that no speaker appears on both sides.

    A seeded shuffle of the distinct speakers sends ``round(test_fraction * n)``
    of them (at least one, and never all) to the test side.
    """
    unique = np.unique(speakers)
    if len(unique) < 2:
        raise ConfigError(
            f"a speaker-disjoint split needs at least two speakers, found {len(unique)}; "
            "name files like '7_speaker_3.wav' so speakers can be told apart."
        )
    order = np.random.default_rng(seed).permutation(unique)
    n_test = min(max(1, round(test_fraction * len(unique))), len(unique) - 1)
    test_mask = np.isin(speakers, order[:n_test])
    return np.flatnonzero(~test_mask), np.flatnonzero(test_mask)


@dataclass(frozen=True)
class ImageSet:
    """Images ``(n, size, size, channels)`` in [0, 1] with digit labels (-1: unknown)."""

    images: np.ndarray
    labels: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray) -> ImageSet:
        return ImageSet(self.images[index], self.labels[index], self.source)


def sklearn_digits(size: int) -> ImageSet:
    """scikit-learn's bundled 8 x 8 handwritten digits (1797 images), upscaled to ``size``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[..., None]
    return ImageSet(resize_images(images, size), bunch.target.astype(np.int64), "digits")


def mnist_digits(size: int, paths: Paths) -> ImageSet:
    """MNIST train+test (70 000 images), downloaded once, resized to ``size``."""
    archive = fetch(MNIST, paths.cache)
    with np.load(archive, allow_pickle=False) as data:
        images = np.concatenate([data["x_train"], data["x_test"]]).astype(np.float32) / 255.0
        labels = np.concatenate([data["y_train"], data["y_test"]]).astype(np.int64)
    return ImageSet(resize_images(images[..., None], size), labels, "mnist")


def image_folder(folder: str | Path, size: int) -> ImageSet:
    """Every image under ``folder``, resized to ``size``; unreadable files are skipped.

    Labels come from a leading digit in the file name (``7_foo.png``) or a one-digit
    parent folder (``7/foo.png``), else -1. Greyscale unless any image has colour.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)
    loaded, labels, bad = [], [], []
    for path in files:
        try:
            loaded.append(load_image(path, size, channels=None))
        except ImageFileError as exc:
            bad.append(f"{path.name} ({exc})")
            continue
        match = re.match(r"^(\d)(?:_|$)", path.stem) or re.match(r"^(\d)$", path.parent.name)
        labels.append(int(match[1]) if match else -1)
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image(s) in {folder}: {'; '.join(bad)}", stacklevel=2)
    if not loaded:
        raise ConfigError(
            f"{folder} holds no readable images ({', '.join(IMAGE_EXTENSIONS)}): "
            "point A2I_IMAGE_SOURCE at a folder that does."
        )
    channels = max(image.shape[-1] for image in loaded)
    images = np.stack([np.repeat(im, channels // im.shape[-1], axis=-1) for im in loaded])
    return ImageSet(images.astype(np.float32), np.array(labels, dtype=np.int64), str(folder))


def image_set(source: str, preset: Preset, paths: Paths) -> ImageSet:
    """The images of ``source`` (``digits``, ``mnist`` or a folder), capped by the preset."""
    if source == "digits":
        images = sklearn_digits(preset.image_size)
    elif source == "mnist":
        images = mnist_digits(preset.image_size, paths)
    else:
        images = image_folder(source, preset.image_size)
    if preset.max_images is not None and len(images) > preset.max_images:
        keep = np.random.default_rng(preset.seed).choice(len(images), preset.max_images, False)
        images = images.subset(np.sort(keep))
    return images


def split_images(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test positions, stratified by label so every digit is on both sides."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = max(1, round(test_fraction * len(members))) if len(members) > 1 else 0
        test.extend(members[:n_test])
        train.extend(members[n_test:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(test, dtype=np.int64))


def images_by_digit(image_labels: np.ndarray, digits: np.ndarray) -> dict[int, np.ndarray]:
    """For each digit in ``digits``, the positions of the images labelled with it.

    Raises ``ConfigError`` naming the problem when a clip has no digit label (-1) or a
    digit has no image: pairing needs both sides labelled (``05_paired_generation.ipynb``).
    """
    digits = np.asarray(digits)
    if np.any(digits < 0):
        raise ConfigError(
            f"{int(np.sum(digits < 0))} clip(s) have no digit label: pairing needs files named like "
            "'7_speaker_3.wav' (or choose A2I_AUDIO_SOURCE=sample or fsdd)."
        )
    table = {int(d): np.flatnonzero(np.asarray(image_labels) == d) for d in np.unique(digits)}
    missing = sorted(d for d, positions in table.items() if len(positions) == 0)
    if missing:
        raise ConfigError(
            f"no image shows digit(s) {missing}: pairing needs labelled images of every spoken digit "
            "(choose A2I_IMAGE_SOURCE=digits or mnist, or name images like '7_cat.png')."
        )
    return table


def pair_by_digit(digits: np.ndarray, image_labels: np.ndarray, seed: int) -> np.ndarray:
    """One fixed partner per clip: the position of an image of the same digit, drawn with
    ``seed`` (``(n_clips,)``, int64). Partners are spread evenly: within a digit, images are
    dealt out in a shuffled order before any is used twice. Taught in ``05_paired_generation.ipynb``."""
    digits = np.asarray(digits)
    table = images_by_digit(image_labels, digits)
    rng = np.random.default_rng(seed)
    partners = np.empty(len(digits), dtype=np.int64)
    for digit, positions in table.items():
        clips = np.flatnonzero(digits == digit)
        deck = np.concatenate([rng.permutation(positions) for _ in range(-(-len(clips) // len(positions)))])
        partners[clips] = deck[: len(clips)]
    return partners
