"""The bridge that joins the two models, and the measurements of the round trip."""

import dataclasses

import numpy as np
import pytest

from helpers import config
from helpers.config import REPO_ROOT, Paths
from helpers.images import jpeg_round_trip
from helpers.projection import project_images
from helpers.round_trip import load_bridge, model_folders
from helpers.round_trip_eval import evaluate_round_trip

PRESET = config.load_preset("ci")
FRONT_END = PRESET.front_end


def clips(n: int = 6) -> np.ndarray:
    t = np.arange(FRONT_END.clip_samples) / FRONT_END.sample_rate
    return np.stack([0.3 * np.sin(2 * np.pi * (200 + 60 * i) * t) for i in range(n)]).astype(np.float32)


def test_the_bridge_goes_both_ways_with_the_right_shapes(tiny_models):
    bridge = load_bridge(tiny_models / "audio_model", tiny_models / "image_model")
    assert bridge.gl_iterations == PRESET.gl_iterations  # the audio model's preset (ci)
    defaults = config.ProjectionSettings()
    assert bridge.projection.refine_steps == 2  # saved
    assert (bridge.projection.polish_steps, bridge.projection.feedback_steps) == (
        defaults.polish_steps,
        defaults.feedback_steps,
    )  # not saved by this older config: the defaults
    images = bridge.clips_to_images(clips())
    assert images.shape == (6, 32, 32, 1) and images.min() >= 0.0 and images.max() <= 1.0
    back = bridge.images_to_clips(images)
    assert back.shape == (6, FRONT_END.clip_samples) and np.isfinite(back).all()
    # the saved projection settings, every stage included, are the ones used; on JPEG images,
    # which two steps do not fit, so that the later stages have work to do
    damaged = jpeg_round_trip(images, 50)
    expected = project_images(
        damaged, bridge.generator, bridge.inversion_encoder, 2, 1, 1e-3, polish_steps=defaults.polish_steps,
        tolerance=1e-6, feedback_steps=defaults.feedback_steps, lowpass_steps=defaults.lowpass_steps,
        lowpass_pixel_weight=defaults.lowpass_pixel_weight,
    )  # fmt: skip
    bridge.projection = dataclasses.replace(bridge.projection, fit_tolerance=1e-6)  # every image refined
    np.testing.assert_allclose(bridge.images_to_latents(damaged), expected, atol=1e-5)
    unpolished = project_images(
        damaged, bridge.generator, bridge.inversion_encoder, 2, 1, 1e-3, tolerance=1e-6,
        feedback_steps=defaults.feedback_steps, lowpass_steps=defaults.lowpass_steps,
        lowpass_pixel_weight=defaults.lowpass_pixel_weight,
    )  # fmt: skip
    assert np.abs(expected - unpolished).max() > 1e-4
    with pytest.raises(ValueError, match="expected images of shape"):
        bridge.images_to_latents(np.zeros((1, 16, 16, 1), np.float32))


def test_each_model_folder_falls_back_to_the_shipped_one_on_its_own(tmp_path, tiny_models):
    assert model_folders(Paths(tmp_path, tmp_path)) == (REPO_ROOT / "audio_model", REPO_ROOT / "image_model")
    assert model_folders(Paths(tiny_models, tmp_path)) == (
        tiny_models / "audio_model",
        tiny_models / "image_model",
    )


def test_evaluation_reports_every_benchmark_key_and_repeats_exactly(tiny_models):
    bridge = load_bridge(tiny_models / "audio_model", tiny_models / "image_model")
    digits = np.array([0, 1, 2, 3, 4, -1])
    first = evaluate_round_trip(bridge, clips(), digits, seed=1, damages=False)
    keys = ("clips", "gl_sc_db", "ae_sc_db", "rt_sc_db", "rt_jpeg75_sc_db", "ae_lsd_db", "rt_lsd_db")
    keys += ("ae_stoi", "rt_stoi", "latent_cos_median", "digit_acc_original", "digit_acc_ae", "digit_acc_rt")
    keys += ("ms_per_clip_audio_to_image", "ms_per_clip_image_to_audio", "digit_acc_rt_jpeg75")
    damages = ("png", "jpeg90", "jpeg75", "jpeg50", "resize75", "upscale8", "noise02")
    keys += tuple(f"rt_{name}_sc_db" for name in damages)
    assert set(keys) <= set(first.summary)
    assert first.summary["clips"] == 6 and first.summary["rt_jpeg75_sc_db"] is None  # no damages asked for
    assert first.summary["digit_acc_original"] is None  # the tiny audio model has no listener
    assert [row["path"] for row in first.table()] == ["floor", "ae", "png"]
    assert first.summary["gl_sc_db"] < first.summary["ae_sc_db"]
    assert -1.0 <= first.summary["latent_cos_median"] <= 1.0
    second = evaluate_round_trip(bridge, clips(), digits, seed=1, damages=False)
    for key in keys:
        if not key.startswith("ms_"):
            assert first.summary[key] == second.summary[key], key
