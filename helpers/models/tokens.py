"""Discrete tokens: Gumbel-softmax VAEs for images and spectrograms, and a token translator.

A ``DiscreteVAE`` turns an image into a grid of token ids (and a spectrogram into a
sequence of them) through an encoder that gives logits over ``K`` codes per cell, a
Gumbel-softmax sample (temperature annealed, hard straight-through at the end), a
codebook and a decoder. A ``TokenTranslator`` (a small transformer decoder) reads one
modality's tokens as memory and predicts the other's, all positions at once.
Taught in ``06_token_transformer.ipynb``.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from helpers.config import TokenConfig
from helpers.runtime import replica_mean
from helpers.training import PrintEvery, fit_resumable, make_dataset


def build_image_token_encoder(image_shape: tuple[int, int, int], codes: int, width: int) -> keras.Model:
    """Image ``(32, 32, c)`` in [-1, 1] -> logits ``(8, 8, codes)``: two stride-2 convolutions."""
    image = keras.Input(shape=image_shape, name="image")
    x = image
    for i, filters in enumerate((width, 2 * width)):
        x = layers.LeakyReLU(0.2)(layers.Conv2D(filters, 4, strides=2, padding="same", name=f"down{i}")(x))
    return keras.Model(image, layers.Conv2D(codes, 1, name="logits")(x), name="image_token_encoder")


def build_image_token_decoder(
    grid: tuple[int, int], codes: int, image_shape: tuple[int, int, int], width: int, code_dim: int
) -> keras.Model:
    """Soft or hard one-hot codes ``(8, 8, codes)`` -> image in [-1, 1]; the first layer is the codebook."""
    one_hot = keras.Input(shape=(*grid, codes), name="codes")
    x = layers.Dense(code_dim, use_bias=False, name="codebook")(one_hot)
    for i, filters in enumerate((2 * width, width)):
        x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", name=f"up{i}")(x)
        x = layers.LeakyReLU(0.2)(x)
    image = layers.Conv2D(image_shape[-1], 3, padding="same", activation="tanh", name="image")(x)
    return keras.Model(one_hot, image, name="image_token_decoder")


def build_spectrogram_token_encoder(
    input_shape: tuple[int, int, int], codes: int, width: int, groups: int
) -> keras.Model:
    """Normalised spectrogram ``(F, T, 1)`` -> logits ``(T / 8, groups, codes)``: 1-D convolutions
    over frames (bins as channels), three halvings, then ``groups`` tokens per step."""
    n_freq, n_frames, _ = input_shape
    spectrogram = keras.Input(shape=input_shape, name="spectrogram")
    x = layers.Permute((2, 1))(layers.Reshape((n_freq, n_frames))(spectrogram))  # (T, F)
    for i in range(3):
        x = layers.LeakyReLU(0.2)(layers.Conv1D(width, 4, strides=2, padding="same", name=f"down{i}")(x))
    logits = layers.Reshape((n_frames // 8, groups, codes))(
        layers.Conv1D(groups * codes, 1, name="logits")(x)
    )
    return keras.Model(spectrogram, logits, name="spectrogram_token_encoder")


def build_spectrogram_token_decoder(
    grid: tuple[int, int], codes: int, output_shape: tuple[int, int, int], width: int, code_dim: int
) -> keras.Model:
    """Codes ``(T / 8, groups, codes)`` -> normalised spectrogram ``(F, T, 1)``; codebook first."""
    n_freq, n_frames, _ = output_shape
    steps, groups = grid
    one_hot = keras.Input(shape=(*grid, codes), name="codes")
    x = layers.Dense(code_dim, use_bias=False, name="codebook")(one_hot)
    x = layers.Reshape((steps, groups * code_dim))(x)
    for i in range(3):
        x = layers.LeakyReLU(0.2)(
            layers.Conv1DTranspose(width, 4, strides=2, padding="same", name=f"up{i}")(x)
        )
    x = layers.Conv1D(n_freq, 3, padding="same", name="to_bins")(x)  # (T, F)
    spectrogram = layers.Reshape((n_freq, n_frames, 1))(layers.Permute((2, 1))(x))
    return keras.Model(one_hot, spectrogram, name="spectrogram_token_decoder")


class DiscreteVAE(keras.Model):
    """Encoder -> Gumbel-softmax over ``codes`` per cell -> codebook + decoder; one ``train_step``.

    Loss: mean squared reconstruction error + ``kl_weight`` x KL(q || uniform) per cell.
    ``temperature`` and ``hard`` are variables a callback (``GumbelAnnealing``) sets each
    epoch; with ``hard`` the forward pass uses one-hot codes and the gradient the soft
    ones (straight-through). ``tokens`` gives the deterministic argmax codes.
    """

    def __init__(self, encoder: keras.Model, decoder: keras.Model, kl_weight: float, seed: int = 0, **kw):
        super().__init__(**kw)
        self.encoder, self.decoder, self.kl_weight = encoder, decoder, kl_weight
        self.codes = int(encoder.output_shape[-1])
        self.temperature = tf.Variable(1.0, trainable=False, name="temperature")
        self.hard = tf.Variable(False, trainable=False, name="hard")
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {
            n: keras.metrics.Mean(name=n) for n in ("loss", "reconstruction", "kl", "perplexity")
        }

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def compile(self, optimizer: keras.optimizers.Optimizer) -> None:
        super().compile(optimizer=optimizer)
        optimizer.build(self.encoder.trainable_variables + self.decoder.trainable_variables)
        self.built = True

    def _sample(self, logits: tf.Tensor) -> tf.Tensor:
        uniform = keras.random.uniform(tf.shape(logits), 1e-6, 1.0 - 1e-6, seed=self.seed_generator)
        soft = tf.nn.softmax((logits - tf.math.log(-tf.math.log(uniform))) / self.temperature)
        hard = tf.one_hot(tf.argmax(soft, axis=-1), self.codes)
        return tf.cond(self.hard, lambda: soft + tf.stop_gradient(hard - soft), lambda: soft)

    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Reconstruction through the argmax codes (inference) or a Gumbel sample (training)."""
        logits = self.encoder(inputs, training=training)
        codes = self._sample(logits) if training else tf.one_hot(tf.argmax(logits, axis=-1), self.codes)
        return self.decoder(codes, training=training)

    def train_step(self, data) -> dict[str, tf.Tensor]:
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            logits = self.encoder(x, training=True)
            rebuilt = self.decoder(self._sample(logits), training=True)
            reconstruction = tf.reduce_mean(tf.square(rebuilt - x))
            q = tf.nn.softmax(logits)
            kl = tf.reduce_mean(tf.reduce_sum(q * (tf.math.log(q + 1e-10) + np.log(self.codes)), axis=-1))
            loss = reconstruction + self.kl_weight * kl
        variables = self.encoder.trainable_variables + self.decoder.trainable_variables
        gradients = replica_mean(tape.gradient(loss, variables))
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        usage = tf.reduce_mean(tf.reshape(q, (-1, self.codes)), axis=0)
        perplexity = tf.exp(-tf.reduce_sum(usage * tf.math.log(usage + 1e-10)))
        values = {"loss": loss, "reconstruction": reconstruction, "kl": kl, "perplexity": perplexity}
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def tokens(self, inputs: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The argmax code of every cell, ``(n, *grid)`` int32."""
        logits = self.encoder.predict(np.asarray(inputs, np.float32), batch_size=batch_size, verbose=0)
        return logits.argmax(axis=-1).astype(np.int32)

    def decode_tokens(self, tokens: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Reconstructions from code ids ``(n, *grid)``."""
        one_hot = np.eye(self.codes, dtype=np.float32)[np.asarray(tokens)]
        return self.decoder.predict(one_hot, batch_size=batch_size, verbose=0)


class GumbelAnnealing(keras.callbacks.Callback):
    """Sets ``temperature = max(floor, start * decay^epoch)`` before each epoch, and switches to
    hard straight-through codes for the last ``hard_share`` of the epochs."""

    def __init__(self, epochs: int, start: float = 1.0, floor: float = 0.1, hard_share: float = 0.2):
        super().__init__()
        self.epochs, self.start, self.floor, self.hard_share = epochs, start, floor, hard_share
        self.decay = (floor / start) ** (1.0 / max(1, int(epochs * (1 - hard_share)) - 1))

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.model.temperature.assign(max(self.floor, self.start * self.decay**epoch))
        self.model.hard.assign(epoch >= int(self.epochs * (1 - self.hard_share)))


class DecoderBlock(layers.Layer):
    """One post-norm transformer decoder block: self-attention among the target positions
    (causal when the translator is autoregressive), cross-attention to the source memory,
    then a feed-forward layer."""

    def __init__(self, dim: int, heads: int, dropout: float, **kw):
        super().__init__(**kw)
        self.self_attention = layers.MultiHeadAttention(heads, dim // heads, dropout=dropout)
        self.cross_attention = layers.MultiHeadAttention(heads, dim // heads, dropout=dropout)
        self.ffn_in, self.ffn_out = layers.Dense(4 * dim, activation="gelu"), layers.Dense(dim)
        self.norms = [layers.LayerNormalization() for _ in range(3)]
        self.dropout = layers.Dropout(dropout)

    def call(
        self, x: tf.Tensor, memory: tf.Tensor, causal: bool = False, training: bool = False
    ) -> tf.Tensor:
        x = self.norms[0](x + self.self_attention(x, x, use_causal_mask=causal, training=training))
        x = self.norms[1](x + self.cross_attention(x, memory, training=training))
        feed_forward = self.dropout(self.ffn_out(self.ffn_in(x)), training=training)
        return self.norms[2](x + feed_forward)


class TokenTranslator(keras.Model):
    """Source token ids ``(n, *source_grid)`` -> logits ``(n, *target_grid, target_codes)``.

    A small transformer decoder that reads the embedded source tokens (plus learned
    source positions) as memory. Two ways to decode, chosen at construction and used alike
    in training and generation:

    * parallel (``autoregressive=False``): the queries are learned target positions only,
      every position is predicted at once, and ``translate`` takes the most likely code at
      each; the input is the source ids alone.
    * autoregressive: each query also carries the previous target token (a start token
      first), self-attention is causal, training is teacher-forced (the input is
      ``(source ids, previous ids)``, see ``with_previous_tokens``) and ``translate``
      decodes greedily, one position after another, each choice conditioning the next.
    """

    def __init__(
        self,
        source_grid: tuple[int, ...],
        source_codes: int,
        target_grid: tuple[int, ...],
        target_codes: int,
        dim: int,
        heads: int,
        blocks: int,
        dropout: float = 0.1,
        autoregressive: bool = False,
        **kw,
    ):
        super().__init__(**kw)
        self.source_grid, self.target_grid = tuple(source_grid), tuple(target_grid)
        self.source_length, self.target_length = int(np.prod(source_grid)), int(np.prod(target_grid))
        self.target_codes, self.autoregressive = target_codes, autoregressive
        self.start_token = target_codes  # one id past the codebook
        self.source_embedding = layers.Embedding(source_codes, dim, name="source_embedding")
        self.source_position = layers.Embedding(self.source_length, dim, name="source_position")
        self.target_position = layers.Embedding(self.target_length, dim, name="target_position")
        if autoregressive:
            self.previous_embedding = layers.Embedding(target_codes + 1, dim, name="previous_embedding")
        self.blocks = [DecoderBlock(dim, heads, dropout, name=f"block{i}") for i in range(blocks)]
        self.to_logits = layers.Dense(target_codes, name="target_logits")

    def call(self, inputs, training: bool = False) -> tf.Tensor:
        source = inputs[0] if self.autoregressive else inputs
        source = tf.reshape(tf.cast(source, tf.int32), (-1, self.source_length))
        memory = self.source_embedding(source) + self.source_position(tf.range(self.source_length))[None]
        queries = self.target_position(tf.range(self.target_length))[None]
        if self.autoregressive:
            previous = tf.reshape(tf.cast(inputs[1], tf.int32), (-1, self.target_length))
            x = queries + self.previous_embedding(previous)
        else:
            x = tf.tile(queries, (tf.shape(source)[0], 1, 1))
        for block in self.blocks:
            x = block(x, memory, causal=self.autoregressive, training=training)
        return tf.reshape(self.to_logits(x), (-1, *self.target_grid, self.target_codes))

    def previous_tokens(self, target: tf.Tensor) -> tf.Tensor:
        """Target ids ``(n, *target_grid)`` -> the ids each position sees: shifted one place
        right (in reading order), the start token first. ``(n, target_length)``."""
        flat = tf.reshape(tf.cast(target, tf.int32), (-1, self.target_length))
        start = tf.fill((tf.shape(flat)[0], 1), self.start_token)
        return tf.concat([start, flat[:, :-1]], axis=1)

    def with_previous_tokens(self, data: tf.data.Dataset) -> tf.data.Dataset:
        """Batches ``(source, target)`` -> what this translator trains on: unchanged when parallel,
        ``((source, previous ids), target)`` when autoregressive (teacher forcing)."""
        if not self.autoregressive:
            return data
        return data.map(lambda source, target: ((source, self.previous_tokens(target)), target))

    def translate(self, source: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """The target ids ``(n, *target_grid)`` int32: the most likely code at every position
        (parallel), or greedy decoding position by position (autoregressive)."""
        source = np.asarray(source, np.int32)
        if not self.autoregressive:
            logits = self.predict(source, batch_size=batch_size, verbose=0)
            return logits.argmax(axis=-1).astype(np.int32)
        step = tf.function(lambda s, p: self((s, p), training=False))
        chosen = np.zeros((len(source), self.target_length), np.int32)
        for first in range(0, len(source), batch_size):
            batch = tf.constant(source[first : first + batch_size])
            previous = np.full((len(batch), self.target_length), self.start_token, np.int32)
            for t in range(self.target_length):
                logits = tf.reshape(step(batch, tf.constant(previous)), (len(batch), self.target_length, -1))
                code = tf.argmax(logits[:, t], axis=-1, output_type=tf.int32).numpy()
                chosen[first : first + len(batch), t] = code
                if t + 1 < self.target_length:
                    previous[:, t + 1] = code
        return chosen.reshape(-1, *self.target_grid)


def build_token_translator(
    source_grid: tuple[int, ...],
    source_codes: int,
    target_grid: tuple[int, ...],
    target_codes: int,
    config: TokenConfig,
    name: str = "token_translator",
    dim: int | None = None,
) -> TokenTranslator:
    """A compiled ``TokenTranslator`` of the configured size (``dim`` wide, default
    ``config.translator_dim``): cross-entropy on the target codes, ``token_accuracy`` as its metric."""
    translator = TokenTranslator(
        source_grid,
        source_codes,
        target_grid,
        target_codes,
        dim or config.translator_dim,
        config.translator_heads,
        config.translator_blocks,
        config.translator_dropout,
        config.autoregressive,
        name=name,
    )
    translator.compile(
        optimizer=keras.optimizers.Adam(config.translator_learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
    )
    source = np.zeros((1, *source_grid), np.int32)
    previous = np.zeros((1, translator.target_length), np.int32)
    translator((source, previous) if config.autoregressive else source)  # built, so a checkpoint can load
    return translator


def build_token_vaes(
    image_shape: tuple[int, int, int], spectrogram_shape: tuple[int, int, int], config: TokenConfig, seed: int
) -> tuple[DiscreteVAE, DiscreteVAE]:
    """The compiled image and spectrogram ``DiscreteVAE`` of the configured size."""
    keras.utils.set_random_seed(seed)
    cfg = config
    image_vae = DiscreteVAE(
        build_image_token_encoder(image_shape, cfg.image_codes, cfg.image_width),
        build_image_token_decoder(
            (image_shape[0] // 4, image_shape[1] // 4),
            cfg.image_codes,
            image_shape,
            cfg.image_width,
            cfg.code_dim,
        ),
        cfg.kl_weight,
        seed,
        name="image_vae",
    )
    audio_vae = DiscreteVAE(
        build_spectrogram_token_encoder(
            spectrogram_shape, cfg.audio_codes, cfg.audio_width, cfg.audio_groups
        ),
        build_spectrogram_token_decoder(
            (spectrogram_shape[1] // 8, cfg.audio_groups),
            cfg.audio_codes,
            spectrogram_shape,
            cfg.audio_width,
            cfg.code_dim,
        ),
        cfg.kl_weight,
        seed + 1,
        name="audio_vae",
    )
    for vae in (image_vae, audio_vae):
        vae.compile(keras.optimizers.Adam(cfg.vae_learning_rate))
    return image_vae, audio_vae


def train_token_vae(
    vae: DiscreteVAE,
    inputs: np.ndarray,
    config: TokenConfig,
    seed: int,
    work_dir: str | Path,
    progress_every: int | None = None,
) -> dict[str, list[float]]:
    """Train a ``DiscreteVAE`` on ``inputs`` (images in [-1, 1] or normalised spectrograms) with the
    configured budget and temperature schedule, resumably in ``work_dir``."""
    epochs = config.vae_epochs
    callbacks = [
        GumbelAnnealing(epochs, config.temperature_start, config.temperature_floor, config.hard_share)
    ]
    if progress_every:
        callbacks.append(PrintEvery(progress_every, epochs))
    data = make_dataset(np.asarray(inputs, np.float32), config.vae_batch_size, seed)
    return fit_resumable(vae, data, epochs, work_dir, callbacks=callbacks, verbose=0)


def train_translator(
    translator: TokenTranslator,
    data: tf.data.Dataset,
    config: TokenConfig,
    work_dir: str | Path,
    validation_data: tf.data.Dataset | None = None,
    progress_every: int | None = None,
) -> dict[str, list[float]]:
    """Train a translator on batches ``(source ids, target ids)`` with the configured budget,
    resumably in ``work_dir``."""
    epochs = config.translator_epochs
    callbacks = [PrintEvery(progress_every, epochs)] if progress_every else []
    data = translator.with_previous_tokens(data)
    if validation_data is not None:
        validation_data = translator.with_previous_tokens(validation_data)
    return fit_resumable(translator, data, epochs, work_dir, validation_data, callbacks, verbose=0)
