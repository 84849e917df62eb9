"""Discrete tokens: Gumbel-softmax VAEs for images and spectrograms, and a token translator.

A ``DiscreteVAE`` turns an image into a grid of token ids (and a spectrogram into a
sequence of them) through an encoder that gives logits over ``K`` codes per cell, a
Gumbel-softmax sample (temperature annealed, hard straight-through at the end), a
codebook and a decoder. A ``TokenTranslator`` (a small transformer decoder) reads one
modality's tokens as memory and predicts the other's, all positions at once.
Taught in ``06_token_transformer.ipynb`` (issue 7; the notebook is not written yet).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers


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
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
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


def codebook_perplexity(tokens: np.ndarray, codes: int) -> float:
    """``exp(entropy)`` of how often each code is used: ``codes`` when all are used equally, 1 when
    one code does everything (a dead codebook)."""
    usage = np.bincount(np.asarray(tokens).ravel(), minlength=codes) / np.asarray(tokens).size
    used = usage[usage > 0]
    return float(np.exp(-np.sum(used * np.log(used))))


def build_translator(
    source_length: int,
    source_codes: int,
    target_length: int,
    target_codes: int,
    dim: int,
    heads: int,
    blocks: int,
) -> keras.Model:
    """Source token ids ``(S,)`` -> target logits ``(T, target_codes)``: a transformer decoder whose
    queries are learned target positions, attending to each other (no causal mask: every
    position is predicted at once, in training and in generation alike) and to the source
    tokens (embedded, plus learned positions) as memory."""
    source = keras.Input(shape=(source_length,), dtype="int32", name="source_tokens")
    memory = layers.Embedding(source_codes, dim, name="source_embedding")(source)
    positions = np.arange(source_length)[None]
    memory = memory + layers.Embedding(source_length, dim, name="source_position")(positions)
    queries = layers.Embedding(target_length, dim, name="target_position")(np.arange(target_length)[None])
    x = layers.Lambda(lambda pair: tf.zeros_like(pair[0][:, :1, :1]) + pair[1], name="per_example")(
        [memory, queries]
    )
    for i in range(blocks):
        for kind, attend_to in (("self", None), ("cross", memory)):
            attention = layers.MultiHeadAttention(heads, dim // heads, name=f"{kind}_attention{i}")
            context = x if attend_to is None else attend_to
            x = layers.LayerNormalization(name=f"{kind}_norm{i}")(x + attention(x, context))
        hidden = layers.Dense(4 * dim, activation="gelu", name=f"ffn_in{i}")(x)
        x = layers.LayerNormalization(name=f"ffn_norm{i}")(x + layers.Dense(dim, name=f"ffn_out{i}")(hidden))
    logits = layers.Dense(target_codes, name="target_logits")(x)
    model = keras.Model(source, logits, name="token_translator")
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="token_accuracy")],
    )
    return model
