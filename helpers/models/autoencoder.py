"""The spectrogram VAE: a normalised dB spectrogram ``(128, 128, 1)`` <-> a latent ``z`` ``(d,)``.

The encoder turns the spectrogram into compressed magnitudes ``|S| ** 0.5`` and gives a
mean and a log-variance through 1-D convolutions over time; training samples ``z``
from them, inference uses the mean; a mirrored decoder writes compressed magnitudes
and hands back normalised dB. The loss is the per-clip relative squared error of the
compressed magnitudes (a relative error like spectral convergence, on compressed
rather than linear magnitudes), a small squared error of normalised dB values and a
small KL term. Taught in ``02_audio_autoencoder.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from helpers.artifacts import load_bundle_config, load_model_bundle, remember_recipe, save_model_bundle
from helpers.audio import (
    NormStats,
    denormalise,
    log_spectrogram,
    normalise,
    spectrogram_to_waveform,
)
from helpers.config import AutoencoderConfig, FrontEnd, Preset
from helpers.errors import ArtifactError
from helpers.features import FeatureSplit, StreamedSplit, spectrogram_batches
from helpers.models.listener import listener_network
from helpers.runtime import replica_mean
from helpers.training import PrintEvery, fit_resumable


class _SpectrogramScale(layers.Layer):
    """Holds what converts between normalised dB and compressed magnitudes ``|S| ** power``."""

    def __init__(self, mean_db: list[float], std_db: list[float], power: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.mean_db, self.std_db, self.power = list(mean_db), list(std_db), float(power)
        self._mean = np.asarray(mean_db, np.float32).reshape(-1, 1, 1)
        self._std = np.asarray(std_db, np.float32).reshape(-1, 1, 1)

    def get_config(self) -> dict:
        return {**super().get_config(), "mean_db": self.mean_db, "std_db": self.std_db, "power": self.power}


@keras.saving.register_keras_serializable(package="a2i")
class CompressedMagnitude(_SpectrogramScale):
    """Normalised dB ``(..., F, T, 1)`` -> compressed magnitude ``|S| ** power`` (the encoder's input).

    ``|S| ** 0.5`` keeps the loud harmonics, which dominate spectral convergence, in
    charge without letting them swamp everything else: a linear model there spends its
    capacity where that metric looks, unlike one fitted to dB values.
    """

    def call(self, normalised: tf.Tensor) -> tf.Tensor:
        db = keras.ops.minimum(normalised * self._std + self._mean, 45.0)  # no overflow on odd input
        return keras.ops.power(10.0, self.power * db / 20.0)


@keras.saving.register_keras_serializable(package="a2i")
class NormalisedDb(_SpectrogramScale):
    """Compressed magnitude -> normalised dB, floored at ``floor_db`` (the decoder's output)."""

    def __init__(self, mean_db: list[float], std_db: list[float], power: float, floor_db: float, **kwargs):
        super().__init__(mean_db, std_db, power, **kwargs)
        self.floor_db = float(floor_db)

    def call(self, compressed: tf.Tensor) -> tf.Tensor:
        floor = 10.0 ** (self.power * self.floor_db / 20.0)
        db = (20.0 / self.power) * keras.ops.log(keras.ops.maximum(compressed, floor)) / np.log(10.0)
        return (db - self._mean) / self._std

    def get_config(self) -> dict:
        return {**super().get_config(), "floor_db": self.floor_db}


def _stage(x: tf.Tensor, name: str, config: AutoencoderConfig) -> tf.Tensor:
    """After a convolution: nothing (``activation="linear"``) or LayerNorm + the activation."""
    if config.activation == "linear":
        return x
    x = layers.LayerNormalization(name=f"{name}_norm")(x)
    return layers.Activation(config.activation, name=f"{name}_act")(x)


def build_encoder(
    input_shape: tuple[int, int, int], stats: NormStats, config: AutoencoderConfig
) -> keras.Model:
    """Normalised dB spectrogram ``(F, T, 1)`` -> ``[z_mean, z_log_var]``, each ``(latent_dim,)``.

    The spectrogram is turned into compressed magnitudes, read as a sequence of ``T``
    frames with ``F`` channels, and 1-D convolutions over time halve the frame count at
    each stage: far cheaper on a CPU than 2-D convolutions, and the frequency axis keeps
    its full detail.
    """
    inputs = keras.Input(shape=input_shape, name="spectrogram")
    x = CompressedMagnitude(stats.mean_db.tolist(), stats.std_db.tolist(), config.magnitude_power)(inputs)
    x = layers.Permute((2, 1, 3))(x)  # (T, F, 1)
    x = layers.Reshape((input_shape[1], input_shape[0] * input_shape[2]))(x)  # (T, F)
    for i, filters in enumerate(config.filters):
        x = layers.Conv1D(filters, 4, strides=2, padding="same", name=f"down{i}")(x)
        x = _stage(x, f"down{i}", config)
    x = layers.Flatten()(x)
    z_mean = layers.Dense(config.latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(config.latent_dim, name="z_log_var")(x)
    model = keras.Model(inputs, [z_mean, z_log_var], name="audio_encoder")
    return remember_recipe(model, "audio_encoder", shape=list(input_shape), **_recipe_args(stats, config))


def build_decoder(
    output_shape: tuple[int, int, int], stats: NormStats, config: AutoencoderConfig, floor_db: float
) -> keras.Model:
    """Latent ``(latent_dim,)`` -> normalised dB spectrogram ``(F, T, 1)``.

    The mirror of the encoder writes compressed magnitudes (layer ``compressed_magnitude``,
    which the loss reads), turned into normalised dB by the last layer, so every caller
    keeps the features' format.
    """
    n_freq, n_frames, channels = output_shape
    steps = n_frames // 2 ** len(config.filters)
    z = keras.Input(shape=(config.latent_dim,), name="z")
    x = layers.Dense(steps * config.filters[-1], name="from_z")(z)
    x = layers.Reshape((steps, config.filters[-1]))(x)
    for i, filters in enumerate(reversed(config.filters)):
        x = layers.Conv1DTranspose(filters, 4, strides=2, padding="same", name=f"up{i}")(x)
        x = _stage(x, f"up{i}", config)
    x = layers.Conv1D(n_freq * channels, 3, padding="same", name="to_bins")(x)  # (T, F)
    x = layers.Reshape((n_frames, n_freq, channels))(x)
    compressed = layers.Permute((2, 1, 3), name="compressed_magnitude")(x)  # (F, T, 1)
    outputs = NormalisedDb(
        stats.mean_db.tolist(), stats.std_db.tolist(), config.magnitude_power, floor_db, name="spectrogram"
    )(compressed)
    model = keras.Model(z, outputs, name="audio_decoder")
    args = _recipe_args(stats, config)
    return remember_recipe(model, "audio_decoder", shape=list(output_shape), floor_db=float(floor_db), **args)


def _recipe_args(stats: NormStats, config: AutoencoderConfig) -> dict:
    """What ``build_encoder`` and ``build_decoder`` read, as JSON (``artifacts.remember_recipe``)."""
    return {
        "stats": stats.to_dict(),
        "latent_dim": config.latent_dim,
        "filters": list(config.filters),
        "activation": config.activation,
        "magnitude_power": config.magnitude_power,
    }


def _from_recipe(builder, shape: list[int], stats: dict, filters: list[int], **args: object) -> keras.Model:
    """An untrained encoder or decoder from its recipe (the inverse of ``_recipe_args``)."""
    fields = {key: args.pop(key) for key in ("latent_dim", "activation", "magnitude_power")}
    config = AutoencoderConfig(filters=tuple(filters), **fields)
    return builder(tuple(shape), NormStats.from_dict(stats), config, **args)


BUILDERS = {  # the recipes an audio bundle may name (``load_audio_codec``)
    "audio_encoder": lambda **args: _from_recipe(build_encoder, **args),
    "audio_decoder": lambda **args: _from_recipe(build_decoder, **args),
    "listener": listener_network,
}


class SpectrogramVAE(keras.Model):
    """Encoder + decoder trained with a custom ``train_step``; loss trackers in ``metrics``.

    The loss is the relative squared error of compressed magnitudes (per clip, like
    spectral convergence, so quiet and loud clips count alike), a small squared error
    of normalised dB values (the quiet bins, which the ear and the log-spectral
    distance notice) and a small KL term. ``stats`` turns normalised values back into
    dB for the magnitude target and the tracked spectral convergence.
    """

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        stats: NormStats,
        config: AutoencoderConfig,
        seed: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.to_compressed = keras.Model(decoder.input, decoder.get_layer("compressed_magnitude").output)
        self.config = config
        self.stats = stats
        mean, std = stats.mean_db.tolist(), stats.std_db.tolist()
        self.to_target = CompressedMagnitude(mean, std, config.magnitude_power)  # what the decoder must write
        self.to_linear = CompressedMagnitude(mean, std, 1.0)  # |S|, for the tracked spectral convergence
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("loss", "magnitude_error", "db_mse", "sc", "kl")
        }

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def call(self, spectrograms: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Deterministic reconstruction through the posterior mean."""
        z_mean, _ = self.encoder(spectrograms, training=training)
        return self.decoder(z_mean, training=training)

    def _loss_terms(self, spectrograms: tf.Tensor, training: bool) -> dict[str, tf.Tensor]:
        cfg = self.config
        z_mean, z_log_var = self.encoder(spectrograms, training=training)
        if training:
            noise = keras.random.normal(tf.shape(z_mean), seed=self.seed_generator)
            z = z_mean + tf.exp(0.5 * z_log_var) * noise
        else:
            z = z_mean
        compressed = self.to_compressed(z, training=training)
        rebuilt = self.decoder.get_layer("spectrogram")(compressed)
        axes = [1, 2, 3]
        target = self.to_target(spectrograms)
        magnitude_error = tf.reduce_mean(
            tf.reduce_sum(tf.square(target - compressed), axis=axes)
            / (tf.reduce_sum(tf.square(target), axis=axes) + 1e-9)
        )
        db_mse = tf.reduce_mean(tf.square(spectrograms - rebuilt))
        flat = [tf.shape(target)[0], -1]
        linear = tf.reshape(self.to_linear(spectrograms), flat)
        residual = linear - tf.reshape(self.to_linear(rebuilt), flat)
        sc = tf.reduce_mean(tf.norm(residual, axis=1) / (tf.norm(linear, axis=1) + 1e-6))
        kl = tf.reduce_mean(
            -0.5 * tf.reduce_sum(1.0 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=1)
        )
        loss = (
            cfg.magnitude_weight * magnitude_error
            + cfg.db_weight * db_mse
            + cfg.kl_weight * kl / cfg.latent_dim
        )
        return {"loss": loss, "magnitude_error": magnitude_error, "db_mse": db_mse, "sc": sc, "kl": kl}

    def _update(self, values: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data: tf.Tensor) -> dict[str, tf.Tensor]:
        with tf.GradientTape() as tape:
            values = self._loss_terms(data, training=True)
        gradients = replica_mean(tape.gradient(values["loss"], self.trainable_variables))
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=True))
        return self._update(values)

    def test_step(self, data: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._update(self._loss_terms(data, training=False))


def build_vae(
    input_shape: tuple[int, int, int],
    stats: NormStats,
    config: AutoencoderConfig,
    steps_per_epoch: int | None = None,
    seed: int = 0,
    floor_db: float = FrontEnd().db_floor,
) -> SpectrogramVAE:
    """A compiled, built ``SpectrogramVAE``.

    Adam at the preset's learning rate, decayed along a cosine to a tenth of it over
    the whole run when ``steps_per_epoch`` is given (the schedule follows the
    optimizer's step count, so it survives a resume). ``seed`` seeds Keras's global
    generators before the weights are drawn, and the latent sampling noise.
    ``floor_db`` is the front-end's floor (``FrontEnd.db_floor``), the quietest value the
    decoder writes.
    """
    keras.utils.set_random_seed(seed)
    encoder = build_encoder(input_shape, stats, config)
    decoder = build_decoder(input_shape, stats, config, floor_db)
    vae = SpectrogramVAE(encoder, decoder, stats, config, seed=seed)
    learning_rate = config.learning_rate
    if steps_per_epoch:
        learning_rate = keras.optimizers.schedules.CosineDecay(
            config.learning_rate, decay_steps=config.epochs * steps_per_epoch, alpha=0.1
        )
    vae.compile(optimizer=keras.optimizers.Adam(learning_rate))
    vae(np.zeros((1, *input_shape), dtype=np.float32))  # build, so a checkpoint can restore it
    return vae


@dataclass(frozen=True)
class Whitening:
    """ZCA whitening of latents: ``(z - mean) @ matrix`` has zero mean and identity covariance.

    Fitted on the training clips' latents, so the latents handed to the generator look
    like its N(0, I) prior; ``undo`` maps a whitened vector back for the decoder by
    solving with ``matrix`` (symmetric and positive definite, so always invertible).
    """

    mean: np.ndarray  # (d,)
    matrix: np.ndarray  # (d, d)

    @classmethod
    def fit(cls, latents: np.ndarray, epsilon: float = 1e-3) -> Whitening:
        latents = np.asarray(latents, dtype=np.float64)
        mean = latents.mean(axis=0)
        values, vectors = np.linalg.eigh(np.cov(latents - mean, rowvar=False))
        values = np.maximum(values, 0.0) + epsilon
        return cls(mean=mean, matrix=vectors @ np.diag(values**-0.5) @ vectors.T)

    def apply(self, latents: np.ndarray) -> np.ndarray:
        return ((np.asarray(latents, np.float64) - self.mean) @ self.matrix).astype(np.float32)

    def undo(self, latents: np.ndarray) -> np.ndarray:
        centred = np.linalg.solve(self.matrix.T, np.asarray(latents, np.float64).T).T
        return (centred + self.mean).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "matrix": self.matrix.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> Whitening:
        return cls(**{key: np.asarray(data[key], dtype=np.float64) for key in ("mean", "matrix")})


@dataclass
class AudioCodec:
    """What the round trip needs from the audio side: spectrogram <-> whitened ``z``.

    ``encode`` takes normalised spectrograms ``(n, F, T, 1)`` and returns latents
    ``(n, d)`` that follow N(0, I); ``decode`` is its inverse. ``clips_to_latents`` and
    ``latents_to_clips`` wrap the front-end around them.
    """

    encoder: keras.Model
    decoder: keras.Model
    stats: NormStats
    whitening: Whitening | None
    front_end: FrontEnd
    listener: keras.Model | None = None  # the digit classifier of ``models/listener.py``, if trained

    @property
    def latent_dim(self) -> int:
        return int(self.decoder.input_shape[-1])

    def encode(self, spectrograms: np.ndarray, batch_size: int = 64) -> np.ndarray:
        z_mean, _ = self.encoder.predict(
            np.asarray(spectrograms, np.float32), batch_size=batch_size, verbose=0
        )
        return self.whitening.apply(z_mean) if self.whitening else z_mean

    def decode(self, latents: np.ndarray, batch_size: int = 64) -> np.ndarray:
        latents = self.whitening.undo(latents) if self.whitening else np.asarray(latents, np.float32)
        return self.decoder.predict(latents, batch_size=batch_size, verbose=0)

    def clips_to_latents(self, clips: np.ndarray) -> np.ndarray:
        """Waveforms ``(n, samples)`` -> latents ``(n, d)``."""
        spectrograms = normalise(log_spectrogram(clips, self.front_end), self.stats)[..., None]
        return self.encode(spectrograms)

    def latents_to_spectrograms_db(self, latents: np.ndarray) -> np.ndarray:
        """Latents ``(n, d)`` -> dB spectrograms ``(n, F, T)``, always finite and within what a clip
        can hold (``front_end.db_floor`` to ``db_ceiling``): a latent far from every training clip
        can drive the decoder to huge or non-finite values, which Griffin-Lim refuses and a file
        must never hold. NaN becomes the floor (silence)."""
        spectrograms = denormalise(self.decode(latents)[..., 0], self.stats)
        floor, ceiling = self.front_end.db_floor, self.front_end.db_ceiling
        spectrograms = np.nan_to_num(spectrograms, nan=floor, posinf=ceiling, neginf=floor)
        return np.clip(spectrograms, floor, ceiling).astype(np.float32)

    def latents_to_clips(self, latents: np.ndarray, n_iter: int, seed: int = 0) -> np.ndarray:
        """Latents ``(n, d)`` -> waveforms ``(n, samples)`` through Griffin-Lim."""
        return spectrogram_to_waveform(self.latents_to_spectrograms_db(latents), self.front_end, n_iter, seed)


NOTEBOOK = "02_audio_autoencoder.ipynb"


def split_latents(
    codec: AudioCodec, split: FeatureSplit | StreamedSplit, batch_size: int = 256
) -> np.ndarray:
    """``codec.encode`` of every clip of a split ``(n, d)``; a streamed split is read batch by batch."""
    if isinstance(split, FeatureSplit):
        return codec.encode(split.spectrograms)
    batches = spectrogram_batches(split, batch_size, seed=0, shuffle=False)
    return np.concatenate([codec.encode(batch) for batch in batches.as_numpy_iterator()])


def train_audio_codec(
    vae: SpectrogramVAE,
    train: FeatureSplit | StreamedSplit,
    test: FeatureSplit | StreamedSplit,
    preset: Preset,
    work_dir: str | Path,
    whiten: bool = True,
    verbose: int | str = 0,
    progress_every: int | None = None,
) -> tuple[AudioCodec, dict[str, list[float]]]:
    """Train ``vae`` (from ``build_vae``) with the preset's budget, resumably; fit the whitening.

    ``work_dir`` holds the per-epoch checkpoint and ``history.json``; rerunning after
    an interruption continues from the last finished epoch. The test split only
    draws validation curves; nothing is selected on it. A streamed split (``features.open_split``
    on a folder source) is read from disk batch by batch. ``progress_every`` prints one
    line of logs every that many epochs.
    """
    cfg = preset.autoencoder
    progress = [PrintEvery(progress_every, cfg.epochs)] if progress_every else []
    history = fit_resumable(
        vae,
        spectrogram_batches(train, cfg.batch_size, preset.seed),
        cfg.epochs,
        work_dir,
        validation_data=spectrogram_batches(test, cfg.batch_size, preset.seed, shuffle=False),
        callbacks=progress,
        verbose=verbose,
    )
    codec = AudioCodec(vae.encoder, vae.decoder, vae.stats, None, preset.front_end)
    if whiten:
        codec.whitening = Whitening.fit(split_latents(codec, train))
    return codec, history


def save_audio_codec(folder: str | Path, codec: AudioCodec, extra: dict) -> Path:
    """Save the codec as ``encoder/decoder.<token>.weights.h5`` (and ``listener.<token>.weights.h5``
    when it has one) + ``config.json``, atomically (see ``artifacts.save_model_bundle``)."""
    config = {
        "kind": "audio_autoencoder",
        "latent_dim": codec.latent_dim,
        "front_end": codec.front_end.to_dict(),
        "normalisation": codec.stats.to_dict(),
        "whitening": codec.whitening.to_dict() if codec.whitening else None,
        **extra,
    }
    models = {"encoder": codec.encoder, "decoder": codec.decoder}
    if codec.listener is not None:
        models["listener"] = codec.listener
    return save_model_bundle(folder, models, config)


def _check_output_layer(codec: AudioCodec, path: Path) -> None:
    """The decoder's last layer carries its own copy of the statistics and the floor: they must
    agree with ``config.json`` (an edited config or files from two saves would disagree)."""
    try:
        layer = codec.decoder.get_layer("spectrogram")
    except ValueError:
        return  # a decoder that writes normalised dB directly (saved before the layer existed)
    if not isinstance(layer, NormalisedDb):
        return
    agrees = (
        np.allclose(layer.mean_db, codec.stats.mean_db, atol=1e-4)
        and np.allclose(layer.std_db, codec.stats.std_db, atol=1e-4)
        and abs(layer.floor_db - codec.front_end.db_floor) < 1e-6
    )
    if not agrees:
        raise ArtifactError(
            f"{path}: the decoder's normalisation or dB floor differs from config.json's (an edited config "
            f"or files from two saves): rerun notebooks/{NOTEBOOK}."
        )


def load_audio_codec(
    folder: str | Path, front_end: FrontEnd | None = None, latent_dim: int | None = None
) -> tuple[AudioCodec, dict]:
    """Load a saved codec; a front-end or latent size other than the caller's is an error."""
    config = load_bundle_config(folder, NOTEBOOK)
    path = Path(folder) / "config.json"
    if front_end is not None and config.get("front_end") != front_end.to_dict():
        raise ArtifactError(
            f"{path}: the audio model was trained with front-end {config.get('front_end')}, but this "
            f"run uses {front_end.to_dict()}. Use the same preset, or rerun notebooks/{NOTEBOOK}."
        )
    if latent_dim is not None and config.get("latent_dim") != latent_dim:
        raise ArtifactError(
            f"{path}: the audio model has latent size {config.get('latent_dim')}, but {latent_dim} is "
            f"expected. Use the same preset, or rerun notebooks/{NOTEBOOK}."
        )
    if config.get("kind") != "audio_autoencoder" or not {"encoder", "decoder"} <= set(config["files"]):
        raise ArtifactError(f"{path} does not describe an audio autoencoder: rerun notebooks/{NOTEBOOK}.")
    models, config = load_model_bundle(folder, NOTEBOOK, BUILDERS)
    try:
        codec = AudioCodec(
            encoder=models["encoder"],
            decoder=models["decoder"],
            stats=NormStats.from_dict(config["normalisation"]),
            whitening=Whitening.from_dict(config["whitening"]) if config.get("whitening") else None,
            front_end=FrontEnd(**config["front_end"]),
            listener=models.get("listener"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactError(
            f"{path} is incomplete or outdated ({exc!r}): rerun notebooks/{NOTEBOOK}."
        ) from exc
    _check_output_layer(codec, path)
    if codec.latent_dim != config["latent_dim"]:
        raise ArtifactError(
            f"{path} says latent_dim {config['latent_dim']}, but the saved decoder takes {codec.latent_dim} "
            f"(an edited config.json or mixed saves): rerun notebooks/{NOTEBOOK}."
        )
    return codec, config
