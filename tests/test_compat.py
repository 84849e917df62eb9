"""Saved models outlive a Keras release: what one supported version saves, every other loads.

CI runs these (``pytest -m floor``) a second time in an environment at the oldest versions
``requirements.txt`` allows (``requirements-floor.txt``). The shipped bundles were saved by a
newer Keras than that, and the fixture bundles by the floor's own Keras
(``tests/make_floor_bundles.py``), so both directions are crossed on every run. Each loaded
model is checked against the probe saved with it (its outputs for seeded inputs), so
"loads" here means "computes what it computed when it was saved".
"""

from pathlib import Path

import keras
import numpy as np
import pytest

from helpers import versions
from helpers.audio import load_clip
from helpers.models.autoencoder import load_audio_codec
from helpers.models.gan import load_image_model
from helpers.round_trip import load_bridge

ROOT = Path(__file__).resolve().parent.parent
FLOOR_BUNDLES = ROOT / "tests" / "fixtures" / "floor_bundles"

pytestmark = pytest.mark.floor


def test_the_shipped_models_load_and_compute_what_they_computed_when_saved():
    bridge = load_bridge(ROOT / "audio_model", ROOT / "image_model")  # every probe checked on load
    clip = load_clip(ROOT / "data" / "spoken_digits" / "7_engbtravis_0.flac", bridge.codec.front_end)
    z = bridge.codec.clips_to_latents(clip[None])
    assert z.shape == (1, bridge.codec.latent_dim) and np.all(np.isfinite(z))


def test_bundles_saved_by_the_oldest_supported_keras_load_here():
    floor = versions.floors(ROOT / "requirements.txt")["keras"]
    codec, audio_config = load_audio_codec(FLOOR_BUNDLES / "audio_model")
    models, image_config = load_image_model(FLOOR_BUNDLES / "image_model", codec.latent_dim)
    assert audio_config["keras_version"] == image_config["keras_version"] == floor, (
        "the fixture bundles must come from the floor's Keras: rerun tests/make_floor_bundles.py there"
    )
    assert codec.listener is not None and {"generator", "encoder", "judge", "feature_judge"} <= set(models)
    assert models["generator"].output_shape[1:] == (8, 8, 1)


def test_a_model_read_wrongly_by_some_keras_would_be_caught(tmp_path, monkeypatch):
    """What the probes guard against: a Keras that loads weights without error but into the wrong
    places. Loading is made to skip one layer's weights here; the load must fail, not go on."""
    import shutil

    from helpers.errors import ArtifactError

    folder = tmp_path / "image_model"
    shutil.copytree(FLOOR_BUNDLES / "image_model", folder)
    load_weights = keras.Model.load_weights

    def load_all_but_the_last_layer(model, path, *args, **kwargs):
        load_weights(model, path, *args, **kwargs)
        last = [layer for layer in model.layers if layer.weights][-1]
        last.set_weights([np.zeros_like(w) for w in last.get_weights()])

    monkeypatch.setattr(keras.Model, "load_weights", load_all_but_the_last_layer)
    with pytest.raises(ArtifactError, match="computes other outputs"):
        load_image_model(folder)
