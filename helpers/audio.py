"""Audio front-end: loading, fixed-length clips, dB spectrograms and their inverse.

Shapes: a clip is ``(samples,)``; a batch of clips ``(batch, samples)``; a dB
spectrogram ``(..., n_freq, n_frames)``. Taught in ``01_preprocess.ipynb``.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from helpers.artifacts import atomic_path, save_json
from helpers.config import FrontEnd
from helpers.errors import ArtifactError, AudioFileError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".au", ".m4a", ".webm")
NEEDS_FFMPEG = (".m4a", ".mp4", ".aac", ".webm")  # formats libsndfile cannot read: only ffmpeg decodes them


# librosa announces its audioread fallback with two warnings; they say nothing the caller
# can act on. Filtered by message here, once: ``warnings.catch_warnings`` around the call
# would not be thread-safe, and ``helpers/streaming.py`` decodes on parallel threads.
warnings.filterwarnings("ignore", message="PySoundFile failed", category=UserWarning)
warnings.filterwarnings("ignore", message=r"librosa\.core\.audio\.__audioread_load", category=FutureWarning)


def _decode(path: Path, max_seconds: float | None) -> tuple[np.ndarray, float]:
    """Samples ``(channels, n)`` and their rate: soundfile first, librosa/audioread as fallback."""
    try:
        with sf.SoundFile(path) as handle:
            frames = -1 if max_seconds is None else int(np.ceil(max_seconds * handle.samplerate))
            data = handle.read(frames=frames, dtype="float32", always_2d=True)
            return data.T, float(handle.samplerate)
    except (sf.LibsndfileError, RuntimeError, TypeError) as first:
        soundfile_error = first  # formats libsndfile cannot read (m4a, some mp3): let librosa try audioread
    try:
        data, rate = librosa.load(path, sr=None, mono=False, duration=max_seconds)
    except Exception as exc:  # audioread's errors often say nothing; libsndfile's say why
        raise RuntimeError(f"{soundfile_error}; audioread: {type(exc).__name__} {exc}".strip()) from exc
    return np.atleast_2d(data), float(rate)


def load_audio(path: str | Path, front_end: FrontEnd, max_seconds: float | None = None) -> np.ndarray:
    """Read any readable audio file as mono float32 at the front-end's sample rate.

    Multi-channel files are averaged to mono and other rates resampled (soxr). Only
    the first ``max_seconds`` are decoded when given. Raises ``AudioFileError``
    naming the file when it is missing, unreadable, empty or holds NaN/inf samples.
    """
    path = Path(path)
    if path.is_dir():
        raise AudioFileError(path, "is a folder, not a file", "pass one audio file, or use a folder source")
    if not path.is_file():
        raise AudioFileError(path, "no such file", "check the path")
    if path.stat().st_size == 0:
        raise AudioFileError(path, "the file is empty (0 bytes)")
    try:
        channels, rate = _decode(path, max_seconds)
    except Exception as exc:  # soundfile, audioread and ffmpeg each raise their own types
        if path.suffix.lower() in NEEDS_FFMPEG and shutil.which("ffmpeg") is None:
            raise AudioFileError(
                path,
                f"a {path.suffix.lower()} file is decoded by ffmpeg, which is not installed",
                "install ffmpeg (apt install ffmpeg, brew install ffmpeg or conda install ffmpeg; "
                "Colab has it), or save the recording as WAV, FLAC or OGG",
            ) from exc
        raise AudioFileError(path, f"not a readable audio file ({type(exc).__name__}: {exc})") from exc
    if channels.size == 0:
        raise AudioFileError(path, "the file decodes to zero samples")
    if not np.all(np.isfinite(channels)):
        raise AudioFileError(path, "the file holds NaN or infinite samples")
    mono = channels.mean(axis=0)
    if rate != front_end.sample_rate:
        mono = librosa.resample(mono, orig_sr=rate, target_sr=front_end.sample_rate, res_type="soxr_hq")
    return mono.astype(np.float32)


def fix_length(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """Zero-pad at the end or trim ``audio`` to exactly ``n_samples`` along the last axis."""
    return librosa.util.fix_length(audio, size=n_samples, axis=-1)


SEARCH_SECONDS = 30.0  # of a long recording, how much is searched for the spoken part
PRE_ROLL_SECONDS = 0.05  # silence kept before the speech, about what the training clips start with
SILENCE_DB = 30.0  # quieter than the recording's loudest moment by this much counts as silence


def speech_bounds(audio: np.ndarray, sample_rate: int) -> tuple[int, int]:
    """First and last sample ``(start, end)`` of the sound in ``audio``: everything outside is
    more than ``SILENCE_DB`` below its loudest frame (``librosa.effects.trim``). ``(0, 0)`` for
    digital silence."""
    if not np.any(audio):
        return 0, 0
    frame = max(64, int(0.032 * sample_rate))
    _, (start, end) = librosa.effects.trim(
        audio, top_db=SILENCE_DB, frame_length=frame, hop_length=frame // 4
    )
    return int(start), int(end)


def cut_around_speech(
    audio: np.ndarray, front_end: FrontEnd, bounds: tuple[int, int] | None = None
) -> tuple[np.ndarray, int]:
    """A clip ``(clip_samples,)`` from a recording ``(n,)`` and the sample it starts at.

    A recording no longer than a clip is padded at the end, as the training clips were.
    A longer one (a phone or a microphone records seconds around a word) is cut around its
    spoken part (``speech_bounds``, unless ``bounds`` gives them): from ``PRE_ROLL_SECONDS``
    before the speech starts, moved back if the file ends first. Taught in
    ``04_round_trip.ipynb``.
    """
    n_samples = front_end.clip_samples
    if len(audio) <= n_samples:
        return fix_length(audio, n_samples), 0
    start, _ = bounds if bounds is not None else speech_bounds(audio, front_end.sample_rate)
    begin = int(min(max(0, start - PRE_ROLL_SECONDS * front_end.sample_rate), len(audio) - n_samples))
    return audio[begin : begin + n_samples], begin


def load_clip(path: str | Path, front_end: FrontEnd) -> np.ndarray:
    """A fixed-length clip ``(clip_samples,)`` from an audio file (see ``load_audio``), cut
    around its spoken part when the file is longer (``cut_around_speech``)."""
    return load_clip_with_notes(path, front_end)[0]


def load_clip_with_notes(path: str | Path, front_end: FrontEnd) -> tuple[np.ndarray, list[str]]:
    """``load_clip`` plus a plain-language note for each change made to fit the front-end:
    resampling, mixing to mono, cutting around the speech, padding, and silence. Used by the
    converter (``helpers/convert.py``) so a user learns what happened to their file."""
    clip_seconds, rate_out = front_end.clip_seconds, front_end.sample_rate
    audio = load_audio(path, front_end, max_seconds=SEARCH_SECONDS)  # raises on bad files
    notes = []
    try:
        info = sf.info(str(path))
        rate, channels, seconds = info.samplerate, info.channels, info.duration
    except Exception:  # formats only librosa reads: the decoded length still tells cutting/padding
        rate, channels, seconds = rate_out, 1, len(audio) / rate_out
    if rate != rate_out:
        notes.append(f"resampled from {rate} Hz to {rate_out} Hz")
    if channels > 1:
        notes.append(f"{channels} channels mixed to mono")
    start, end = speech_bounds(audio, rate_out) if len(audio) > front_end.clip_samples else (0, 0)
    clip, begin = cut_around_speech(audio, front_end, (start, end))
    if len(audio) > front_end.clip_samples:
        searched = f" (its first {SEARCH_SECONDS:.0f} s searched)" if seconds > SEARCH_SECONDS else ""
        found = (
            f"sound found at {start / rate_out:.2f}-{end / rate_out:.2f} s"
            if end > start
            else "no sound in it"
        )
        used = f"the {clip_seconds:.3f} s from {begin / rate_out:.2f} s are used"
        notes.append(f"{seconds:.2f} s long{searched}, {found}: {used}")
        if end - begin > front_end.clip_samples:
            over = (end - begin) / rate_out - clip_seconds
            notes.append(f"the sound lasts longer than a clip: its last {over:.2f} s are cut")
    elif len(audio) < front_end.clip_samples:
        notes.append(f"{seconds:.2f} s long: padded with silence to {clip_seconds:.3f} s")
    if not np.any(clip):
        notes.append("silent: its image shows silence")
    return clip, notes


def stft_magnitude(audio: np.ndarray, front_end: FrontEnd) -> np.ndarray:
    """Linear STFT magnitude ``(..., n_fft // 2 + 1, n_frames)`` of clips ``(..., samples)``."""
    stft = librosa.stft(
        np.asarray(audio, dtype=np.float32),
        n_fft=front_end.n_fft,
        hop_length=front_end.hop_length,
        window="hann",
        center=True,
    )
    return np.abs(stft)


def log_spectrogram(audio: np.ndarray, front_end: FrontEnd) -> np.ndarray:
    """dB magnitude spectrogram ``(..., n_freq, n_frames)``, Nyquist bin cropped.

    Values are ``20 log10(max(|STFT|, amin))``, so silence gives the finite floor
    ``front_end.db_floor`` rather than ``-inf``.
    """
    magnitude = stft_magnitude(audio, front_end)[..., : front_end.n_freq, :]
    spectrogram_db = (20.0 * np.log10(np.maximum(magnitude, front_end.amin))).astype(np.float32)
    # float32 rounding of amin can land a hair under the floor (-60.000004): pin it exactly
    return np.maximum(spectrogram_db, np.float32(front_end.db_floor))


def spectrogram_to_magnitude(spectrogram_db: np.ndarray, front_end: FrontEnd) -> np.ndarray:
    """Undo ``log_spectrogram``: linear magnitude with the cropped Nyquist bin restored as silence."""
    spectrogram_db = np.asarray(spectrogram_db, dtype=np.float32)
    if spectrogram_db.shape[-2] != front_end.n_freq:
        raise ValueError(f"expected {front_end.n_freq} frequency bins, got shape {spectrogram_db.shape}")
    magnitude = librosa.db_to_amplitude(spectrogram_db)
    pad = [(0, 0)] * (magnitude.ndim - 2) + [(0, 1), (0, 0)]
    return np.pad(magnitude, pad, constant_values=front_end.amin)


def spectrogram_to_waveform(
    spectrogram_db: np.ndarray, front_end: FrontEnd, n_iter: int, seed: int = 0
) -> np.ndarray:
    """Waveforms ``(..., clip_samples)`` from dB spectrograms by fast Griffin-Lim.

    librosa's Griffin-Lim with momentum 0.99 (Perraudin et al., 2013), random
    initial phase from ``seed``; works on a whole batch at once.
    """
    magnitude = spectrogram_to_magnitude(spectrogram_db, front_end)
    audio = librosa.griffinlim(
        magnitude,
        n_iter=n_iter,
        hop_length=front_end.hop_length,
        n_fft=front_end.n_fft,
        window="hann",
        center=True,
        length=front_end.clip_samples,
        momentum=0.99,
        init="random",
        random_state=seed,
    )
    return audio.astype(np.float32)


def mel_spectrogram_db(audio: np.ndarray, front_end: FrontEnd) -> np.ndarray:
    """Log-mel spectrogram ``(..., n_mels, n_frames)`` in dB (power, floor at ``amin**2``)."""
    mel = librosa.feature.melspectrogram(
        y=np.asarray(audio, dtype=np.float32),
        sr=front_end.sample_rate,
        n_fft=front_end.n_fft,
        hop_length=front_end.hop_length,
        n_mels=front_end.n_mels,
    )
    return librosa.power_to_db(mel, ref=1.0, amin=front_end.amin**2).astype(np.float32)


def mfcc(audio: np.ndarray, front_end: FrontEnd) -> np.ndarray:
    """MFCCs ``(..., n_mfcc, n_frames)`` computed from ``mel_spectrogram_db``."""
    return librosa.feature.mfcc(S=mel_spectrogram_db(audio, front_end), n_mfcc=front_end.n_mfcc).astype(
        np.float32
    )


@dataclass(frozen=True)
class NormStats:
    """Per-frequency mean and standard deviation of dB spectrograms (training split only)."""

    mean_db: np.ndarray  # (n_freq,)
    std_db: np.ndarray  # (n_freq,)

    def to_dict(self) -> dict:
        return {"mean_db": self.mean_db.tolist(), "std_db": self.std_db.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> NormStats:
        mean, std = np.asarray(data["mean_db"]), np.asarray(data["std_db"])
        if mean.shape != std.shape or mean.ndim != 1 or np.any(std <= 0):
            raise ValueError("normalisation stats need equal-length mean_db and positive std_db")
        return cls(mean_db=mean.astype(np.float64), std_db=std.astype(np.float64))


def fit_norm_stats(spectrograms_db: np.ndarray, min_std_db: float = 1.0) -> NormStats:
    """Fit ``NormStats`` on training spectrograms ``(batch, n_freq, n_frames)``.

    Each frequency row gets its own mean and spread over all clips and frames; the
    spread is floored at ``min_std_db`` so a silent band cannot divide by zero.
    """
    return fit_norm_stats_batches([spectrograms_db], min_std_db)


def fit_norm_stats_batches(batches: Iterable[np.ndarray], min_std_db: float = 1.0) -> NormStats:
    """``fit_norm_stats`` over spectrograms that arrive in batches ``(b, n_freq, n_frames)``.

    Each batch's mean and squared deviations are merged into the running ones (Chan et
    al.'s pairwise update), so a training split read from disk never has to fit in
    memory and one batch gives exactly the two-pass result. Taught in ``01_preprocess.ipynb``.
    """
    count, mean, squares = 0, None, None
    for batch in batches:
        data = np.asarray(batch, dtype=np.float64)
        n = data.shape[0] * data.shape[2]
        if n == 0:
            continue
        batch_mean = data.mean(axis=(0, 2))
        batch_squares = ((data - batch_mean[:, None]) ** 2).sum(axis=(0, 2))
        if mean is None:
            count, mean, squares = n, batch_mean, batch_squares
            continue
        delta, total = batch_mean - mean, count + n
        mean = mean + delta * (n / total)
        squares = squares + batch_squares + delta**2 * (count * n / total)
        count = total
    if mean is None:
        raise ValueError("normalisation stats need at least one training spectrogram")
    return NormStats(mean_db=mean, std_db=np.maximum(np.sqrt(squares / count), min_std_db))


def normalise(spectrograms_db: np.ndarray, stats: NormStats) -> np.ndarray:
    """``(x - mean) / std`` per frequency row; shape ``(..., n_freq, n_frames)`` kept."""
    mean, std = stats.mean_db[:, None], stats.std_db[:, None]
    return ((np.asarray(spectrograms_db, np.float64) - mean) / std).astype(np.float32)


def denormalise(spectrograms: np.ndarray, stats: NormStats) -> np.ndarray:
    """Exact inverse of ``normalise`` (up to float32 rounding)."""
    mean, std = stats.mean_db[:, None], stats.std_db[:, None]
    return (np.asarray(spectrograms, np.float64) * std + mean).astype(np.float32)


def save_norm_stats(path: str | Path, stats: NormStats, front_end: FrontEnd) -> None:
    """Write the stats and the front-end they belong to as one JSON file, atomically."""
    save_json(path, {"front_end": front_end.to_dict(), **stats.to_dict()})


def load_norm_stats(path: str | Path, front_end: FrontEnd | None = None) -> NormStats:
    """Read stats saved by ``save_norm_stats``; the front-end must match ``front_end`` when given."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path} is missing: run notebooks/01_preprocess.ipynb to create it.")
    try:
        payload = json.loads(path.read_text())
        stats = NormStats.from_dict(payload)
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(
            f"{path} is not valid normalisation JSON ({exc}): rerun notebooks/01_preprocess.ipynb."
        ) from exc
    if front_end is not None and payload.get("front_end") != front_end.to_dict():
        raise ArtifactError(
            f"{path} was made with front-end {payload.get('front_end')}, but this run uses "
            f"{front_end.to_dict()}: rerun notebooks/01_preprocess.ipynb with the same preset."
        )
    return stats


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write a mono 16-bit WAV atomically, clipping to [-1, 1]; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        sf.write(tmp, np.clip(audio, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")
    return path
