"""A small digit classifier on images: the judge behind image-quality numbers.

Trained on real training images only. Its accuracy on real test images says how
good a judge it is; its penultimate layer gives the features on which the Fréchet
distance between real and generated images is computed (a digit-specific FID). A
folder without labels gets a small image autoencoder's bottleneck features instead.
Taught in ``03_gan_and_projection.ipynb``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from helpers.artifacts import remember_recipe

FEATURE_LAYER = "features"


def classifier_network(shape: list[int] | tuple[int, ...], n_classes: int = 10) -> keras.Model:
    """Image in [0, 1] -> class logits; the ``features`` layer (64 units) is the embedding
    (untrained, uncompiled: what a saved judge is rebuilt from)."""
    image = keras.Input(shape=tuple(shape), name="image")
    x = image
    for i, filters in enumerate((32, 64)):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{i}")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.3)(x)
    features = layers.Dense(64, activation="relu", name=FEATURE_LAYER)(x)
    logits = layers.Dense(n_classes, name="logits")(features)
    model = keras.Model(image, logits, name="digit_classifier")
    return remember_recipe(model, "digit_classifier", shape=list(shape), n_classes=int(n_classes))


def build_digit_classifier(
    image_shape: tuple[int, int, int], n_classes: int = 10, seed: int = 0
) -> keras.Model:
    """``classifier_network`` with weights drawn after seeding with ``seed``, compiled for training."""
    keras.utils.set_random_seed(seed)
    return compile_classifier(classifier_network(image_shape, n_classes))


def compile_classifier(model: keras.Model) -> keras.Model:
    """Compile a logits classifier the suite's way (Adam 1e-3, sparse cross-entropy, accuracy);
    the image judge here and the listener (``models/listener.py``) share it."""
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def feature_autoencoder_network(shape: list[int] | tuple[int, ...]) -> keras.Model:
    """For unlabelled folders: image -> 64-unit ``features`` bottleneck -> image (untrained,
    uncompiled: what a saved judge is rebuilt from)."""
    size, _, channels = shape
    image = keras.Input(shape=tuple(shape), name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(image)
    x = layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)
    features = layers.Dense(64, activation="relu", name=FEATURE_LAYER)(layers.Flatten()(x))
    x = layers.Dense((size // 4) ** 2 * 64, activation="relu")(features)
    x = layers.Reshape((size // 4, size // 4, 64))(x)
    x = layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu")(x)
    output = layers.Conv2DTranspose(channels, 3, strides=2, padding="same", activation="sigmoid")(x)
    model = keras.Model(image, output, name="feature_autoencoder")
    return remember_recipe(model, "feature_autoencoder", shape=list(shape))


def build_feature_autoencoder(image_shape: tuple[int, int, int], seed: int = 0) -> keras.Model:
    """``feature_autoencoder_network`` seeded with ``seed``, compiled to rebuild its pixels."""
    keras.utils.set_random_seed(seed)
    model = feature_autoencoder_network(image_shape)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    return model


def train_image_judge(
    images: np.ndarray, labels: np.ndarray, epochs: int, seed: int = 0, batch_size: int = 64
) -> keras.Model:
    """A classifier when every label is known (>= 0), else a feature autoencoder; trained on ``images``."""
    from helpers.training import make_dataset

    if np.all(labels >= 0):
        model = build_digit_classifier(images.shape[1:], int(labels.max()) + 1, seed)
        data = make_dataset((images, labels), batch_size, seed)
    else:
        model = build_feature_autoencoder(images.shape[1:], seed)
        data = make_dataset((images, images), batch_size, seed)
    model.fit(data, epochs=epochs, shuffle=False, verbose=0)  # the pipeline shuffles, seeded
    return model


def image_features(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The ``features`` layer's output for images in [0, 1]."""
    extractor = keras.Model(model.inputs, model.get_layer(FEATURE_LAYER).output)
    return extractor.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0)


def is_classifier(model: keras.Model) -> bool:
    """True for a digit classifier, False for the unlabelled-folder autoencoder fallback."""
    return model.name == "digit_classifier"


def classify(model: keras.Model, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Predicted digit per image (a classifier judge only)."""
    return model.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0).argmax(axis=1)


def classifier_accuracy(judge: keras.Model, images: np.ndarray, labels: np.ndarray) -> float | None:
    """Share of labelled images a digit classifier reads right; None for the feature autoencoder
    that stands in where the images have no labels, or when any label is unknown (-1).
    Taught in ``03_gan_and_projection.ipynb``; notebooks 04-06 score their images with it."""
    labels = np.asarray(labels)
    if not is_classifier(judge) or len(labels) == 0 or bool(np.any(labels < 0)):
        return None
    return float(np.mean(classify(judge, images) == labels))
