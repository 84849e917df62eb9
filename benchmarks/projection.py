"""Benchmark the image half: train the invertible GAN (or load it), then measure projection.

With labelled audio (notebook 02's model and notebook 01's features for the preset) and
labelled images, the GAN is trained as notebook 03 trains it, with the semantic code
(``semantic`` in the JSON says whether it was).

    python benchmarks/projection.py             # train with the preset's budget, then measure
    python benchmarks/projection.py --no-train  # measure the saved image_model/ instead

Honours A2I_PRESET, A2I_IMAGE_SOURCE and A2I_ARTIFACTS. Training checkpoints to a
temporary folder and never touches ``image_model/``. Prints one JSON object:
``evaluate_projection``'s summary, the one notebook 03 saves: recovery_rate, median_cos,
pixel_mse, ms_per_image, baseline_recovery_rate, baseline_ms_per_image, fd (mean of five
draws; fd_spread their standard deviation), fd_real_baseline, classifier_accuracy,
a2i_digit_acc (and each stage of the method alone, encoder_only_* and feedback_only_*),
with the projection settings, baseline_steps and train_seconds. Recovery is measured on
8-bit images of G(z) for z from the prior, and (audio_recovery_rate) for z = the test
clips' latents when audio_model/ and the preset's features exist.
Targets (demo, 2 cores): ``helpers.targets.TARGETS["projection"]``, which the README's results
tables judge this JSON by. Each method's time is the fastest of
``TIMING_REPEATS`` runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path

from helpers import config, datasets
from helpers.models.classifier import train_image_judge
from helpers.models.gan import (
    build_gan,
    expected_latent_dim,
    load_image_model,
    sample_latents,
    train_gan,
)
from helpers.models.semantic import train_semantic_parts
from helpers.projection import train_inversion_encoder
from helpers.projection_eval import clip_latents, evaluate_projection

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

    report = evaluate_projection(
        generator, encoder, judge, preset, train.images, test.images, test.labels, audio_test, TIMING_REPEATS
    )
    return {
        "preset": preset.name,
        "source": source,
        "latent_dim": latent_dim,
        "semantic": semantic,
        "eval_images": cfg.eval_images,
        **{key: _rounded(value) for key, value in report.summary().items()},
        **dataclasses.asdict(cfg.projection),
        "baseline_steps": cfg.baseline_steps,
        "timing_repeats": TIMING_REPEATS,
        "train_seconds": None if seconds is None else round(seconds, 1),
    }


def _rounded(value):
    """A measure as the JSON shows it: four decimals, or six for a small one (pixel MSE)."""
    if not isinstance(value, float):
        return value
    return round(value, 6 if abs(value) < 0.01 else 4)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Train or load the invertible GAN and measure projection.")
    parser.add_argument("--no-train", action="store_true", help="measure the saved image_model/")
    print(json.dumps(main(parser.parse_args().no_train)))
