"""Train the audio autoencoder or the GAN in the ci preset, optionally dying by SIGKILL.

    python tests/kill_and_resume.py autoencoder|gan WORK_DIR [KILL_AFTER_EPOCHS]

Run by ``tests/test_reliability.py``: the process kills itself with SIGKILL (no cleanup, no
exception handlers, as the kernel would) right after the given number of epochs has been
checkpointed; run again with the same WORK_DIR it must resume. Prints one JSON object:
the epochs this process ran and the last value of every logged loss.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys

import keras

from helpers import config, datasets, features
from helpers.models import autoencoder, gan
from helpers.training import steps_per_epoch

EPOCHS = 3


class Record(keras.callbacks.Callback):
    """Remembers the epochs run in this process; SIGKILLs it after ``kill_after`` epochs."""

    def __init__(self, kill_after: int | None) -> None:
        super().__init__()
        self.kill_after, self.epochs = kill_after, []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if self.kill_after is not None and epoch + 1 == self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)  # after the checkpoint: callbacks run in order


def with_callback(fit, record: Record):
    """``fit_resumable`` with ``record`` appended to its callbacks (after the checkpoint's)."""

    def fit_and_record(*args, callbacks=None, **kwargs):
        return fit(*args, callbacks=[*(callbacks or []), record], **kwargs)

    return fit_and_record


def main(model: str, work_dir: str, kill_after: int | None) -> dict:
    preset = config.load_preset("ci")
    paths = config.paths(preset)
    record = Record(kill_after)
    if model == "autoencoder":
        preset = dataclasses.replace(
            preset, autoencoder=dataclasses.replace(preset.autoencoder, epochs=EPOCHS)
        )
        folder = features.ensure_features(paths, preset, "sample", announce=False)
        train, test = features.load_split(folder, "train"), features.load_split(folder, "test")
        stats = features.load_stats(folder, preset.front_end)
        batches = steps_per_epoch(len(train), preset.autoencoder.batch_size)
        vae = autoencoder.build_vae(
            train.spectrograms.shape[1:], stats, preset.autoencoder, batches, preset.seed
        )
        autoencoder.fit_resumable = with_callback(autoencoder.fit_resumable, record)
        _, history = autoencoder.train_audio_codec(vae, train, test, preset, work_dir)
    else:
        preset = dataclasses.replace(preset, gan=dataclasses.replace(preset.gan, epochs=EPOCHS))
        images = datasets.image_set("digits", preset, paths).images
        latent_dim = preset.autoencoder.latent_dim
        model_ = gan.build_gan(latent_dim, images.shape[1:], preset.gan, seed=preset.seed)
        gan.fit_resumable = with_callback(gan.fit_resumable, record)
        history = gan.train_gan(
            model_, images, preset, work_dir, gan.sample_latents(4, latent_dim, preset.seed)
        )
    final = {key: values[-1] for key, values in history.items() if key != "epoch"}
    return {"epochs_run": record.epochs, "history_epochs": history["epoch"], "final": final}


if __name__ == "__main__":
    kill = int(sys.argv[3]) if len(sys.argv) > 3 else None
    print(json.dumps(main(sys.argv[1], sys.argv[2], kill)))
