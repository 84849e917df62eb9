"""Your own voice: a recording from the browser's microphone, a file, or a stand-in.

In Colab, ``record_in_browser`` asks the browser to record through its JavaScript output
bridge and saves what comes back; elsewhere a notebook reads a path instead. Taught in
``04_round_trip.ipynb``.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path

import numpy as np
import soundfile as sf

from helpers.artifacts import atomic_path
from helpers.config import FrontEnd
from helpers.errors import AudioFileError

# what a browser's MediaRecorder may produce -> the suffix the decoders recognise it by
BROWSER_TYPES = {
    "audio/webm": ".webm",
    "audio/ogg": ".ogg",
    "audio/mp4": ".m4a",
    "audio/mpeg": ".mp3",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
}

# Resolves to a data URL ("data:audio/webm;codecs=opus;base64,...") of SECONDS of microphone sound.
RECORD_JS = """
async function recordVoice(seconds) {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true});
  const recorder = new MediaRecorder(stream);
  const chunks = [];
  recorder.ondataavailable = (event) => chunks.push(event.data);
  const stopped = new Promise((resolve) => (recorder.onstop = resolve));
  const note = document.createElement("p");
  note.textContent = "Recording for " + seconds + " s: say one digit, in English.";
  document.body.appendChild(note);
  recorder.start();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  recorder.stop();
  await stopped;
  stream.getTracks().forEach((track) => track.stop());
  note.textContent = "Recorded.";
  const blob = new Blob(chunks, {type: recorder.mimeType});
  return await new Promise((resolve) => {
    const reader = new FileReader();
    reader.onloadend = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
}
"""


def save_data_url(data_url: str, folder: str | Path, stem: str = "my_voice") -> Path:
    """Write the sound in a ``data:<type>;base64,<data>`` URL to ``folder/stem<suffix>``, the
    suffix chosen from its type (``BROWSER_TYPES``), and return the path."""
    header, _, payload = str(data_url).partition(",")
    if not header.startswith("data:") or not header.endswith(";base64") or not payload:
        raise AudioFileError(
            f"{stem} (browser recording)",
            "the browser sent no recording",
            "allow the microphone when the browser asks, then run the cell again",
        )
    mime = header[len("data:") :].split(";")[0].strip().lower()
    if mime not in BROWSER_TYPES:
        raise AudioFileError(
            f"{stem} (browser recording)",
            f"the browser recorded {mime or 'an unnamed type'}, which this notebook cannot name",
            f"use a browser that records one of {', '.join(sorted(BROWSER_TYPES))}, or upload a WAV file",
        )
    try:
        sound = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise AudioFileError(f"{stem} (browser recording)", f"the recording arrived damaged ({exc})") from exc
    path = Path(folder) / (stem + BROWSER_TYPES[mime])
    with atomic_path(path) as temporary:
        temporary.write_bytes(sound)
    return path


def record_in_browser(seconds: float, folder: str | Path) -> Path:  # pragma: no cover - needs a browser
    """Record ``seconds`` from the microphone of the browser running this Colab notebook and
    save it in ``folder`` (``save_data_url``). Only in Colab: elsewhere, record with any app
    and pass the file's path."""
    from google.colab import output

    return save_data_url(output.eval_js(RECORD_JS + f"recordVoice({float(seconds)})"), folder)


def stand_in_recording(
    path: str | Path,
    clip: np.ndarray,
    front_end: FrontEnd,
    lead_seconds: float = 2.0,
    seconds: float = 5.0,
    seed: int = 0,
) -> Path:
    """A recording as a microphone makes one, for machines without one: ``clip`` placed
    ``lead_seconds`` into ``seconds`` of quiet room noise (60 dB below full scale), written in
    the format ``path``'s suffix names (WAV, FLAC, OGG)."""
    rate = front_end.sample_rate
    total = max(int(seconds * rate), int(lead_seconds * rate) + len(clip))
    recording = np.random.default_rng(seed).normal(0.0, 1e-3, total).astype(np.float32)
    start = int(lead_seconds * rate)
    recording[start : start + len(clip)] += np.asarray(clip, np.float32)
    with atomic_path(path) as temporary:
        sf.write(temporary, np.clip(recording, -1.0, 1.0), rate)
    return Path(path)
