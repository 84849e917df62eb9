"""Peak memory of building features from many tiny files, for ``tests/test_streaming.py``.

    python tests/stream_memory.py FOLDER N stream|memory

Writes N tiny WAV files (0.1 s, 12 speakers) under FOLDER/audio, builds their features
with the streaming or the in-memory path of ``features.prepare_features`` under
FOLDER/features, and prints one JSON object: the resident-set growth during the build
(``grew_mb``: the largest resident set sampled while it ran, minus the one just before),
``features_mb`` (what the clips and spectrograms take as float32 arrays) and ``clips``.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from helpers import config, datasets, features


def write_tiny_files(folder: Path, n: int) -> None:
    """``n`` 0.1 s tones at 8 kHz named ``<digit>_<speaker>_<take>.wav``."""
    folder.mkdir(parents=True, exist_ok=True)
    time = np.arange(800) / 8000
    for i in range(n):
        tone = 0.3 * np.sin(2 * np.pi * (150 + 40 * (i % 10) + 3 * (i % 12)) * time)
        sf.write(folder / f"{i % 10}_s{i % 12}_{i}.wav", tone.astype(np.float32), 8000, subtype="PCM_16")


def resident_mb() -> float:
    """The process's resident set now (Linux ``/proc``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmRSS in /proc/self/status")


class PeakWatcher(threading.Thread):
    """Samples the resident set every few milliseconds; ``peak`` is the largest sample."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.running = resident_mb(), True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, resident_mb())
            time.sleep(0.005)

    def stop(self) -> float:
        self.running = False
        self.join()
        return max(self.peak, resident_mb())


def main(folder: Path, n: int, mode: str) -> dict:
    preset = config.load_preset("ci")
    streaming_path = mode == "stream"
    # a small warm-up build first, so imports, compiled kernels and thread pools are not counted
    write_tiny_files(folder / "warm-up", 120)
    warm_up = datasets.scan_audio_folder(folder / "warm-up")
    features.prepare_features(warm_up, preset, folder / "warm-up-features", streaming_path=streaming_path)
    write_tiny_files(folder / "audio", n)
    catalog = datasets.scan_audio_folder(folder / "audio")
    before = resident_mb()
    watcher = PeakWatcher()
    watcher.start()
    summary = features.prepare_features(catalog, preset, folder / "features", streaming_path=streaming_path)
    peak = watcher.stop()
    front_end = preset.front_end
    per_clip = 4 * (front_end.n_freq * front_end.n_frames + front_end.clip_samples)
    return {
        "mode": mode,
        "clips": summary["clips"],
        "format": summary["format"],
        "grew_mb": round(peak - before, 1),
        "features_mb": round(summary["clips"] * per_clip / 2**20, 1),
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])))
