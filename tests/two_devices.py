"""Train the audio autoencoder and the GAN under ``MirroredStrategy`` on two logical CPUs.

    python tests/two_devices.py WORK_DIR

Run by ``tests/test_reliability.py`` in its own process: the CPU must be split before
TensorFlow starts. Uses the real builders and trainers of notebooks 02 and 03 in the ci
preset (a few epochs) and prints one JSON object: the replica count and each loss per epoch.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from helpers import config, datasets, features, runtime  # noqa: E402
from helpers.models import autoencoder, gan  # noqa: E402
from helpers.training import steps_per_epoch  # noqa: E402

EPOCHS = 4


def main(work_dir: Path) -> dict:
    chosen = runtime.strategy(["/cpu:0", "/cpu:1"])
    preset = config.load_preset("ci")
    preset = dataclasses.replace(
        preset,
        autoencoder=dataclasses.replace(preset.autoencoder, epochs=EPOCHS),
        gan=dataclasses.replace(preset.gan, epochs=EPOCHS),
    )
    paths = config.paths(preset)
    folder = features.ensure_features(paths, preset, "sample", announce=False)
    train, test = features.load_split(folder, "train"), features.load_split(folder, "test")
    stats = features.load_stats(folder, preset.front_end)
    images = datasets.image_set("digits", preset, paths).images
    latent_dim = preset.autoencoder.latent_dim
    with chosen.scope():
        batches = steps_per_epoch(len(train), preset.autoencoder.batch_size)
        vae = autoencoder.build_vae(
            train.spectrograms.shape[1:], stats, preset.autoencoder, batches, preset.seed
        )
        _, vae_history = autoencoder.train_audio_codec(vae, train, test, preset, work_dir / "autoencoder")
        model = gan.build_gan(latent_dim, images.shape[1:], preset.gan, seed=preset.seed)
        fixed_z = gan.sample_latents(4, latent_dim, preset.seed)
        gan_history = gan.train_gan(model, images, preset, work_dir / "gan", fixed_z)
    return {
        "replicas": chosen.num_replicas_in_sync,
        "autoencoder_loss": vae_history["loss"],
        "gan_latent_mse": gan_history["latent_mse"],
        "gan_d_loss": gan_history["d_loss"],
    }


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
