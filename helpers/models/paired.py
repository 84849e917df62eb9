"""Paired audio -> image generators: a spoken digit becomes an image of that digit.

Six published designs, each rebuilt small from shared blocks and trained on the same
pairs (a clip and an image of its digit):

* ``cvae``: a conditional VAE; image encoder and decoder both read the audio embedding;
* ``vaegan``: the CVAE plus a discriminator that also reads the audio embedding;
* ``cgan``: noise + audio embedding -> image against a projection discriminator;
* ``wgan_gp``: the same with a Wasserstein critic and a gradient penalty;
* ``mfcc``: MFCCs encoded to a vector and upsampled to the image with a pixel loss;
* ``triplet``: a triplet-trained audio encoder, frozen, conditioning a DCGAN.

Two references show what conditioning buys: ``cgan_blind`` (the discriminator never
hears the audio, as in one published version) and ``wgan_gp_uncond`` (no audio at all).
Every model is a ``keras.Model`` with a custom ``train_step`` and a ``generate(audio,
seed)`` that returns images in [0, 1]; ``build_paired_model`` makes one by name and
``train_paired`` trains it resumably. Taught in ``05_paired_generation.ipynb``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from helpers.config import PairedConfig, Preset
from helpers.images import from_tanh_range
from helpers.models.gan import conv_body, upsample_to_image
from helpers.models.listener import frames_body
from helpers.paired_data import PairedData, paired_dataset
from helpers.runtime import replica_mean
from helpers.training import PrintEvery, fit_resumable, make_dataset

MODELS = ("cvae", "vaegan", "cgan", "wgan_gp", "mfcc", "triplet")  # the six compared
REFERENCES = ("cgan_blind", "wgan_gp_uncond")  # what each loses without the audio
FEATURE_OF = {name: "spectrogram" for name in MODELS + REFERENCES} | {"mfcc": "mfcc"}
AUDIO_FILTERS = (32, 64, 64)  # the audio readers' 1-D convolutions: half the listener's, ample for ten words


# --- shared blocks -------------------------------------------------------------------------


def build_audio_embedder(
    input_shape: tuple[int, ...], embed_dim: int, unit_length: bool = False, name: str = "audio_embedder"
) -> keras.Model:
    """Audio features ``(bins, frames, 1)`` -> embedding ``(embed_dim,)`` through the listener's
    ``frames_body``; ``unit_length`` puts it on the unit sphere (for the triplet loss)."""
    features = keras.Input(shape=input_shape, name="audio")
    x = frames_body(features, AUDIO_FILTERS)
    embedding = layers.Dense(embed_dim, name="embedding")(x)
    if unit_length:
        embedding = layers.UnitNormalization(name="unit")(embedding)
    return keras.Model(features, embedding, name=name)


def build_conditional_generator(
    noise_dim: int, embed_dim: int, image_shape: tuple[int, int, int], width: int
) -> keras.Model:
    """``[noise, embedding]`` -> image in [-1, 1]: the two joined, then ``upsample_to_image``
    (the invertible GAN's generator). ``embed_dim = 0`` gives an unconditional generator
    that takes ``noise`` alone."""
    noise = keras.Input(shape=(noise_dim,), name="noise")
    if embed_dim == 0:
        return keras.Model(noise, upsample_to_image(noise, image_shape, width), name="generator")
    embedding = keras.Input(shape=(embed_dim,), name="embedding")
    joined = layers.Concatenate()([noise, embedding])
    return keras.Model([noise, embedding], upsample_to_image(joined, image_shape, width), name="generator")


def build_critic(
    image_shape: tuple[int, int, int], embed_dim: int, width: int, conditioning: str
) -> keras.Model:
    """Image (and embedding) -> one score. ``conditioning``:

    * ``"projection"``: ``score = w . h + <V e, h>`` for image features ``h`` (Miyato and
      Koyama's projection discriminator): the embedding can only vouch for an image;
    * ``"concat"``: the embedding joined to the image features before a dense layer (the
      conditional DCGAN's way);
    * ``"none"``: the image alone.
    """
    image = keras.Input(shape=image_shape, name="image")
    features = conv_body(image, width, "down")
    if conditioning == "none":
        return keras.Model(image, layers.Dense(1, name="score")(features), name="critic")
    embedding = keras.Input(shape=(embed_dim,), name="embedding")
    if conditioning == "projection":
        unconditional = layers.Dense(1, name="score")(features)
        projected = layers.Dense(features.shape[-1], use_bias=False, name="project")(embedding)
        match = layers.Dot(axes=1, name="match")([projected, features])
        score = layers.Add()([unconditional, match])
    elif conditioning == "concat":
        x = layers.Dense(128, name="joint")(layers.Concatenate()([features, embedding]))
        score = layers.Dense(1, name="score")(layers.LeakyReLU(0.2)(x))
    else:
        raise ValueError(f"conditioning must be projection, concat or none, got {conditioning!r}")
    return keras.Model([image, embedding], score, name="critic")


def build_image_encoder(
    image_shape: tuple[int, int, int], embed_dim: int, latent_dim: int, width: int
) -> keras.Model:
    """The CVAE's ``q(z | image, audio)``: ``[image, embedding]`` -> ``[mean, log_var]``."""
    image = keras.Input(shape=image_shape, name="image")
    embedding = keras.Input(shape=(embed_dim,), name="embedding")
    x = layers.Concatenate()([conv_body(image, width, "enc"), embedding])
    x = layers.LeakyReLU(0.2)(layers.Dense(128, name="hidden")(x))
    mean = layers.Dense(latent_dim, name="mean")(x)
    log_var = layers.Dense(latent_dim, name="log_var")(x)
    return keras.Model([image, embedding], [mean, log_var], name="image_encoder")


def _split(data: tuple) -> tuple[tf.Tensor, tf.Tensor]:
    """``(audio, image)`` from a batch of pairs; images arrive in [0, 1] and train in [-1, 1]."""
    audio, image = data[0], data[1]
    return audio, tf.cast(image, tf.float32) * 2.0 - 1.0


def _apply(optimizer: keras.optimizers.Optimizer, tape: tf.GradientTape, loss: tf.Tensor, variables: list):
    gradients = replica_mean(tape.gradient(loss, variables))
    optimizer.apply_gradients(zip(gradients, variables, strict=True))


class PairedModel(keras.Model):
    """What every paired model shares: loss trackers, optimizers built up front, and
    ``generate`` in [0, 1]. A subclass says which variables its optimizers train."""

    has_noise = True  # False: one clip always gives the same image

    def __init__(self, tracked: tuple[str, ...], noise_dim: int, seed: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.noise_dim = noise_dim
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in tracked}

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    @property
    def feature(self) -> str:
        """Which audio features it reads: ``"spectrogram"`` or ``"mfcc"``."""
        return FEATURE_OF[self.name]

    def generator_variables(self) -> list:
        """What ``optimizer`` trains."""
        raise NotImplementedError

    def critic_variables(self) -> list:
        """What ``d_optimizer`` trains (none without a critic)."""
        return []

    def compile(
        self, optimizer: keras.optimizers.Optimizer, d_optimizer: keras.optimizers.Optimizer | None = None
    ) -> None:
        super().compile(optimizer=optimizer)
        self.d_optimizer = d_optimizer
        # built up front, so that a checkpoint (training.EpochCheckpoint) can restore their state
        optimizer.build(self.generator_variables())
        if self.critic_variables():
            d_optimizer.build(self.critic_variables())
        self.built = True

    def _report(self, values: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def _noise(self, batch: tf.Tensor) -> tf.Tensor:
        return keras.random.normal((batch, self.noise_dim), seed=self.seed_generator)

    def render(self, audio: tf.Tensor, noise: tf.Tensor) -> tf.Tensor:
        """Images in [-1, 1] for a batch of audio features and noise (inference mode)."""
        return self((audio, noise), training=False)

    def generate(self, audio: np.ndarray, seed: int, batch_size: int = 256) -> np.ndarray:
        """One image in [0, 1] per clip of ``audio``, the noise drawn from ``seed``."""
        audio = np.asarray(audio, np.float32)
        noise = np.random.default_rng(seed).standard_normal((len(audio), self.noise_dim)).astype(np.float32)
        images = [
            self.render(tf.constant(audio[i : i + batch_size]), tf.constant(noise[i : i + batch_size]))
            for i in range(0, len(audio), batch_size)
        ]
        return from_tanh_range(np.concatenate([np.asarray(im) for im in images]))


# --- 1 and 2: conditional VAE and VAE-GAN -----------------------------------------------------


class ConditionalVAE(PairedModel):
    """Encoder ``q(z | image, e)``, decoder ``p(image | z, e)``, audio embedder ``e(audio)``,
    all trained together on ``sum of squared pixel errors + kl_weight * KL``. At test time
    ``z`` comes from the prior and the clip's embedding says which digit to draw.

    With a ``critic`` (``vaegan``) the decoder is also a generator: a discriminator that
    reads the audio embedding (without training it) judges its reconstructions and prior
    samples, and the VAE pays ``adversarial_weight`` times the non-saturating GAN loss.
    Unlike Larsen et al.'s VAE/GAN, that term also reaches the encoder and the embedder
    (through the reconstructions and the embedding), and the discriminator's features
    do not replace the pixel loss.
    """

    def __init__(
        self,
        embedder: keras.Model,
        encoder: keras.Model,
        decoder: keras.Model,
        config: PairedConfig,
        critic: keras.Model | None = None,
        seed: int = 0,
        **kwargs,
    ) -> None:
        tracked = ("loss", "reconstruction", "kl") + (("d_loss", "g_adversarial") if critic else ())
        super().__init__(tracked, config.noise_dim, seed, **kwargs)
        self.embedder, self.encoder, self.decoder, self.critic = embedder, encoder, decoder, critic
        self.kl_weight = config.kl_weight
        self.adversarial_weight = config.adversarial_weight

    def call(self, inputs: tuple[tf.Tensor, tf.Tensor], training: bool = False) -> tf.Tensor:
        audio, noise = inputs
        return self.decoder([noise, self.embedder(audio, training=training)], training=training)

    def generator_variables(self) -> list:
        return [
            *self.embedder.trainable_variables,
            *self.encoder.trainable_variables,
            *self.decoder.trainable_variables,
        ]

    def critic_variables(self) -> list:
        return self.critic.trainable_variables if self.critic is not None else []

    def train_step(self, data: tuple) -> dict[str, tf.Tensor]:
        audio, image = _split(data)
        batch = tf.shape(image)[0]
        with tf.GradientTape(persistent=True) as tape:
            embedding = self.embedder(audio, training=True)
            mean, log_var = self.encoder([image, embedding], training=True)
            z = mean + tf.exp(0.5 * log_var) * self._noise(batch)
            rebuilt = self.decoder([z, embedding], training=True)
            reconstruction = tf.reduce_mean(tf.reduce_sum(tf.square(rebuilt - image), axis=[1, 2, 3]))
            kl = tf.reduce_mean(
                -0.5 * tf.reduce_sum(1.0 + log_var - tf.square(mean) - tf.exp(log_var), axis=1)
            )
            loss = reconstruction + self.kl_weight * kl
            values = {"loss": loss, "reconstruction": reconstruction, "kl": kl}
            if self.critic is not None:
                heard = tf.stop_gradient(embedding)
                sampled = self.decoder([self._noise(batch), embedding], training=True)
                real_score = self.critic([image, heard], training=True)
                fake_scores = [self.critic([fake, heard], training=True) for fake in (rebuilt, sampled)]
                d_loss = tf.reduce_mean(tf.nn.softplus(-real_score)) + 0.5 * sum(
                    tf.reduce_mean(tf.nn.softplus(score)) for score in fake_scores
                )
                g_adversarial = 0.5 * sum(tf.reduce_mean(tf.nn.softplus(-score)) for score in fake_scores)
                loss = loss + self.adversarial_weight * g_adversarial
                values |= {"loss": loss, "d_loss": d_loss, "g_adversarial": g_adversarial}
        _apply(self.optimizer, tape, loss, self.generator_variables())
        if self.critic is not None:
            _apply(self.d_optimizer, tape, d_loss, self.critic_variables())
        del tape
        return self._report(values)


# --- 3, 4 and 6: conditional GANs --------------------------------------------------------------


class ConditionalGAN(PairedModel):
    """Generator ``G(noise, e(audio))`` against a critic ``D(image, e)``, one ``train_step``.

    ``loss="logistic"``: the non-saturating GAN loss (DCGAN). ``loss="wgan_gp"``: a
    Wasserstein critic with a gradient penalty and ``critic_steps`` critic updates per
    generator update. A conditioned critic also sees real images paired with another
    clip's embedding as fakes (``mismatch_weight`` of its fake examples), so it must check
    that image and sound agree, not only that the image looks real.

    ``embedder_owner`` says who trains the audio embedder: ``"critic"`` (it learns what a
    matching pair is), ``"generator"`` (the only choice when the critic is deaf), or
    ``None`` (frozen, e.g. a triplet-trained encoder). ``embedder=None`` is the
    unconditional GAN.

    A conditional generator readily ignores its noise and draws one image per sound (the
    sound itself varies enough to fool the critic); ``mode_seeking`` adds Mao et al.'s
    term, ``mode_seeking_weight`` over how far two noises for one sound move the image.
    """

    def __init__(
        self,
        generator: keras.Model,
        critic: keras.Model,
        embedder: keras.Model | None,
        config: PairedConfig,
        loss: str = "logistic",
        embedder_owner: str | None = "critic",
        mode_seeking: bool = False,
        seed: int = 0,
        **kwargs,
    ) -> None:
        if loss not in ("logistic", "wgan_gp"):
            raise ValueError(f"loss must be logistic or wgan_gp, got {loss!r}")
        tracked = ("d_loss", "g_loss") + (("gradient_penalty",) if loss == "wgan_gp" else ())
        super().__init__(tracked, config.noise_dim, seed, **kwargs)
        self.generator, self.critic, self.embedder = generator, critic, embedder
        self.loss_kind, self.embedder_owner = loss, embedder_owner if embedder is not None else None
        self.critic_hears = isinstance(critic.input, list)
        self.mismatch_weight = config.mismatch_weight if self.critic_hears else 0.0
        self.critic_steps = config.critic_steps if loss == "wgan_gp" else 1
        self.gp_weight = config.gp_weight
        self.mode_seeking_weight = (
            config.mode_seeking_weight if mode_seeking and embedder is not None else 0.0
        )

    def _embed(self, audio: tf.Tensor, training: bool) -> tf.Tensor | None:
        if self.embedder is None:
            return None
        return self.embedder(audio, training=training and self.embedder_owner is not None)

    def _generate(self, noise: tf.Tensor, embedding: tf.Tensor | None, training: bool) -> tf.Tensor:
        inputs = noise if embedding is None else [noise, embedding]
        return self.generator(inputs, training=training)

    def _score(self, image: tf.Tensor, embedding: tf.Tensor | None) -> tf.Tensor:
        inputs = [image, embedding] if self.critic_hears else image
        return self.critic(inputs, training=True)

    def call(self, inputs: tuple[tf.Tensor, tf.Tensor], training: bool = False) -> tf.Tensor:
        audio, noise = inputs
        return self._generate(noise, self._embed(audio, training), training)

    def _owned(self, owner: str) -> list:
        """The embedder's variables if ``owner`` trains it, else none."""
        return self.embedder.trainable_variables if self.embedder_owner == owner else []

    def generator_variables(self) -> list:
        return self.generator.trainable_variables + self._owned("generator")

    def critic_variables(self) -> list:
        return self.critic.trainable_variables + self._owned("critic")

    def _critic_loss(self, real: tf.Tensor, fake: tf.Tensor, embedding: tf.Tensor | None):
        real_score = self._score(real, embedding)
        fake_score = self._score(fake, embedding)
        mismatch_score = self._score(real, tf.roll(embedding, 1, axis=0)) if self.mismatch_weight else None
        m = self.mismatch_weight
        if self.loss_kind == "logistic":
            loss = tf.reduce_mean(tf.nn.softplus(-real_score)) + (1 - m) * tf.reduce_mean(
                tf.nn.softplus(fake_score)
            )
            if m:
                loss += m * tf.reduce_mean(tf.nn.softplus(mismatch_score))
            return loss, tf.constant(0.0)
        loss = (1 - m) * tf.reduce_mean(fake_score) - tf.reduce_mean(real_score)
        if m:
            loss += m * tf.reduce_mean(mismatch_score)
        penalty = self._gradient_penalty(real, fake, embedding)
        return loss + self.gp_weight * penalty, penalty

    def _gradient_penalty(self, real: tf.Tensor, fake: tf.Tensor, embedding: tf.Tensor | None) -> tf.Tensor:
        """``(||grad_x D(x)|| - 1)^2`` at random points between real and fake images (WGAN-GP)."""
        alpha = keras.random.uniform((tf.shape(real)[0], 1, 1, 1), seed=self.seed_generator)
        between = real + alpha * (fake - real)
        with tf.GradientTape() as inner:
            inner.watch(between)
            # the embedding is not held fixed here: a critic that trains the embedder could
            # otherwise inflate it, and its scores, with nothing to stop it
            score = self._score(between, embedding)
        norm = tf.sqrt(tf.reduce_sum(tf.square(inner.gradient(score, between)), axis=[1, 2, 3]) + 1e-12)
        return tf.reduce_mean(tf.square(norm - 1.0))

    def train_step(self, data: tuple) -> dict[str, tf.Tensor]:
        audio, real = _split(data)
        batch = tf.shape(real)[0]
        d_variables = self.critic_variables()
        for _ in range(self.critic_steps):
            with tf.GradientTape() as tape:
                embedding = self._embed(audio, training=True)
                heard = None if embedding is None else tf.stop_gradient(embedding)
                fake = self._generate(self._noise(batch), heard, training=True)
                d_loss, penalty = self._critic_loss(real, tf.stop_gradient(fake), embedding)
            _apply(self.d_optimizer, tape, d_loss, d_variables)
        g_variables = self.generator_variables()
        with tf.GradientTape() as tape:
            embedding = self._embed(audio, training=True)
            if self.embedder_owner != "generator" and embedding is not None:
                embedding = tf.stop_gradient(embedding)
            noise = self._noise(batch)
            fake = self._generate(noise, embedding, training=True)
            fake_score = self._score(fake, embedding)
            if self.loss_kind == "logistic":
                g_loss = tf.reduce_mean(tf.nn.softplus(-fake_score))
            else:
                g_loss = -tf.reduce_mean(fake_score)
            loss = g_loss
            if self.mode_seeking_weight:
                # Mao et al.'s mode seeking: two noises for one sound must give two images
                other = self._noise(batch)
                spread = tf.reduce_mean(tf.abs(fake - self._generate(other, embedding, training=True)))
                spread /= tf.reduce_mean(tf.abs(noise - other))
                loss += self.mode_seeking_weight / (spread + 1e-5)
        _apply(self.optimizer, tape, loss, g_variables)
        values = {"d_loss": d_loss, "g_loss": g_loss}
        if self.loss_kind == "wgan_gp":
            values["gradient_penalty"] = penalty
        return self._report(values)


def batch_hard_triplet_loss(embeddings: tf.Tensor, labels: tf.Tensor, margin: float) -> tf.Tensor:
    """Mean over anchors of ``max(0, d(a, hardest positive) - d(a, hardest negative) + margin)``,
    the hardest ones picked within the batch (Hermans et al., "In defense of the triplet loss")."""
    labels = tf.reshape(labels, (-1,))
    squared = tf.reduce_sum(tf.square(embeddings[:, None, :] - embeddings[None, :, :]), axis=-1)
    distance = tf.sqrt(tf.maximum(squared, 1e-12))
    same = tf.equal(labels[:, None], labels[None, :])
    others = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
    positive = tf.cast(tf.logical_and(same, others), distance.dtype)
    hardest_positive = tf.reduce_max(distance * positive, axis=1)
    hardest_negative = tf.reduce_min(distance + 1e9 * tf.cast(same, distance.dtype), axis=1)
    return tf.reduce_mean(tf.nn.relu(hardest_positive - hardest_negative + margin))


class TripletEncoder(keras.Model):
    """Trains an audio embedder on ``(audio, digit)`` batches with ``batch_hard_triplet_loss``:
    clips of one digit close together, other digits at least ``margin`` further away."""

    def __init__(self, embedder: keras.Model, margin: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.embedder, self.margin = embedder, margin
        self.loss_tracker = keras.metrics.Mean(name="triplet_loss")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.loss_tracker]

    def call(self, audio: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.embedder(audio, training=training)

    def train_step(self, data: tuple) -> dict[str, tf.Tensor]:
        audio, digits = data[0], data[1]
        with tf.GradientTape() as tape:
            loss = batch_hard_triplet_loss(self.embedder(audio, training=True), digits, self.margin)
        _apply(self.optimizer, tape, loss, self.embedder.trainable_variables)
        self.loss_tracker.update_state(loss)
        return {"triplet_loss": self.loss_tracker.result()}


# --- 5: MFCC encoder -> generator ----------------------------------------------------------------


class MfccToImage(PairedModel):
    """MFCCs ``(n_mfcc, frames, 1)`` -> normalised per coefficient -> a vector -> image, trained
    with a pixel loss (mean absolute error) against the paired image. Deterministic: no noise."""

    has_noise = False

    def __init__(self, network: keras.Model, seed: int = 0, **kwargs) -> None:
        super().__init__(("pixel_l1",), 1, seed, **kwargs)
        self.network = network

    def generator_variables(self) -> list:
        return self.network.trainable_variables

    def call(self, audio: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.network(audio, training=training)

    def render(self, audio: tf.Tensor, noise: tf.Tensor) -> tf.Tensor:
        return self(audio, training=False)

    def train_step(self, data: tuple) -> dict[str, tf.Tensor]:
        audio, image = _split(data)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.abs(self.network(audio, training=True) - image))
        _apply(self.optimizer, tape, loss, self.generator_variables())
        return self._report({"pixel_l1": loss})


# --- builders -----------------------------------------------------------------------------------


def _gan_optimizer(config: PairedConfig, wasserstein: bool = False) -> keras.optimizers.Optimizer:
    # WGAN-GP's authors use beta_2 = 0.9; the DCGAN setting is beta_2 = 0.999
    return keras.optimizers.Adam(config.gan_learning_rate, beta_1=0.5, beta_2=0.9 if wasserstein else 0.999)


def build_paired_model(
    name: str,
    audio_shape: tuple[int, ...],
    image_shape: tuple[int, int, int],
    config: PairedConfig,
    seed: int = 0,
    mfcc_train: np.ndarray | None = None,
) -> PairedModel:
    """A compiled, untrained paired model by name (``MODELS`` or ``REFERENCES``).

    ``audio_shape`` is the shape of one clip's features (``FEATURE_OF[name]``);
    ``mfcc_train`` (training MFCCs) sets the ``mfcc`` model's normalisation.
    """
    keras.utils.set_random_seed(seed)
    cfg = config
    if name in ("cvae", "vaegan"):
        critic = None
        if name == "vaegan":
            critic = build_critic(image_shape, cfg.embed_dim, cfg.discriminator_width, "projection")
        model = ConditionalVAE(
            build_audio_embedder(audio_shape, cfg.embed_dim),
            build_image_encoder(image_shape, cfg.embed_dim, cfg.noise_dim, cfg.discriminator_width),
            build_conditional_generator(cfg.noise_dim, cfg.embed_dim, image_shape, cfg.generator_width),
            cfg,
            critic=critic,
            seed=seed,
            name=name,
        )
        model.compile(keras.optimizers.Adam(cfg.learning_rate), _gan_optimizer(cfg) if critic else None)
        return model
    if name == "mfcc":
        if mfcc_train is None:
            raise ValueError("the mfcc model needs mfcc_train, the training MFCCs, for its normalisation")
        features = keras.Input(shape=audio_shape, name="mfcc")
        norm = layers.Normalization(axis=1, name="per_coefficient")
        norm.adapt(np.asarray(mfcc_train, np.float32))
        x = frames_body(norm(features), AUDIO_FILTERS)
        x = layers.Dense(cfg.embed_dim + cfg.noise_dim, name="vector")(x)
        network = keras.Model(
            features, upsample_to_image(x, image_shape, cfg.generator_width), name="mfcc_net"
        )
        model = MfccToImage(network, seed=seed, name=name)
        model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate))
        return model
    gan_settings = {
        # name: (critic conditioning, loss, who trains the embedder, mode seeking)
        "cgan": ("projection", "logistic", "critic", True),
        "cgan_blind": ("none", "logistic", "generator", True),
        "wgan_gp": ("projection", "wgan_gp", "critic", True),
        "wgan_gp_uncond": ("none", "wgan_gp", None, False),
        # the published design has none, and with it the digit read right fell from 0.94 to 0.52
        "triplet": ("concat", "logistic", None, False),
    }
    if name not in gan_settings:
        raise ValueError(f"unknown paired model {name!r}: choose from {', '.join(MODELS + REFERENCES)}")
    conditioning, loss, owner, mode_seeking = gan_settings[name]
    if name == "wgan_gp_uncond":
        embedder, embed_dim = None, 0
    else:
        embedder = build_audio_embedder(audio_shape, cfg.embed_dim, unit_length=name == "triplet")
        embed_dim = cfg.embed_dim
    model = ConditionalGAN(
        build_conditional_generator(cfg.noise_dim, embed_dim, image_shape, cfg.generator_width),
        build_critic(image_shape, cfg.embed_dim, cfg.discriminator_width, conditioning),
        embedder,
        cfg,
        loss=loss,
        embedder_owner=owner,
        mode_seeking=mode_seeking,
        seed=seed,
        name=name,
    )
    model.compile(_gan_optimizer(cfg, loss == "wgan_gp"), _gan_optimizer(cfg, loss == "wgan_gp"))
    return model


def build_triplet_encoder(model: ConditionalGAN, config: PairedConfig) -> TripletEncoder:
    """The compiled triplet trainer of a ``triplet`` model's (unit-length) audio embedder."""
    trainer = TripletEncoder(model.embedder, config.triplet_margin, name="triplet_encoder")
    trainer.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    trainer.optimizer.build(model.embedder.trainable_variables)
    trainer.built = True
    return trainer


def train_paired(
    model: PairedModel,
    data: PairedData,
    preset: Preset,
    work_dir: str | Path,
    partnering: str = "fresh",
    progress_every: int | None = None,
) -> tuple[dict[str, list[float]], float]:
    """Train a paired model (``build_paired_model``) with the preset's budget,
    resumably; returns its loss history and the seconds this call spent training.

    The ``triplet`` model first trains its audio encoder with the triplet loss; the encoder's
    weights are kept in ``work_dir/triplet.weights.h5`` so a resumed run does not redo it.
    """
    cfg, work_dir = preset.paired, Path(work_dir)
    epochs = cfg.gan_epochs if isinstance(model, ConditionalGAN) else cfg.epochs
    start = time.perf_counter()
    if model.name == "triplet":
        weights = work_dir / "triplet.weights.h5"
        if weights.is_file():
            model.embedder.load_weights(weights)
        else:
            audio = data.train.audio["spectrogram"]
            triplets = make_dataset((audio, data.train.digits), max(cfg.batch_size, 64), preset.seed)
            fit_resumable(
                build_triplet_encoder(model, cfg),
                triplets,
                cfg.triplet_epochs,
                work_dir / "triplet",
                verbose=0,
            )
            partial = work_dir / "triplet.partial.weights.h5"  # Keras insists on this ending
            model.embedder.save_weights(partial)
            os.replace(partial, weights)  # all or nothing
    dataset = paired_dataset(data, model.feature, partnering, cfg.batch_size, preset.seed)
    callbacks = [PrintEvery(progress_every, epochs)] if progress_every else []
    history = fit_resumable(model, dataset, epochs, work_dir, callbacks=callbacks, verbose=0)
    return history, time.perf_counter() - start
