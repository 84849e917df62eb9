import dataclasses

import librosa
import numpy as np
import pytest
import soundfile as sf

from conftest import tone
from helpers import audio, metrics
from helpers.errors import ArtifactError, AudioFileError


def dominant_hz(signal: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(signal))
    return float(np.argmax(spectrum) * sample_rate / len(signal))


def test_load_clip_shape_and_dtype(write_audio, front_end):
    path = write_audio("a.wav", tone(440, 0.5, 8000), 8000)
    clip = audio.load_clip(path, front_end)
    assert clip.shape == (front_end.clip_samples,) and clip.dtype == np.float32
    assert np.all(clip[4000:] == 0), "short clips are zero-padded at the end"


def test_long_file_is_trimmed(write_audio, front_end):
    path = write_audio("long.wav", tone(440, 3.0, 8000), 8000)
    assert audio.load_clip(path, front_end).shape == (front_end.clip_samples,)


@pytest.mark.parametrize("rate", [4000, 16000, 44100, 96000])
def test_resampling_keeps_pitch_and_duration(write_audio, front_end, rate):
    path = write_audio(f"r{rate}.wav", tone(440, 0.5, rate), rate)
    loaded = audio.load_audio(path, front_end)
    assert abs(len(loaded) - 4000) <= 2
    assert abs(dominant_hz(loaded, 8000) - 440) < 5


def test_stereo_is_averaged_to_mono(write_audio, front_end):
    left = tone(440, 0.5, 8000, amplitude=0.5)
    path = write_audio("stereo.wav", np.stack([left, np.zeros_like(left)], axis=1), 8000)
    loaded = audio.load_audio(path, front_end)
    assert loaded.ndim == 1
    assert np.max(np.abs(loaded)) == pytest.approx(0.25, abs=0.01)


def test_eight_channels_and_float_wav(write_audio, front_end):
    data = np.tile(tone(300, 0.5, 8000)[:, None], (1, 8))
    path = write_audio("eight.wav", data, 8000, subtype="FLOAT")
    loaded = audio.load_audio(path, front_end)
    assert loaded.shape == (4000,)
    assert abs(dominant_hz(loaded, 8000) - 300) < 5


def test_silence_is_finite_everywhere(front_end):
    silent = np.zeros((2, front_end.clip_samples), dtype=np.float32)
    spectrogram = audio.log_spectrogram(silent, front_end)
    assert spectrogram.shape == (2, front_end.n_freq, front_end.n_frames)
    assert np.isfinite(spectrogram).all() and np.all(spectrogram == np.float32(front_end.db_floor))
    stats = audio.fit_norm_stats(spectrogram)
    assert np.isfinite(audio.normalise(spectrogram, stats)).all()
    waveform = audio.spectrogram_to_waveform(spectrogram, front_end, n_iter=4)
    assert np.isfinite(waveform).all() and np.max(np.abs(waveform)) < 1e-3


def test_normalise_then_denormalise_is_exact(front_end):
    rng = np.random.default_rng(0)
    spectrograms = rng.uniform(-100, 20, size=(6, front_end.n_freq, front_end.n_frames)).astype(np.float32)
    stats = audio.fit_norm_stats(spectrograms[:4])
    normalised = audio.normalise(spectrograms, stats)
    assert abs(normalised[:4].mean()) < 1e-4 and abs(normalised[:4].std() - 1) < 1e-2
    np.testing.assert_allclose(audio.denormalise(normalised, stats), spectrograms, rtol=0, atol=2e-5)


def test_norm_stats_round_trip_and_mismatch(tmp_path, front_end):
    stats = audio.NormStats(mean_db=np.linspace(-60, -20, 128), std_db=np.full(128, 12.0))
    path = tmp_path / "stats.json"
    audio.save_norm_stats(path, stats, front_end)
    loaded = audio.load_norm_stats(path, front_end)
    np.testing.assert_array_equal(loaded.mean_db, stats.mean_db)
    other = dataclasses.replace(front_end, hop_length=32)
    with pytest.raises(ArtifactError, match="01_preprocess"):
        audio.load_norm_stats(path, other)
    path.write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid"):
        audio.load_norm_stats(path, front_end)
    with pytest.raises(ArtifactError, match="missing"):
        audio.load_norm_stats(tmp_path / "absent.json", front_end)


def test_cropped_nyquist_bin_is_restored(front_end):
    clip = audio.fix_length(tone(440, 1.0, 8000), front_end.clip_samples)
    spectrogram = audio.log_spectrogram(clip, front_end)
    magnitude = audio.spectrogram_to_magnitude(spectrogram, front_end)
    assert magnitude.shape == (front_end.n_fft // 2 + 1, front_end.n_frames)
    assert np.all(magnitude[-1] == pytest.approx(front_end.amin))


def test_griffin_lim_reconstructs_a_chirp(front_end):
    chirp = librosa.chirp(fmin=200, fmax=3000, sr=8000, duration=front_end.clip_seconds)
    chirp = audio.fix_length(chirp.astype(np.float32) * 0.5, front_end.clip_samples)
    _, sc_db, lsd_db = metrics.griffin_lim_floor(chirp[None], front_end, n_iter=100)
    assert sc_db[0] <= -20.0
    assert lsd_db[0] < 5.0


def test_mel_and_mfcc_shapes(front_end):
    clips = np.stack([tone(440, 1.016, 8000), tone(880, 1.016, 8000)])
    assert audio.mel_spectrogram_db(clips, front_end).shape == (2, front_end.n_mels, front_end.n_frames)
    assert audio.mfcc(clips, front_end).shape == (2, front_end.n_mfcc, front_end.n_frames)


def test_write_wav_round_trip(tmp_path):
    signal = tone(440, 0.5, 8000)
    path = audio.write_wav(tmp_path / "out" / "x.wav", signal, 8000)
    data, rate = sf.read(path, dtype="float32")
    assert rate == 8000 and np.max(np.abs(data - signal)) < 1e-3
    assert not list((tmp_path / "out").glob(".*")), "no temporary file left behind"


# --- bad input: every case raises AudioFileError naming the file ---------------------------


def _empty(tmp_path, write_audio):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    return path


def _text(tmp_path, write_audio):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n" * 20)
    return path


def _truncated(tmp_path, write_audio):
    path = write_audio("cut.wav", tone(440, 0.5, 8000), 8000)
    path.write_bytes(path.read_bytes()[:30])
    return path


def _no_samples(tmp_path, write_audio):
    return write_audio("nothing.wav", np.zeros(0, dtype=np.float32), 8000)


def _nan(tmp_path, write_audio):
    data = tone(440, 0.5, 8000)
    data[100:200] = np.nan
    return write_audio("nan.wav", data, 8000, subtype="FLOAT")


def _missing(tmp_path, write_audio):
    return tmp_path / "missing.wav"


def _folder(tmp_path, write_audio):
    folder = tmp_path / "folder.wav"
    folder.mkdir()
    return folder


@pytest.mark.parametrize(
    "make, message",
    [
        (_empty, "empty"),
        (_text, "not a readable audio file"),
        (_truncated, "not a readable audio file|zero samples"),
        (_no_samples, "zero samples"),
        (_nan, "NaN"),
        (_missing, "no such file"),
        (_folder, "is a folder"),
    ],
)
def test_bad_audio_files_raise_a_clear_error(tmp_path, write_audio, front_end, make, message):
    path = make(tmp_path, write_audio)
    with pytest.raises(AudioFileError, match=message) as caught:
        audio.load_clip(path, front_end)
    assert str(path) in str(caught.value)
    assert "What to do" in str(caught.value)


def test_clips_for_the_model_come_with_notes_of_what_changed(write_audio, front_end):
    from helpers.audio import load_clip_with_notes

    exact = write_audio("exact.wav", tone(440, front_end.clip_seconds, 8000), 8000)
    clip, notes = load_clip_with_notes(exact, front_end)
    assert clip.shape == (front_end.clip_samples,) and notes == []
    long_stereo = write_audio("long.wav", np.stack([tone(440, 3.0, 44100)] * 2, axis=1), 44100)
    clip, notes = load_clip_with_notes(long_stereo, front_end)
    assert clip.shape == (front_end.clip_samples,)
    assert notes == [
        "resampled from 44100 Hz to 8000 Hz",
        "2 channels mixed to mono",
        "3.00 s long, sound found at 0.00-3.00 s: the 1.016 s from 0.00 s are used",
        "the sound lasts longer than a clip: its last 1.98 s are cut",
    ]
    silent = write_audio("silent.wav", np.zeros(400, np.float32), 8000)
    assert load_clip_with_notes(silent, front_end)[1] == [
        "0.05 s long: padded with silence to 1.016 s",
        "silent: its image shows silence",
    ]
