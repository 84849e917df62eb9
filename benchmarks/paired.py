"""Benchmark the paired audio -> image models: train each on the same pairs, measure on held-out voices.

    python benchmarks/paired.py                        # the six models
    python benchmarks/paired.py --models cvae mfcc     # a choice (the references too:
                                                       #   cgan_blind, wgan_gp_uncond)
    python benchmarks/paired.py --partnering fixed     # one fixed image per clip instead

Honours A2I_PRESET, A2I_AUDIO_SOURCE, A2I_IMAGE_SOURCE and A2I_ARTIFACTS (features are
built first if missing). Training checkpoints to a temporary folder. Prints one JSON
object keyed by model: digit_acc (the image judge reads the spoken digit in the image),
ssim and hist_sim (against the clip's paired test image), diversity (None without
noise), fd and fd_real_baseline (judge features), train_seconds; and under "all": the
judge's accuracy on real test images, the total training seconds, the best model.
Targets (demo, 2 cores): ``helpers.targets.TARGETS["paired"]``, which the README's results
tables judge this JSON by. Every model should read well above chance (0.10).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from helpers import config
from helpers.artifacts import rounded
from helpers.models.classifier import classifier_accuracy, train_image_judge
from helpers.models.paired import MODELS, REFERENCES
from helpers.paired_data import PARTNERINGS, load_paired_data
from helpers.paired_eval import run_paired_model


def main(models: list[str], partnering: str) -> dict:
    preset = config.load_preset()
    paths = config.paths(preset)
    data = load_paired_data(paths, preset, config.audio_source(), config.image_source(), announce=False)
    judge = train_image_judge(
        data.train_images.images, data.train_images.labels, preset.paired.classifier_epochs, preset.seed
    )
    results = {}
    scratch = Path(tempfile.mkdtemp(prefix="a2i-paired-bench-"))
    try:
        for name in models:
            run = run_paired_model(name, data, judge, preset, scratch / name, partnering)
            results[name] = rounded(run.report.summary)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    scored = {name: row["digit_acc"] for name, row in results.items() if row["digit_acc"] is not None}
    results["all"] = {
        "preset": preset.name,
        "partnering": partnering,
        "test_clips": len(data.test),
        "judge_accuracy": classifier_accuracy(judge, data.test_images.images, data.test_images.labels),
        "train_seconds_total": round(sum(results[name]["train_seconds"] for name in models), 1),
        "best_model": max(scored, key=scored.get) if scored else None,
    }
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS + REFERENCES)
    parser.add_argument("--partnering", default="fresh", choices=PARTNERINGS)
    args = parser.parse_args()
    print(json.dumps(main(args.models, args.partnering)))
