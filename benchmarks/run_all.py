"""Run every benchmark and write one results file with a Markdown table beside it.

    python benchmarks/run_all.py                      # train and measure everything
    python benchmarks/run_all.py --no-train           # measure the saved models; skip what has none
    python benchmarks/run_all.py --only round_trip    # rerun some; the others keep their last result

Honours A2I_PRESET, A2I_AUDIO_SOURCE, A2I_IMAGE_SOURCE and A2I_ARTIFACTS exactly as each
benchmark does (each runs in its own process). Writes ``<preset>-<source>.json`` and
``<preset>-<source>.md`` into ``--out`` (default: ``benchmarks/results`` of the artifacts
root, so ``outputs/ci/benchmarks/results`` for the ci preset): every benchmark's JSON, its
command and wall seconds, the machine (CPU count, TensorFlow and Keras versions, GPUs) and
the date. Exits non-zero when a benchmark fails; the others are still written.

Demo preset on 2 CPU cores: about 30 minutes. Written to ``benchmarks/results/demo-sample.json``
(the demo preset on the default data and artifacts root), the tables also replace the
README's results section (``scripts/update_readme.py`` does only that step);
``07_evaluation.ipynb`` draws them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from helpers import config
from helpers.artifacts import atomic_path, save_json
from helpers.results import (
    BENCHMARKS,
    DEMO_RESULTS,
    README,
    load_results,
    machine,
    now,
    readme_with_results,
    results_document,
    results_path,
    source_label,
)

ROOT = Path(__file__).resolve().parent.parent
# what --no-train measures instead of training
SAVED_MODELS = {"autoencoder": ("audio_model",), "projection": ("audio_model", "image_model")}
TRAIN_EVERY_RUN = ("paired", "tokens")  # keep no models, so have nothing to measure under --no-train


def skip_reason(name: str, no_train: bool, paths: config.Paths) -> str | None:
    """Why ``name`` cannot run now, or None. Only ``--no-train`` skips anything: it measures
    saved models, and the paired and token benchmarks save none (they train every run)."""
    if not no_train:
        return None
    if name in TRAIN_EVERY_RUN:
        return "it trains its models on every run and keeps none to measure; run without --no-train"
    for folder in SAVED_MODELS.get(name, ()):
        if not (paths.root / folder / "config.json").is_file():
            return f"no saved {folder}/ under {paths.root}; run notebooks 02-03 or drop --no-train"
    return None


def run_benchmark(name: str, no_train: bool) -> dict:
    """Run ``benchmarks/<name>.py`` in a fresh process; its JSON, command, seconds and date,
    or the error it printed."""
    args = ["--no-train"] if no_train and name in SAVED_MODELS else []
    command = ["python", f"benchmarks/{name}.py", *args]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *command[1:]], cwd=ROOT, capture_output=True, text=True)
    entry = {"command": " ".join(command), "seconds": round(time.perf_counter() - start, 1), "date": now()}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        entry["error"] = done.stderr.strip()[-2000:] or f"exit status {done.returncode}, no output"
        return entry
    try:
        entry["result"] = json.loads(lines[-1])
    except json.JSONDecodeError:
        entry["error"] = f"the last line printed is not JSON: {lines[-1][:200]}"
    return entry


def main(only: list[str], no_train: bool, out: str | None) -> int:
    preset = config.load_preset()
    paths = config.paths(preset)
    audio, image = config.audio_source(), config.image_source()
    folder = Path(out) if out else paths.results
    path = results_path(folder, preset.name, source_label(audio, image))
    results = {"benchmarks": {}}
    if only != list(BENCHMARKS) and path.is_file():
        results = load_results(path)  # keep what is not rerun
    results.update(
        preset=preset.name,
        audio_source=audio,
        image_source=image,
        mode="no-train" if no_train else "train",
        date=now(),
        machine=machine(),
    )
    failed = []
    for name in only:
        reason = skip_reason(name, no_train, paths)
        if reason:
            print(f"{name}: skipped: {reason}", flush=True)
            results["benchmarks"][name] = {"skipped": reason, "date": now()}
            continue
        print(f"{name}: running ...", flush=True)
        entry = run_benchmark(name, no_train)
        results["benchmarks"][name] = entry
        if "error" in entry:
            failed.append(name)
            print(f"{name}: FAILED after {entry['seconds']:.0f} s:\n{entry['error']}", flush=True)
        else:
            print(f"{name}: done in {entry['seconds']:.0f} s", flush=True)
    results["benchmarks"] = {
        name: results["benchmarks"][name] for name in BENCHMARKS if name in results["benchmarks"]
    }
    save_json(path, results)
    with atomic_path(path.with_suffix(".md")) as tmp:
        tmp.write_text(results_document(results, path.stem))
    print(f"wrote {path} and {path.with_suffix('.md').name}")
    if path.resolve() == DEMO_RESULTS.resolve():  # the README's numbers come from this file
        README.write_text(readme_with_results(README.read_text(), path))
        print(f"rewrote the results section of {README}")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        nargs="+",
        default=list(BENCHMARKS),
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"benchmarks to run, of: {' '.join(BENCHMARKS)}",
    )
    parser.add_argument("--no-train", action="store_true", help="measure saved models instead of training")
    parser.add_argument("--out", metavar="DIR", help="where to write the results (default: see above)")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.exit(main(args.only, args.no_train, args.out))
