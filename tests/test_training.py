"""The per-epoch checkpoint behind every resumable fit (``helpers.training.EpochCheckpoint``)."""

import keras
import numpy as np
import pytest

from helpers.errors import ArtifactError
from helpers.models.classifier import build_digit_classifier
from helpers.training import EpochCheckpoint

pytestmark = pytest.mark.floor

IMAGES = np.random.default_rng(0).random((16, 8, 8, 1)).astype(np.float32)
LABELS = np.arange(16) % 3


class Record(keras.callbacks.Callback):
    """Remembers the weights training starts from and the epochs run; raises after ``stop_after``."""

    def __init__(self, stop_after: int | None = None) -> None:
        super().__init__()
        self.stop_after, self.epochs = stop_after, []

    def on_train_begin(self, logs=None):
        self.start = [w.copy() for w in self.model.get_weights()]

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.stop_after:
            raise KeyboardInterrupt  # after the checkpoint, which comes first in the list


def fit(model, folder, epochs, record):
    model._initial_epoch = None
    model.fit(
        IMAGES, LABELS, batch_size=8, epochs=epochs, callbacks=[EpochCheckpoint(folder), record], verbose=0
    )


def test_a_run_cut_short_even_during_a_save_resumes_after_the_last_saved_epoch(tmp_path):
    folder = tmp_path / "backup"
    model = build_digit_classifier((8, 8, 1), 3, seed=0)
    with pytest.raises(KeyboardInterrupt):
        fit(model, folder, 3, Record(stop_after=2))
    saved = model.get_weights()
    # a kill while the third epoch's weights were being written leaves a partial file behind
    (folder / "writing-epoch-3.weights.h5").write_bytes(b"\x89HDF\r\n half a file")

    resumed = build_digit_classifier((8, 8, 1), 3, seed=1)  # other starting weights
    record = Record()
    fit(resumed, folder, 3, record)
    assert record.epochs == [2], "only the epoch that was never saved runs again"
    for start, kept in zip(record.start, saved, strict=True):
        np.testing.assert_array_equal(start, kept)
    assert int(resumed.optimizer.iterations.numpy()) == 3 * 2, "Adam's state came back with the weights"
    assert not folder.exists(), "a finished run removes its checkpoint"


def test_a_checkpoint_that_names_no_saved_epoch_is_an_error_naming_the_folder(tmp_path):
    folder = tmp_path / "backup"
    folder.mkdir()
    (folder / "state.json").write_text('{"epoch": 2, "weights": "epoch-2.weights.h5"}')
    with pytest.raises(ArtifactError, match=r"names no saved epoch.*delete .*backup"):
        fit(build_digit_classifier((8, 8, 1), 3, seed=0), folder, 3, Record())
