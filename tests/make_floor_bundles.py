"""Write the bundles that ``tests/test_compat.py`` loads: saved at the oldest supported Keras.

    python tests/make_floor_bundles.py    # in an environment made from requirements-floor.txt

Untrained ci-size models (seeded weights; the probes saved with them pin what they compute),
one of every kind a bundle may hold, saved as an audio bundle and an image bundle under
``tests/fixtures/floor_bundles/``. Rerun it there whenever the floor moves: the test checks
the bundles were written by the floor's Keras.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import keras
import numpy as np

from helpers import versions
from helpers.audio import NormStats
from helpers.config import GanConfig, load_preset
from helpers.models.autoencoder import AudioCodec, build_decoder, build_encoder, save_audio_codec
from helpers.models.classifier import classifier_network, feature_autoencoder_network
from helpers.models.gan import build_generator, build_latent_encoder, save_image_model
from helpers.models.listener import listener_network

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "tests" / "fixtures" / "floor_bundles"
IMAGE_SHAPE = (8, 8, 1)  # the smallest image the generator makes: small files
EXTRA = {"preset": "ci", "made_by": "tests/make_floor_bundles.py"}


def main() -> None:
    floor = versions.floors(ROOT / "requirements.txt")["keras"]
    if keras.__version__ != floor:
        raise SystemExit(f"run this with Keras {floor} (requirements-floor.txt), not {keras.__version__}")
    preset = load_preset("ci")
    front_end, config = preset.front_end, preset.autoencoder
    shape = (front_end.n_freq, front_end.n_frames, 1)
    keras.utils.set_random_seed(0)
    stats = NormStats(np.linspace(-50.0, -40.0, front_end.n_freq), np.linspace(10.0, 20.0, front_end.n_freq))
    codec = AudioCodec(
        build_encoder(shape, stats, config),
        build_decoder(shape, stats, config, front_end.db_floor),
        stats,
        None,
        front_end,
        listener_network(shape),
    )
    shutil.rmtree(FOLDER, ignore_errors=True)
    save_audio_codec(
        FOLDER / "audio_model", codec, {"preset": "ci", "made_by": "tests/make_floor_bundles.py"}
    )
    gan = GanConfig(generator_width=16, discriminator_width=8, encoder_units=16)
    models = {
        "generator": build_generator(config.latent_dim, IMAGE_SHAPE, gan),
        "encoder": build_latent_encoder(IMAGE_SHAPE, config.latent_dim, gan),
        "judge": classifier_network(IMAGE_SHAPE),
        "feature_judge": feature_autoencoder_network(IMAGE_SHAPE),
    }
    save_image_model(
        FOLDER / "image_model", models, {"preset": "ci", "made_by": "tests/make_floor_bundles.py"}
    )
    print(f"wrote {FOLDER} with Keras {keras.__version__}")


if __name__ == "__main__":
    main()
