"""A simulated crash for the resume tests."""

import keras


class StopAfter(keras.callbacks.Callback):
    """Raises ``KeyboardInterrupt`` once ``epochs`` epochs have finished."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise KeyboardInterrupt("simulated interruption")
