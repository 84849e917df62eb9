"""Synthesize the embedded spoken-digit set in data/spoken_digits/.

Every clip is one English digit word ("zero" ... "nine") spoken by espeak-ng in one
*voice* (an accent combined with a voice variant), at a speed, pitch and gain drawn
from a seeded generator, resampled to 8 kHz mono, trimmed of silence and stored as
16-bit FLAC. File names follow the Free Spoken Digit Dataset's pattern,
``{digit}_{voice}_{take}.flac``, so the same folder parser reads both.

Rerun with (espeak-ng from the system package manager, e.g. ``apt-get install espeak-ng``):

    python scripts/make_spoken_digits.py

Only this script needs espeak-ng; the notebooks read the committed FLAC files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ACCENTS = [
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
]
VARIANTS = [
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
    "croak", "klatt", "klatt2", "klatt3", "Andy", "Annie", "Denis", "Gene",
    "Jacky", "Lee", "Mike", "Tweaky", "adam", "antonio", "aunty", "belinda",
    "benjamin", "boris", "caleb", "david", "edward", "grandma", "grandpa", "john",
    "linda", "max", "michel", "norbert", "paul", "steph", "robert", "travis",
]  # fmt: skip
SAMPLE_RATE = 8000
MAX_SECONDS = 1.0  # the longest clip kept; the front-end pads every clip to its own length


def synthesize(word: str, voice: str, speed: int, pitch: int, workdir: Path) -> np.ndarray:
    """Speak ``word`` with espeak-ng and return it as float32 mono at 8 kHz."""
    wav = workdir / "take.wav"
    cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav), word]
    subprocess.run(cmd, check=True, capture_output=True)
    audio, _ = librosa.load(wav, sr=SAMPLE_RATE, mono=True)
    return audio


def voice_tag(voice: str) -> str:
    """A file-name-safe voice id: letters and digits only (``en-gb+f2`` -> ``engbf2``)."""
    return "".join(ch for ch in voice if ch.isalnum()).lower()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/spoken_digits"))
    parser.add_argument("--voices", type=int, default=64, help="number of distinct voices")
    parser.add_argument("--takes", type=int, default=1, help="renditions of each digit per voice")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    if shutil.which("espeak-ng") is None:
        raise SystemExit("espeak-ng not found: install it (apt-get install espeak-ng) and rerun.")

    rng = np.random.default_rng(args.seed)
    pairs = [f"{a}+{v}" for v in VARIANTS for a in ACCENTS]
    voices = [pairs[i] for i in rng.choice(len(pairs), size=args.voices, replace=False)]
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.flac"):
        old.unlink()

    manifest = []
    with tempfile.TemporaryDirectory() as tmp:
        for voice in voices:
            for take in range(args.takes):
                speed = int(rng.integers(120, 221))  # words per minute
                pitch = int(rng.integers(20, 81))  # espeak pitch, 0-99
                gain_db = float(rng.uniform(-12.0, -1.0))
                lead_s = float(rng.uniform(0.0, 0.08))
                for digit, word in enumerate(WORDS):
                    audio = synthesize(word, voice, speed, pitch, Path(tmp))
                    audio, _ = librosa.effects.trim(audio, top_db=40)
                    audio = np.concatenate([np.zeros(int(lead_s * SAMPLE_RATE)), audio])
                    audio = audio[: int(MAX_SECONDS * SAMPLE_RATE)]
                    audio = audio / (np.max(np.abs(audio)) + 1e-9) * 10 ** (gain_db / 20)
                    name = f"{digit}_{voice_tag(voice)}_{take}.flac"
                    sf.write(args.out / name, audio.astype(np.float32), SAMPLE_RATE, "PCM_16")
                    manifest.append(
                        {
                            "file": name,
                            "digit": digit,
                            "word": word,
                            "voice": voice,
                            "speed_wpm": speed,
                            "pitch": pitch,
                            "gain_db": round(gain_db, 2),
                            "seconds": round(len(audio) / SAMPLE_RATE, 3),
                        }
                    )
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    size = sum(p.stat().st_size for p in args.out.glob("*.flac"))
    print(f"wrote {len(manifest)} clips from {len(voices)} voices, {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
