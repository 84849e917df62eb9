"""A voice said into the notebook: the browser's recording saved, a long recording cut around
its word, and formats that need ffmpeg refused with the fix."""

import base64
import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers import audio, recording
from helpers.config import load_preset
from helpers.errors import AudioFileError

ROOT = Path(__file__).resolve().parents[1]
DEMO = load_preset("demo")
WORD = ROOT / "data" / "spoken_digits" / "7_en029annie_0.flac"


def spoken_seven() -> np.ndarray:
    return audio.load_audio(WORD, DEMO.front_end)


def word_energy_kept(clip: np.ndarray, word: np.ndarray) -> float:
    """Share of the word's energy found in ``clip`` at the best alignment."""
    matched = np.correlate(clip, word, mode="full").max()
    return float(matched / np.sum(word**2))


def test_a_recording_with_two_seconds_of_silence_first_is_cut_around_its_word(tmp_path):
    word = spoken_seven()
    path = recording.stand_in_recording(
        tmp_path / "voice.wav", word, DEMO.front_end, lead_seconds=2.0, seconds=5.0
    )
    assert sf.info(str(path)).duration == pytest.approx(5.0, abs=0.01)
    clip, notes = audio.load_clip_with_notes(path, DEMO.front_end)
    assert clip.shape == (DEMO.front_end.clip_samples,)
    assert word_energy_kept(clip, word) > 0.98  # the word is in the clip, whole
    first_second = audio.load_audio(path, DEMO.front_end)[: DEMO.front_end.clip_samples]
    assert word_energy_kept(first_second, word) < 0.01  # what keeping the first second would give
    assert any(note.startswith("5.00 s long, sound found at 2.0") for note in notes), notes
    start, _ = audio.speech_bounds(audio.load_audio(path, DEMO.front_end), DEMO.front_end.sample_rate)
    onset = audio.speech_bounds(word, DEMO.front_end.sample_rate)[0] / DEMO.front_end.sample_rate
    assert abs(start / DEMO.front_end.sample_rate - (2.0 + onset)) < 0.05


def test_the_cut_word_is_heard_as_its_digit_by_the_shipped_listener(tmp_path):
    from helpers.models.autoencoder import load_audio_codec
    from helpers.models.listener import hear_digits

    codec, _ = load_audio_codec(ROOT / "audio_model", DEMO.front_end)
    word = spoken_seven()
    path = recording.stand_in_recording(tmp_path / "voice.ogg", word, DEMO.front_end, lead_seconds=2.0)
    clip = audio.load_clip(path, DEMO.front_end)  # an OGG file, decoded by libsndfile
    assert sf.info(str(path)).format == "OGG"
    both = np.stack([clip, audio.fix_length(word, len(clip))])
    heard = hear_digits(codec.listener, both, DEMO.front_end, codec.stats)
    assert heard.tolist() == [7, 7]


def test_a_short_recording_is_padded_as_before():
    word = spoken_seven()
    clip, begin = audio.cut_around_speech(word, DEMO.front_end)
    assert begin == 0 and np.array_equal(clip[: len(word)], word) and not clip[len(word) :].any()


def test_the_browser_recording_is_saved_with_its_format_and_reads_back(tmp_path):
    sound = io.BytesIO()
    sf.write(sound, spoken_seven(), DEMO.front_end.sample_rate, format="OGG", subtype="VORBIS")
    data_url = "data:audio/ogg;codecs=vorbis;base64," + base64.b64encode(sound.getvalue()).decode()
    path = recording.save_data_url(data_url, tmp_path)
    assert path == tmp_path / "my_voice.ogg" and path.read_bytes() == sound.getvalue()
    assert audio.load_clip(path, DEMO.front_end).shape == (DEMO.front_end.clip_samples,)
    webm = recording.save_data_url("data:audio/webm;codecs=opus;base64,GkXfow==", tmp_path, "chrome")
    assert webm.suffix == ".webm"
    assert "recordVoice" in recording.RECORD_JS and "MediaRecorder" in recording.RECORD_JS


@pytest.mark.parametrize(
    ("data_url", "problem"),
    [
        ("", "sent no recording"),
        ("data:audio/flac-x;base64,AAAA", "cannot name"),
        ("data:audio/webm;base64,@@@@", "arrived damaged"),
    ],
)
def test_a_failed_browser_recording_says_what_to_do(tmp_path, data_url, problem):
    with pytest.raises(AudioFileError, match=problem) as caught:
        recording.save_data_url(data_url, tmp_path)
    assert "What to do" in str(caught.value) and not list(tmp_path.iterdir())


def test_a_webm_recording_without_ffmpeg_names_the_file_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    path = tmp_path / "voice.webm"
    path.write_bytes(b"\x1a\x45\xdf\xa3 not a real webm stream")
    with pytest.raises(AudioFileError, match="ffmpeg") as caught:
        audio.load_clip(path, DEMO.front_end)
    message = str(caught.value)
    assert "voice.webm" in message and "install ffmpeg" in message and "WAV" in message
