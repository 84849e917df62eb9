"""Benchmark the front-end: feature extraction speed on both paths and the Griffin-Lim floor.

    python benchmarks/preprocess.py

Honours A2I_PRESET, A2I_AUDIO_SOURCE, A2I_STREAMING, A2I_ARTIFACTS and A2I_CACHE, writes the
feature folder exactly as ``01_preprocess.ipynb`` does (the path ``config.streams_features``
picks), builds the same features once more by the other path in a scratch folder (deleted
afterwards), and prints one JSON object: ``clips``, ``seconds`` and ``clips_per_second``
(in-memory path: loading + spectrograms), ``in_memory_total_clips_per_second`` and
``streaming_clips_per_second`` (each path from files to saved features: decoding,
spectrograms, statistics and writing), ``default_path``, ``gl_iterations``, ``gl_sc_db``
and ``gl_lsd_db`` (medians over the test clips).
Targets (demo, 2 cores): ``helpers.targets.TARGETS["preprocess"]``, which the README's results
tables judge this JSON by.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np

from helpers import config, datasets, features, metrics


def timed_build(
    catalog: datasets.AudioCatalog, preset: config.Preset, folder: Path, streaming_path: bool
) -> tuple[dict, float]:
    """The summary of one feature build and its wall-clock seconds, files to saved features."""
    start = time.perf_counter()
    summary = features.prepare_features(catalog, preset, folder, streaming_path=streaming_path)
    return summary, time.perf_counter() - start


def main() -> dict:
    preset = config.load_preset()
    paths = config.paths(preset)
    source = config.audio_source()
    folder = features.features_dir(paths, preset, source)
    catalog = datasets.audio_catalog(source, paths)
    default_streams = config.streams_features(source)
    summary, default_seconds = timed_build(catalog, preset, folder, default_streams)
    scratch = paths.outputs / "benchmark_features" / folder.name
    try:
        other, other_seconds = timed_build(catalog, preset, scratch, not default_streams)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    by_format = {summary["format"]: (summary, default_seconds), other["format"]: (other, other_seconds)}
    in_memory, in_memory_seconds = by_format["arrays"]
    streamed, streamed_seconds = by_format["stream"]
    test = features.load_split(folder, "test")
    _, sc_db, lsd_db = metrics.griffin_lim_floor(
        test.clips, preset.front_end, preset.gl_iterations, preset.seed
    )
    return {
        "preset": preset.name,
        "source": summary["source"],
        "clips": summary["clips"],
        "seconds": round(in_memory["extract_seconds"], 3),
        "clips_per_second": round(in_memory["clips"] / max(in_memory["extract_seconds"], 1e-9), 1),
        "in_memory_total_seconds": round(in_memory_seconds, 3),
        "in_memory_total_clips_per_second": round(in_memory["clips"] / in_memory_seconds, 1),
        "streaming_seconds": round(streamed_seconds, 3),
        "streaming_clips_per_second": round(streamed["clips"] / streamed_seconds, 1),
        "default_path": "streaming" if default_streams else "in_memory",
        "gl_iterations": preset.gl_iterations,
        "gl_sc_db": round(float(np.median(sc_db)), 3),
        "gl_lsd_db": round(float(np.median(lsd_db)), 3),
        "test_clips": len(test),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


if __name__ == "__main__":
    print(json.dumps(main()))
