"""Benchmark the image half: train the invertible GAN (or load it), then measure projection.

With labelled audio (notebook 02's model and notebook 01's features for the preset) and
labelled images, the GAN is trained as notebook 03 trains it, with the semantic code
(``semantic`` in the JSON says whether it was).

    python benchmarks/projection.py             # train with the preset's budget, then measure
    python benchmarks/projection.py --no-train  # measure the saved image_model/ instead

Honours A2I_PRESET, A2I_IMAGE_SOURCE and A2I_ARTIFACTS. Training checkpoints to a
temporary folder and never touches ``image_model/``. Prints one JSON object:
recovery_rate, median_cos, pixel_mse, ms_per_image, baseline_steps,
baseline_recovery_rate, baseline_ms_per_image, fd (mean of five draws; fd_spread their
standard deviation), fd_real_baseline,
classifier_accuracy, train_seconds (and a few more: each stage of the method alone,
encoder_only_* and feedback_only_*). Recovery is measured on 8-bit images of G(z) for z
from the prior, and (audio_recovery_rate) for z = the test clips' latents when
audio_model/ and the preset's features exist.
Targets (demo, 2 cores): recovery_rate and audio_recovery_rate >= 0.99; ms_per_image <= 20;
>= 10x faster than the baseline at an equal or better recovery rate; fd <= 2 x
fd_real_baseline; GAN training < 10 min. Each method's time is the fastest of ``TIMING_REPEATS`` runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from helpers import config, datasets
from helpers.models.classifier import train_image_judge
from helpers.models.gan import (
    build_gan,
    expected_latent_dim,
    generate,
    load_image_model,
    sample_latents,
    train_gan,
)
from helpers.models.semantic import train_semantic_parts
from helpers.projection import stopped_after, train_inversion_encoder
from helpers.projection_eval import (
    as_png,
    baseline_projector,
    classifier_accuracy,
    clip_latents,
    image_quality,
    learned_projector,
    timed_projection,
)

TIMING_REPEATS = 3  # projections timed per method; the fastest counts (both methods alike)


def main(no_train: bool) -> dict:
    preset = config.load_preset()
    paths = config.paths(preset)
    source = config.image_source()
    cfg = preset.gan
    image_set = datasets.image_set(source, preset, paths)
    train_index, test_index = datasets.split_images(image_set.labels, preset.test_fraction, preset.seed)
    train, test = image_set.subset(train_index), image_set.subset(test_index)
    latent_dim = expected_latent_dim(preset, paths.audio_model)
    audio_test = clip_latents(preset, paths, latent_dim, "test")

    if no_train:
        models, saved = load_image_model(paths.image_model, latent_dim, train.images.shape[1:])
        generator, encoder, judge = models["generator"], models["encoder"], models["judge"]
        seconds, semantic = saved.get("train_seconds"), bool(saved.get("semantic"))
    else:
        audio_train = clip_latents(preset, paths, latent_dim, "train")
        work_dir = Path(tempfile.mkdtemp(prefix="a2i-gan-"))
        try:
            start = time.perf_counter()
            parts = train_semantic_parts(
                None if audio_train is None else audio_train.latents,
                None if audio_train is None else audio_train.digits,
                train.images,
                train.labels,
                cfg,
                preset.seed,
            )
            semantic = parts is not None
            head, fidelity = (parts.head, parts.fidelity) if semantic else (None, None)
            gan = build_gan(
                latent_dim,
                train.images.shape[1:],
                cfg,
                seed=preset.seed,
                head=head,
                fidelity_classifier=fidelity,
            )
            train_gan(gan, train.images, preset, work_dir, sample_latents(16, latent_dim, preset.seed))
            seconds = time.perf_counter() - start
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)
        generator = gan.generator
        encoder, _ = train_inversion_encoder(
            generator,
            gan.encoder,
            cfg.inversion_steps,
            cfg.inversion_batch_size,
            cfg.inversion_learning_rate,
            seed=preset.seed,
        )
        judge = train_image_judge(train.images, train.labels, cfg.classifier_epochs, seed=preset.seed)

    z = sample_latents(cfg.eval_images, latent_dim, preset.seed + 1)
    images = as_png(generate(generator, z))
    stages = {
        stage: timed_projection(
            learned_projector(generator, encoder, stopped_after(cfg, stage)), images, z, TIMING_REPEATS
        )
        for stage in ("encoder", "feedback")
    }
    learned = timed_projection(learned_projector(generator, encoder, cfg), images, z, TIMING_REPEATS)
    n_baseline = min(len(z), 256)
    baseline = timed_projection(
        baseline_projector(generator, preset), images[:n_baseline], z[:n_baseline], TIMING_REPEATS
    )
    pixel_mse = float(np.mean((generate(generator, learned.z_hat) - images) ** 2))
    z_audio = None if audio_test is None else audio_test.latents
    audio = None if z_audio is None else timed_projection(
        learned_projector(generator, encoder, cfg), as_png(generate(generator, z_audio)), z_audio
    )  # fmt: skip
    quality = image_quality(generator, judge, train.images, test.images, preset.seed + 2)
    return {
        "preset": preset.name,
        "source": source,
        "latent_dim": latent_dim,
        "semantic": semantic,
        "eval_images": len(z),
        "recovery_rate": round(float(np.mean(learned.cos >= 0.99)), 4),
        "median_cos": round(float(np.median(learned.cos)), 4),
        "audio_recovery_rate": None if audio is None else round(float(np.mean(audio.cos >= 0.99)), 4),
        "audio_median_cos": None if audio is None else round(float(np.median(audio.cos)), 4),
        **{
            f"{stage}_only_{key}": value
            for stage, run in stages.items()
            for key, value in (
                ("recovery_rate", round(float(np.mean(run.cos >= 0.99)), 4)),
                ("median_cos", round(float(np.median(run.cos)), 4)),
                ("ms_per_image", round(run.ms_per_image, 2)),
            )
        },
        "pixel_mse": round(pixel_mse, 6),
        "ms_per_image": round(learned.ms_per_image, 2),
        "feedback_steps": cfg.feedback_steps,
        "fit_tolerance": cfg.fit_tolerance,
        "refine_steps": cfg.refine_steps,
        "jacobian_updates": cfg.jacobian_updates,
        "polish_steps": cfg.polish_steps,
        "baseline_steps": cfg.baseline_steps,
        "baseline_recovery_rate": round(float(np.mean(baseline.cos >= 0.99)), 4),
        "baseline_median_cos": round(float(np.median(baseline.cos)), 4),
        "baseline_ms_per_image": round(baseline.ms_per_image, 2),
        "speedup": round(baseline.ms_per_image / learned.ms_per_image, 1),
        "timing_repeats": TIMING_REPEATS,
        "fd": round(quality["fd"], 3),
        "fd_spread": round(quality["fd_spread"], 3),
        "fd_real_baseline": round(quality["fd_real_baseline"], 3),
        "classifier_accuracy": classifier_accuracy(judge, test.images, test.labels),
        "train_seconds": None if seconds is None else round(seconds, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train or load the invertible GAN and measure projection.")
    parser.add_argument("--no-train", action="store_true", help="measure the saved image_model/")
    print(json.dumps(main(parser.parse_args().no_train)))
