"""Command-line converter: a sound becomes an image, and the image becomes the sound again.

    python -m helpers.convert audio-to-image IN OUT
    python -m helpers.convert image-to-audio IN OUT

Run ``python -m helpers.convert --help`` for every option. Taught in ``04_round_trip.ipynb``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from helpers.audio import AUDIO_EXTENSIONS
from helpers.errors import A2IError
from helpers.images import IMAGE_EXTENSIONS

if TYPE_CHECKING:  # TensorFlow loads only once its start-up messages are silenced
    import keras

AUDIO_TO_IMAGE, IMAGE_TO_AUDIO = "audio-to-image", "image-to-audio"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
BATCH = 16  # files converted per model call (and per step of the progress bar)
PROGRESS_FROM = 4  # more files than this get a progress bar

DESCRIPTION = """\
Turn short sound clips into images and images back into sound, with the trained audio
autoencoder (audio_model/) and image GAN (image_model/).

  audio-to-image IN OUT   a clip -> its latent z -> the generator's image
  image-to-audio IN OUT   an image -> z by projection -> spectrogram -> Griffin-Lim -> WAV

IN and OUT are files or folders:
  * file -> file: OUT's suffix picks the format (.png, .jpg or .jpeg for images; .wav for audio);
  * file -> existing folder: the output is named after IN (clip.wav -> OUT/clip.png);
  * folder -> folder: every audio (or image) file under IN, subfolders included, is converted
    to OUT with the same relative path (PNG for images, WAV for audio); OUT is created.

Audio input: any file libsndfile or librosa reads (wav, flac, ogg, mp3, ...; m4a and webm
through ffmpeg), mixed to mono, resampled to the model's rate; a recording longer than a clip
is cut around its spoken part (the silence before it skipped), a shorter one padded. Each
change is printed.
Image input: a square image of any size and mode (grey, colour, palette, 16-bit, alpha); it is
resized to the generator's size and converted to its channels, with a printed note. A
non-square image is refused: generated images are square, and a crop would lose part of z.

Nothing is overwritten: if an output exists the command stops before writing anything,
unless --overwrite is given. Files are written atomically (a crash leaves no half file).
Unreadable inputs are reported by name and skipped; the others are still converted.

Exit status: 0 all converted; 1 some input or the models failed (the message says what to
do); 2 the command line is wrong."""

EPILOG = """\
examples (run from the repository's folder: the first reads a clip it ships, the second
the image the first wrote):
  python -m helpers.convert audio-to-image data/spoken_digits/7_en029annie_0.flac seven.png
  python -m helpers.convert image-to-audio seven.png seven.wav
  python -m helpers.convert audio-to-image my_recordings/ images/ --overwrite
  python -m helpers.convert image-to-audio images/ sounds/ --artifacts /path/to/run"""


class UsageError(A2IError):
    """The command line names files or folders that cannot work together."""


@dataclass(frozen=True)
class Job:
    source: Path
    target: Path


def plan_jobs(direction: str, source: Path, target: Path, overwrite: bool) -> list[Job]:
    """The (input, output) pairs of one command; every check that needs no model happens here,
    so a wrong command line fails in a moment and before anything is written."""
    to_image = direction == AUDIO_TO_IMAGE
    extensions = AUDIO_EXTENSIONS if to_image else IMAGE_EXTENSIONS
    default_suffix = ".png" if to_image else ".wav"
    allowed = IMAGE_SUFFIXES if to_image else (".wav",)
    kind = "audio" if to_image else "image"
    if source.is_dir():
        if target.exists() and not target.is_dir():
            raise UsageError(f"{target} is a file, but IN ({source}) is a folder: give a folder as OUT")
        inputs = sorted(
            path
            for path in source.rglob("*")
            if path.is_file() and path.suffix.lower() in extensions and not path.name.startswith(".")
        )
        if not inputs:
            raise UsageError(f"{source} holds no {kind} files (looked for {', '.join(extensions)})")
        jobs = [Job(path, target / path.relative_to(source).with_suffix(default_suffix)) for path in inputs]
        clashes = [str(out) for out, count in Counter(job.target for job in jobs).items() if count > 1]
        if clashes:
            raise UsageError(
                f"several inputs would write {clashes[0]} (files differing only in extension): "
                "rename them or convert them separately"
            )
    elif source.is_file():
        if target.is_dir():
            target = target / (source.stem + default_suffix)
        elif target.suffix.lower() not in allowed:
            raise UsageError(f"{target}: OUT must end in {' or '.join(allowed)}, or be an existing folder")
        jobs = [Job(source, target)]
    else:
        raise UsageError(f"{source}: no such file or folder")
    existing = [str(job.target) for job in jobs if job.target.exists()]
    if existing and not overwrite:
        shown = ", ".join(existing[:3]) + (f" and {len(existing) - 3} more" if len(existing) > 3 else "")
        raise UsageError(
            f"{len(existing)} output file(s) already exist ({shown}); nothing was written. "
            "Pass --overwrite to replace them, or choose another OUT"
        )
    return jobs


def _model_folders(artifacts: str | None) -> tuple[Path, Path]:
    from helpers import config
    from helpers.round_trip import model_folders

    if artifacts is not None and not Path(artifacts).expanduser().is_dir():
        raise UsageError(
            f"--artifacts {artifacts}: no such folder (it should hold audio_model/ and image_model/)"
        )
    return model_folders(config.paths(), artifacts)


def _read_inputs(jobs: list[Job], to_image: bool, bridge) -> tuple[list[tuple[Job, object, list[str]]], int]:
    """Decode every input; a bad one is reported and skipped. Returns the readable ones and the failures."""
    from helpers.audio import load_clip_with_notes
    from helpers.images import load_image_with_notes

    size, _, channels = bridge.image_shape
    readable, failures = [], 0
    for job in jobs:
        try:
            if to_image:
                data, notes = load_clip_with_notes(job.source, bridge.front_end)
            else:
                data, notes = load_image_with_notes(job.source, size, channels)
        except A2IError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        readable.append((job, data, notes))
    return readable, failures


def convert(
    direction: str,
    source: str | Path,
    target: str | Path,
    artifacts: str | None = None,
    overwrite: bool = False,
    gl_iterations: int | None = None,
    quality: int = 95,
    verbose: bool = True,
) -> int:
    """Run one conversion; returns the number of inputs that failed. Raises ``A2IError``
    (a wrong command line, missing or mismatched models) before writing anything.
    ``verbose`` prints one line per file (with the changes made to fit it), after a
    progress bar on stderr when there are more than ``PROGRESS_FROM``; else only errors
    and the closing count."""
    import numpy as np

    from helpers.audio import write_wav
    from helpers.images import save_image

    to_image = direction == AUDIO_TO_IMAGE
    jobs = plan_jobs(direction, Path(source), Path(target), overwrite)
    _silence_tensorflow()
    from helpers.round_trip import load_bridge  # imports TensorFlow, silenced now

    audio_model, image_model = _model_folders(artifacts)
    bridge = load_bridge(audio_model, image_model, gl_iterations)
    readable, failures = _read_inputs(jobs, to_image, bridge)
    # a folder of more than a few files gets a progress bar (on stderr), the per-file lines after it
    bar = _progress_bar(len(readable)) if verbose and len(readable) > PROGRESS_FROM else None
    lines = []
    for start in range(0, len(readable), BATCH):
        chunk = readable[start : start + BATCH]
        inputs = np.stack([data for _, data, _ in chunk])
        outputs = bridge.clips_to_images(inputs) if to_image else bridge.images_to_clips(inputs)
        for (job, _, notes), output in zip(chunk, outputs, strict=True):
            if to_image:
                save_image(job.target, output, quality=quality)
            else:
                write_wav(job.target, output, bridge.front_end.sample_rate)
            lines.append(f"{job.source} -> {job.target}" + (f"  ({'; '.join(notes)})" if notes else ""))
            if verbose and bar is None:
                print(lines[-1])
        if bar is not None:
            with contextlib.redirect_stdout(sys.stderr):
                bar.update(start + len(chunk))
    if bar is not None:
        print("\n".join(lines))
    print(f"converted {len(readable)} of {len(jobs)} file(s)" + (f", {failures} failed" if failures else ""))
    return failures


def _progress_bar(total: int) -> keras.utils.Progbar:
    """Keras's own progress bar over ``total`` files."""
    import keras

    return keras.utils.Progbar(total, unit_name="file")


def _silence_tensorflow() -> None:
    """Keep TensorFlow's start-up and retracing messages out of the converter's output.

    Its C++ side writes a few lines to the process's stderr while it loads and looks for a
    GPU, before any log level applies; they are sent to the null device for that moment
    only (a failure still raises, with its message). A user's ``TF_CPP_MIN_LOG_LEVEL`` is kept.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    try:
        import absl.logging
        import tensorflow as tf

        tf.config.list_physical_devices()  # the GPU search, and its messages, happen now
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    tf.get_logger().setLevel("ERROR")
    absl.logging.set_verbosity(absl.logging.ERROR)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.convert",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("direction", choices=(AUDIO_TO_IMAGE, IMAGE_TO_AUDIO), help="which way to convert")
    parser.add_argument("input", metavar="IN", help="an audio or image file, or a folder of them")
    parser.add_argument("output", metavar="OUT", help="the file or folder to write")
    parser.add_argument(
        "--artifacts",
        metavar="DIR",
        help="folder holding audio_model/ and image_model/ (default: $A2I_ARTIFACTS, else the "
        "repository; where no model was trained there, the shipped demo models)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace outputs that already exist")
    parser.add_argument("--quiet", action="store_true", help="print only errors and the final count")
    parser.add_argument(
        "--gl-iterations",
        type=int,
        metavar="N",
        help="Griffin-Lim iterations for image-to-audio (default: the audio model's preset, 100 for demo)",
    )
    parser.add_argument(
        "--quality",
        type=int,
        default=95,
        metavar="Q",
        help="JPEG quality 1-95 when OUT ends in .jpg (default 95)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.gl_iterations is not None and args.gl_iterations < 1:
        parser.error("--gl-iterations must be at least 1")
    if not 1 <= args.quality <= 95:
        parser.error("--quality must be between 1 and 95")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow is imported
    try:
        failures = convert(
            args.direction,
            args.input,
            args.output,
            args.artifacts,
            args.overwrite,
            args.gl_iterations,
            args.quality,
            verbose=not args.quiet,
        )
    except UsageError as exc:
        parser.error(str(exc))
    except A2IError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
