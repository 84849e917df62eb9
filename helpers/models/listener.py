"""A spoken-digit classifier on spectrograms: the listener behind intelligibility numbers.

Trained on the training voices' normalised spectrograms only, it hears audio the way
the rest of the suite does (dB spectrogram of the waveform), so scoring the original,
the autoencoder's and the round trip's waveforms measures how much of the word
survives each path. Trained and saved with the audio model in
``02_audio_autoencoder.ipynb``; used in ``04_round_trip.ipynb``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from helpers.audio import NormStats, log_spectrogram, normalise
from helpers.config import FrontEnd
from helpers.models.classifier import compile_classifier


def build_listener(input_shape: tuple[int, int, int], n_classes: int = 10, seed: int = 0) -> keras.Model:
    """Normalised spectrogram ``(F, T, 1)`` -> digit logits.

    Like the autoencoder it reads frames as a sequence with the frequency bins as
    channels (1-D convolutions over time), then pools over time, so a word said a
    little earlier or later sounds the same. Light input noise during training keeps
    it from leaning on the fine detail of the training voices.
    """
    keras.utils.set_random_seed(seed)
    n_freq, n_frames, _ = input_shape
    spectrogram = keras.Input(shape=input_shape, name="spectrogram")
    x = layers.Reshape((n_freq, n_frames))(spectrogram)
    x = layers.Permute((2, 1))(x)  # (frames, frequency bins)
    x = layers.GaussianNoise(0.2)(x)
    for i, filters in enumerate((64, 128, 128)):
        x = layers.Conv1D(filters, 5, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling1D(2)(x)
    x = layers.GlobalMaxPooling1D()(x)
    x = layers.Dropout(0.3)(x)
    logits = layers.Dense(n_classes, name="logits")(x)
    return compile_classifier(keras.Model(spectrogram, logits, name="digit_listener"))


def train_listener(
    spectrograms: np.ndarray, digits: np.ndarray, epochs: int, seed: int = 0, batch_size: int = 32
) -> keras.Model | None:
    """A listener trained on labelled spectrograms ``(n, F, T, 1)``; ``None`` when no clip has a
    digit label (a folder of unnamed files), since there is nothing to learn then."""
    from helpers.training import make_dataset

    labelled = np.asarray(digits) >= 0
    if not labelled.any():
        return None
    model = build_listener(spectrograms.shape[1:], int(np.max(digits)) + 1, seed)
    data = make_dataset((spectrograms[labelled], np.asarray(digits)[labelled]), batch_size, seed)
    model.fit(data, epochs=epochs, shuffle=False, verbose=0)  # the pipeline shuffles, seeded
    return model


def hear_digits(
    listener: keras.Model, clips: np.ndarray, front_end: FrontEnd, stats: NormStats, batch_size: int = 128
) -> np.ndarray:
    """The digit the listener hears in each waveform of ``clips`` ``(n, samples)``."""
    spectrograms = normalise(log_spectrogram(clips, front_end), stats)[..., None]
    return listener.predict(spectrograms, batch_size=batch_size, verbose=0).argmax(axis=1)


def digit_accuracy(
    listener: keras.Model, clips: np.ndarray, digits: np.ndarray, front_end: FrontEnd, stats: NormStats
) -> float | None:
    """Share of labelled clips whose digit the listener hears; ``None`` when none is labelled."""
    digits = np.asarray(digits)
    labelled = digits >= 0
    if not labelled.any():
        return None
    heard = hear_digits(listener, np.asarray(clips)[labelled], front_end, stats)
    return float(np.mean(heard == digits[labelled]))
