"""The semantic code: which digit a latent says, and what teaches a picture to show it.

Three small models join meaning to the invertible GAN of ``models/gan.py``:

* the **digit head** reads a digit from an audio latent ``z`` (a small network trained on
  the training clips' latents and labels, with noise added to ``z`` so it judges whole
  neighbourhoods, not points). The generator carries it, frozen, and draws the digit it
  reads, so the picture of a clip of "seven" shows a seven;
* the **fidelity classifier** reads the digit in an image. It is trained on the real
  training images only, with another architecture and seed than the judge that measures
  the bridge, and the generator pays its cross-entropy against the head's digit;
* the **prototypes** are each digit's mean training latent. A real drawing holds no code,
  so projection cannot fit it; the ``DrawingReader`` reads its digit with the fidelity
  classifier and answers with that digit's prototype, which the audio decoder renders as
  an average voice saying the digit.

Taught in ``03_gan_and_projection.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from keras import layers

from helpers.artifacts import remember_recipe
from helpers.config import GanConfig
from helpers.images import to_tanh_range

HEAD_NAME = "digit_head"  # the head's name inside a generator


def _head_branches(
    latent_dim: int, n_classes: int, config: GanConfig, noisy: bool
) -> tuple[keras.KerasTensor, list]:
    """The input ``z`` and the logits of ``head_count`` independent branches reading it; with
    ``noisy`` the training-time noise and dropout layers (which have no weights) are in."""
    z = keras.Input(shape=(latent_dim,), name="z")
    x = layers.Rescaling(1.0 / max(config.head_noise, 1.0), name="head_scale")(z)
    if noisy and config.head_noise > 0:
        x = layers.GaussianNoise(min(config.head_noise, 1.0), name="head_noise")(x)
    branches = []
    for k in range(config.head_count):
        h = x
        for i in range(2):
            h = layers.Dense(config.head_units, activation="relu", name=f"head{k}_{i}")(h)
            if noisy:
                h = layers.Dropout(0.3, name=f"head{k}_{i}_dropout")(h)
        branches.append(layers.Dense(n_classes, name=f"head{k}_logits")(h))
    return z, branches


@keras.saving.register_keras_serializable(package="a2i")
class MeanOfProbabilities(layers.Layer):
    """Logits whose softmax is the mean of the branches' softmaxes (an ensemble's vote)."""

    def call(self, branch_logits: list) -> keras.KerasTensor:
        probabilities = keras.ops.mean(keras.ops.stack([keras.ops.softmax(b) for b in branch_logits]), axis=0)
        return keras.ops.log(probabilities + 1e-7)


@keras.saving.register_keras_serializable(package="a2i")
class PriorBalance(layers.Layer):
    """Adds a fixed per-digit bias to the logits (a weight, not trained by gradients): set by
    ``balance_on_prior`` so that latents drawn from the prior are read as each digit equally often."""

    def build(self, input_shape: tuple) -> None:
        self.bias = self.add_weight(
            shape=(input_shape[-1],), initializer="zeros", trainable=False, name="bias"
        )

    def call(self, logits: keras.KerasTensor) -> keras.KerasTensor:
        return logits + self.bias


def digit_head_network(latent_dim: int, n_classes: int, config: GanConfig) -> keras.Model:
    """``z`` -> digit logits: ``head_count`` small networks (two ReLU layers of ``head_units``)
    whose votes are averaged (untrained), as the generator carries it: without the noise and
    dropout of training, so that the digit it reads never depends on Keras's training flag
    (a generator training would otherwise draw another digit than the one it is asked for).

    While it trains (``train_digit_head``), Gaussian noise of standard deviation
    ``head_noise`` is added to ``z`` (scaled down by that much first, since Keras's noise
    layer takes at most 1): a held-out voice lands near, not on, the training latents of its
    digit. The average of five networks varies less with the seed than one does.
    """
    z, branches = _head_branches(latent_dim, n_classes, config, noisy=False)
    logits = branches[0] if len(branches) == 1 else MeanOfProbabilities(name="digit_logits")(branches)
    return keras.Model(z, PriorBalance(name="prior_balance")(logits), name=HEAD_NAME)


def balance_on_prior(head: keras.Model, seed: int, samples: int = 20000, rounds: int = 300) -> np.ndarray:
    """Set the head's ``PriorBalance`` so that it reads each digit in about the same share of
    latents drawn from the prior ``N(0, I)`` (which the GAN trains on), and return the bias.

    The head learns where the training clips are, and the prior spreads wider: unbalanced,
    it read some digits twice as often as others there, so the generator drew a skewed mix
    of digits, and the Frechet distance of notebook 03 counted the skew as unrealism. The
    bias is found by lowering the logit of each digit read too often, in shrinking steps.
    """
    balance = head.get_layer("prior_balance")
    balance.set_weights([np.zeros(balance.get_weights()[0].shape, np.float32)])
    z = np.random.default_rng(seed).normal(size=(samples, int(head.input_shape[-1]))).astype(np.float32)
    logits = head.predict(z, batch_size=1024, verbose=0)
    n_classes = logits.shape[1]
    bias = np.zeros(n_classes)
    for step in range(rounds):
        share = np.bincount((logits + bias).argmax(axis=1), minlength=n_classes) / samples
        bias -= 0.5 * (0.99**step) * np.log(np.maximum(share, 1e-4) * n_classes)
    balance.set_weights([bias.astype(np.float32)])
    return bias


def train_digit_head(
    latents: np.ndarray, labels: np.ndarray, config: GanConfig, seed: int, batch_size: int = 64
) -> keras.Model:
    """A digit head trained on whitened training latents ``(n, d)`` and their digits ``(n,)``:
    each branch learns on its own (one cross-entropy per branch), the head averages them and
    is then balanced on the prior (``balance_on_prior``)."""
    from helpers.training import make_dataset

    keras.utils.set_random_seed(seed)
    n_classes = int(labels.max()) + 1
    z, branches = _head_branches(latents.shape[1], n_classes, config, noisy=True)
    trainer = keras.Model(z, branches)
    trainer.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True)] * len(branches),
    )
    labels = np.asarray(labels)
    data = make_dataset((np.asarray(latents, np.float32), labels), batch_size, seed)
    data = data.map(lambda x, y: (x, tuple([y] * len(branches))))
    trainer.fit(data, epochs=config.head_epochs, shuffle=False, verbose=0)
    head = digit_head_network(latents.shape[1], n_classes, config)
    head.set_weights([*trainer.get_weights(), np.zeros(n_classes, np.float32)])
    balance_on_prior(head, seed)
    return head


def read_digits(head: keras.Model, latents: np.ndarray) -> np.ndarray:
    """The digit ``(n,)`` a digit head reads in each latent ``(n, d)``."""
    return head.predict(np.asarray(latents, np.float32), verbose=0).argmax(axis=1)


def fidelity_classifier_network(image_shape: tuple[int, int, int] | list[int], n_classes: int) -> keras.Model:
    """Image in [-1, 1] -> digit logits: three stride-2 convolutions (LeakyReLU) and a dense
    layer; unlike the judge (``models/classifier.py``) no pooling, no dropout, another input range."""
    image = keras.Input(shape=image_shape, name="image")
    x = image
    for i, width in enumerate((32, 64, 128)):
        x = layers.Conv2D(width, 3, strides=2, padding="same", name=f"fid{i}")(x)
        x = layers.LeakyReLU(0.2)(x)
    logits = layers.Dense(n_classes, name="fid_logits")(layers.Flatten()(x))
    model = keras.Model(image, logits, name="fidelity_classifier")
    return remember_recipe(
        model, "fidelity_classifier", image_shape=list(image_shape), n_classes=int(n_classes)
    )


def train_fidelity_classifier(
    images: np.ndarray, labels: np.ndarray, epochs: int, seed: int, batch_size: int = 64
) -> keras.Model:
    """The fidelity classifier trained on real training images in [0, 1] and their digits,
    frozen afterwards (the generator learns from it; nothing trains it further)."""
    from helpers.training import make_dataset

    keras.utils.set_random_seed(seed)
    model = fidelity_classifier_network(images.shape[1:], int(labels.max()) + 1)
    _compile(model)
    model.fit(
        make_dataset((to_tanh_range(images), labels), batch_size, seed),
        epochs=epochs,
        shuffle=False,
        verbose=0,
    )
    model.trainable = False
    return model


def digit_prototypes(latents: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Each digit's mean latent ``(n_classes, d)``: what a drawing of that digit maps to."""
    latents = np.asarray(latents, np.float32)
    missing = [k for k in range(n_classes) if not np.any(labels == k)]
    if missing:
        raise ValueError(f"no training latent of digit(s) {missing}: each digit needs a prototype")
    return np.stack([latents[labels == k].mean(axis=0) for k in range(n_classes)])


@dataclass(frozen=True)
class DrawingReader:
    """Projection's answer for a drawing (``project_images``' fourth stage): the fidelity
    classifier reads its digit, and the digit's prototype latent is returned."""

    classifier: keras.Model  # images in [-1, 1] -> digit logits
    prototypes: np.ndarray  # (n_classes, d)

    def digits(self, images: np.ndarray) -> np.ndarray:
        """The digit ``(n,)`` seen in each image ``(n, h, w, c)`` in [0, 1]."""
        return self.classifier.predict(to_tanh_range(np.asarray(images, np.float32)), verbose=0).argmax(
            axis=1
        )

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Latents ``(n, d)``: the prototype of each image's digit."""
        return np.asarray(self.prototypes, np.float32)[self.digits(images)]


@dataclass(frozen=True)
class SemanticParts:
    """What the semantic code trains before the GAN (``train_semantic_parts``)."""

    head: keras.Model  # z -> digit logits, carried frozen by the generator
    fidelity: keras.Model  # image -> digit logits, the generator's teacher
    prototypes: np.ndarray  # (n_classes, d): each digit's mean training latent

    @property
    def reader(self) -> DrawingReader:
        return DrawingReader(self.fidelity, self.prototypes)


def train_semantic_parts(
    latents: np.ndarray | None,
    digits: np.ndarray | None,
    images: np.ndarray,
    labels: np.ndarray,
    config: GanConfig,
    seed: int,
) -> SemanticParts | None:
    """The digit head (on training latents ``(n, d)`` and their ``digits``), the fidelity
    classifier (on training ``images`` in [0, 1] and their ``labels``, another seed) and the
    prototypes; None when the semantic code is off: ``config.semantic`` is False, or either
    side lacks labels, or the two sides' digits differ."""
    usable = (
        config.semantic
        and latents is not None
        and has_labels(digits)
        and has_labels(labels)
        and set(np.unique(digits).tolist()) == set(np.unique(labels).tolist())
        and set(np.unique(labels).tolist()) == set(range(int(np.max(labels)) + 1))
    )
    if not usable:
        return None
    head = train_digit_head(latents, digits, config, seed)
    fidelity = train_fidelity_classifier(images, labels, config.classifier_epochs, seed + 7)
    return SemanticParts(head, fidelity, digit_prototypes(latents, digits, int(head.output_shape[-1])))


def has_labels(labels: np.ndarray | None) -> bool:
    """Whether every item's label is known (folders without labels use -1)."""
    return labels is not None and len(labels) > 0 and bool(np.all(np.asarray(labels) >= 0))


def _compile(model: keras.Model) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
