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

from helpers.artifacts import remember_recipe
from helpers.audio import NormStats, log_spectrogram, normalise
from helpers.config import FrontEnd
from helpers.models.classifier import compile_classifier


def frames_body(
    features: keras.KerasTensor, filters: tuple[int, ...], noise: float = 0.2
) -> keras.KerasTensor:
    """Features ``(bins, frames, 1)`` or ``(bins, frames)`` -> one vector per clip.

    Reads the frames as a sequence with the bins as channels (1-D convolutions over
    time, max-pooled), then pools over time, so a word said a little earlier or later
    sounds the same. Light input noise during training keeps it from leaning on the
    fine detail of the training voices. The listener and the paired models' audio
    embedders (``05_paired_generation.ipynb``) share it.
    """
    n_bins, n_frames = features.shape[1], features.shape[2]
    x = layers.Reshape((n_bins, n_frames))(features)
    x = layers.Permute((2, 1))(x)  # (frames, bins)
    x = layers.GaussianNoise(noise)(x)
    for i, width in enumerate(filters):
        x = layers.Conv1D(width, 5, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling1D(2)(x)
    return layers.GlobalMaxPooling1D()(x)


def listener_network(shape: list[int] | tuple[int, ...], n_classes: int = 10) -> keras.Model:
    """Normalised spectrogram ``(F, T, 1)`` -> digit logits, through ``frames_body`` (untrained,
    uncompiled: what a saved listener is rebuilt from)."""
    spectrogram = keras.Input(shape=tuple(shape), name="spectrogram")
    x = layers.Dropout(0.3)(frames_body(spectrogram, (64, 128, 128)))
    logits = layers.Dense(n_classes, name="logits")(x)
    model = keras.Model(spectrogram, logits, name="digit_listener")
    return remember_recipe(model, "listener", shape=list(shape), n_classes=int(n_classes))


def build_listener(input_shape: tuple[int, int, int], n_classes: int = 10, seed: int = 0) -> keras.Model:
    """``listener_network`` with weights drawn after seeding with ``seed``, compiled for training."""
    keras.utils.set_random_seed(seed)
    return compile_classifier(listener_network(input_shape, n_classes))


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
