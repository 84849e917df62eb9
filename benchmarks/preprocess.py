"""Benchmark the front-end: feature extraction speed and the Griffin-Lim floor.

    python benchmarks/preprocess.py

Honours A2I_PRESET, A2I_AUDIO_SOURCE, A2I_ARTIFACTS and A2I_CACHE, writes the feature
folder exactly as ``01_preprocess.ipynb`` does, and prints one JSON object:
``clips``, ``seconds`` (loading + spectrograms), ``clips_per_second``,
``gl_iterations``, ``gl_sc_db`` and ``gl_lsd_db`` (medians over the test clips).
Targets (demo preset, 2 cores): gl_sc_db <= -24, clips_per_second >= 200.
"""

from __future__ import annotations

import json
import os
import platform

import numpy as np

from helpers import config, datasets, features, metrics


def main() -> dict:
    preset = config.load_preset()
    paths = config.paths(preset)
    source = config.audio_source()
    folder = features.features_dir(paths, preset, source)
    catalog = datasets.audio_catalog(source, paths)
    summary = features.prepare_features(catalog, preset, folder)
    test = features.load_split(folder, "test")
    _, sc_db, lsd_db = metrics.griffin_lim_floor(
        test.clips, preset.front_end, preset.gl_iterations, preset.seed
    )
    seconds = summary["extract_seconds"]
    return {
        "preset": preset.name,
        "source": summary["source"],
        "clips": summary["clips"],
        "seconds": round(seconds, 3),
        "clips_per_second": round(summary["clips"] / max(seconds, 1e-9), 1),
        "gl_iterations": preset.gl_iterations,
        "gl_sc_db": round(float(np.median(sc_db)), 3),
        "gl_lsd_db": round(float(np.median(lsd_db)), 3),
        "test_clips": len(test),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
