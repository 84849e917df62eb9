"""An invertible DCGAN: ``z`` ``(d,)`` -> image ``(size, size, channels)`` in [-1, 1], and back.

Three networks train together. The discriminator tells real images from generated
ones (seeing, too, how varied its batch is: ``BatchSpread``; the R1 penalty keeps its
slope on real images gentle); the generator fools it
*and* keeps every coordinate of ``z`` readable from its image, because a latent encoder
must recover all of ``z`` from ``G(z)`` and the generator pays ``latent_weight`` times
that encoder's squared error (the InfoGAN idea, applied to the whole latent). InfoGAN
shares the discriminator's body with the latent head; a separate encoder with its own,
faster optimizer recovered ``z`` far better in our trials.

The generator has two paths. The *content* path draws the picture (a plain DCGAN
generator, trained by the discriminator alone); the *code* path is a faint image,
at most ``code_amplitude`` up or down, that carries ``z`` (the only path the latent term
trains; the discriminator's gradient reaches it too). It is added on top of the picture
(``AddCode``), which keeps the digit's full contrast. Real images shown to the
discriminator carry a code of a random ``z``, so a code by itself is no sign of a fake.
A digit has far fewer degrees of freedom than ``z`` has coordinates; asking its shape
to carry ``z`` made the digits unrecognisable.
The generator kept after training is the moving average of its weights over the last
steps (``average_decay``, Keras's optimizer EMA): the last step's weights swing from
epoch to epoch; their average draws steadier, better digits.
Taught in ``03_gan_and_projection.ipynb``.
"""

from __future__ import annotations

import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from helpers.artifacts import load_bundle_config, load_model_bundle, remember_recipe, save_model_bundle
from helpers.block_dct import BlockDctCode, LowFrequencies
from helpers.config import GanConfig, Preset
from helpers.errors import ArtifactError
from helpers.images import from_tanh_range, image_grid, save_image, to_tanh_range
from helpers.models.classifier import classifier_network, feature_autoencoder_network
from helpers.models.semantic import HEAD_NAME, digit_head_network, fidelity_classifier_network
from helpers.runtime import replica_mean
from helpers.training import PrintEvery, fit_resumable


def _stages(size: int) -> int:
    """Stride-2 stages between a 4 x 4 grid and a ``size`` x ``size`` image."""
    stages = round(math.log2(size / 4))
    if size < 8 or 4 * 2**stages != size:
        raise ValueError(f"image side must be a power of two >= 8, got {size}")
    return stages


def upsample_to_image(
    vector: keras.KerasTensor, image_shape: tuple[int, int, int], width: int
) -> keras.KerasTensor:
    """A vector -> image in [-1, 1]: a dense layer to a 4 x 4 grid of ``width`` channels, then
    transposed convolutions doubling the side (channels halving) up to ``image_shape``.

    LeakyReLU rather than ReLU keeps every layer one-to-one (no information is cut at
    zero), which the inversion relies on. The paired generators of
    ``05_paired_generation.ipynb`` reuse it.
    """
    size, _, channels = image_shape
    x = layers.Dense(4 * 4 * width, name="from_z")(vector)
    x = layers.Reshape((4, 4, width))(x)
    x = layers.BatchNormalization(name="from_z_norm")(x)
    x = layers.LeakyReLU(0.2)(x)
    for i in range(_stages(size) - 1):
        width = max(width // 2, 8)
        x = layers.Conv2DTranspose(width, 4, strides=2, padding="same", name=f"up{i}")(x)
        x = layers.BatchNormalization(name=f"up{i}_norm")(x)
        x = layers.LeakyReLU(0.2)(x)
    return layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh", name="image")(x)


@keras.saving.register_keras_serializable(package="a2i")
class AddCode(layers.Layer):
    """``clip(content + amplitude * code, -1, 1)``: the code rides on the picture.

    An earlier mix, ``(1 - a) * content + a * code``, dimmed every stroke and lifted every
    background pixel; the digit judge read those low-contrast digits as another kind of
    image (real digits mixed that way scored a Frechet distance of 9.1 against 3.6 for the
    plain ones, while real digits with the code added and clipped scored 3.6). Clipping
    loses the code where the picture is already black or white; the rest carries ``z``.
    Taught in ``03_gan_and_projection.ipynb``."""

    def __init__(self, amplitude: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.amplitude = float(amplitude)

    def call(self, content: tf.Tensor, code: tf.Tensor) -> tf.Tensor:
        return keras.ops.clip(content + self.amplitude * code, -1.0, 1.0)

    def get_config(self) -> dict:
        return {**super().get_config(), "amplitude": self.amplitude}


def build_generator(
    latent_dim: int, image_shape: tuple[int, int, int], config: GanConfig, n_classes: int = 0
) -> keras.Model:
    """``z`` -> image in [-1, 1]: ``clip(content(z) + a * code(z), -1, 1)`` with ``a = code_amplitude``.

    ``content`` is ``upsample_to_image`` (its output layer is named ``image``); ``code``
    (layer ``code_image``) depends on ``config.code_basis``: ``"dct"`` writes ``z`` into the
    lowest frequencies of each 8 x 8 block through a fixed orthonormal map
    (``block_dct.BlockDctCode``), where JPEG, resizing and noise leave it; ``"dense"`` is one
    dense layer from ``z`` to every pixel with a tanh, a well-conditioned map that projection
    can invert but that JPEG rounds away. ``AddCode`` (layer ``mixed``) adds them.
    ``code_amplitude = 0`` leaves the content path alone. With ``n_classes`` the
    content path also reads the digit ``z`` says: a frozen digit head
    (``models/semantic.py``, layer ``digit_head``; ``install_digit_head`` gives it its
    trained weights) turns ``z`` into digit probabilities, joined to ``z`` before the
    content path's first layer.
    """
    image_shape = tuple(image_shape)
    z = keras.Input(shape=(latent_dim,), name="z")
    content_input = z
    if n_classes > 0:
        head = digit_head_network(latent_dim, n_classes, config)
        head.trainable = False  # trained before the GAN, on the audio labels; the GAN never changes it
        # sharpened: on prior samples the head's vote is often split, and a split vote draws a blur
        sharpened = layers.Rescaling(config.head_sharpness, name="digit_sharpen")(head(z, training=False))
        probabilities = layers.Softmax(name="digit_probabilities")(sharpened)
        content_input = layers.Concatenate(name="z_and_digit")([z, probabilities])
    content = upsample_to_image(content_input, image_shape, config.generator_width)
    if config.code_amplitude <= 0:
        model = keras.Model(z, content, name="generator")
    else:
        if config.code_basis == "dct":
            code = BlockDctCode(list(image_shape), config.code_frequencies, name="code_image")(z)
        elif config.code_basis == "dense":
            code = layers.Dense(math.prod(image_shape), activation="tanh", name="code")(z)
            code = layers.Reshape(image_shape, name="code_image")(code)
        else:
            raise ValueError(f"code_basis must be 'dct' or 'dense', not {config.code_basis!r}")
        model = keras.Model(z, AddCode(config.code_amplitude, name="mixed")(content, code), name="generator")
    return remember_recipe(
        model,
        "generator",
        latent_dim=int(latent_dim),
        image_shape=list(image_shape),
        generator_width=config.generator_width,
        code_amplitude=config.code_amplitude,
        code_basis=config.code_basis,
        code_frequencies=config.code_frequencies,
        **(_head_recipe(n_classes, config) if n_classes > 0 else {}),
    )


def _head_recipe(n_classes: int, config: GanConfig) -> dict:
    """What rebuilding a generator's digit head needs (its shape and fixed scales)."""
    names = ("head_units", "head_count", "head_noise", "head_sharpness")
    return {"n_classes": int(n_classes), **{name: getattr(config, name) for name in names}}


def install_digit_head(generator: keras.Model, head: keras.Model) -> None:
    """Copy a trained digit head's weights into ``generator``'s (built with as many classes)."""
    generator.get_layer(HEAD_NAME).set_weights(head.get_weights())


def digit_logits_model(generator: keras.Model) -> keras.Model | None:
    """``z -> digit logits`` of the generator's head (sharing its weights), or None without one."""
    if HEAD_NAME not in {layer.name for layer in generator.layers}:
        return None
    head = generator.get_layer(HEAD_NAME)
    return keras.Model(generator.inputs, head(generator.inputs[0], training=False))


def digits_of_latents(generator: keras.Model, z: np.ndarray) -> np.ndarray | None:
    """The digit the generator's head reads in each latent ``(n,)``, or None without a head."""
    logits = digit_logits_model(generator)
    return None if logits is None else logits.predict(np.asarray(z, np.float32), verbose=0).argmax(axis=1)


def generator_paths(generator: keras.Model) -> tuple[keras.Model, keras.Model] | None:
    """``(z -> (content, code), z -> code)`` sharing ``generator``'s weights, or None without a code path."""
    names = {layer.name for layer in generator.layers}
    if "code_image" not in names:
        return None
    content, code = generator.get_layer("image").output, generator.get_layer("code_image").output
    return keras.Model(generator.inputs, [content, code]), keras.Model(generator.inputs, code)


def dct_code_frequencies(generator: keras.Model) -> int | None:
    """The ``k`` of the generator's block-DCT code (``BlockDctCode``), or None with another code or none."""
    for layer in generator.layers:
        if isinstance(layer, BlockDctCode):
            return layer.frequencies
    return None


@keras.saving.register_keras_serializable(package="a2i")
class BatchSpread(layers.Layer):
    """Appends one channel holding how much the batch varies: the standard deviation of each
    feature across the batch, averaged to one number (the "minibatch standard deviation" of
    progressive GANs). A discriminator that sees it can tell a batch of look-alike fakes from
    a varied real batch, which pushes the generator to cover every kind of digit.
    Taught in ``03_gan_and_projection.ipynb``."""

    def call(self, x: tf.Tensor) -> tf.Tensor:
        spread = tf.reduce_mean(tf.sqrt(tf.math.reduce_variance(x, axis=0) + 1e-8))
        return tf.concat([x, tf.ones_like(x[..., :1]) * spread], axis=-1)


def conv_body(
    image: keras.KerasTensor, width: int, prefix: str, batch_spread: bool = False
) -> keras.KerasTensor:
    """Stride-2 convolutions down to 4 x 4, channels doubling; flattened (every image reader
    here: discriminators, critics and image encoders, also those of ``05_paired_generation``).
    ``batch_spread`` adds a ``BatchSpread`` channel before the last convolution (discriminators)."""
    x = image
    stages = _stages(image.shape[1])
    for i in range(stages):
        if batch_spread and i == stages - 1:
            x = BatchSpread(name=f"{prefix}_spread")(x)
        x = layers.Conv2D(width * 2**i, 4, strides=2, padding="same", name=f"{prefix}{i}")(x)
        x = layers.LeakyReLU(0.2)(x)
    return layers.Flatten()(x)


def build_discriminator(image_shape: tuple[int, int, int], config: GanConfig) -> keras.Model:
    """Image -> one logit (real > 0). No batch normalisation, so real and fake batches stay independent;
    with ``config.batch_spread`` it sees how varied its batch is (``BatchSpread``)."""
    image = keras.Input(shape=image_shape, name="image")
    body = conv_body(image, config.discriminator_width, "down", batch_spread=config.batch_spread)
    logit = layers.Dense(1, name="logit")(body)
    return keras.Model(image, logit, name="discriminator")


def build_latent_encoder(
    image_shape: tuple[int, int, int], latent_dim: int, config: GanConfig
) -> keras.Model:
    """Image -> estimate of the ``z`` that generated it (the invertibility head, and later the
    inversion encoder of ``helpers.projection``). For a generator with a block-DCT code
    (``config.code_basis == "dct"``) the estimate adds a linear reading of the blocks' lowest
    frequencies (``block_dct.LowFrequencies``), where the code lies, to the convolutions'."""
    image = keras.Input(shape=image_shape, name="image")
    x = conv_body(image, config.discriminator_width, "enc")
    x = layers.Dense(config.encoder_units, name="hidden")(x)
    x = layers.LeakyReLU(0.2)(x)
    z = layers.Dense(latent_dim, name="z_hat")(x)
    code_frequencies = (
        config.code_frequencies if config.code_basis == "dct" and config.code_amplitude > 0 else 0
    )
    if code_frequencies:
        read = layers.Dense(latent_dim, use_bias=False, name="code_read")(
            LowFrequencies(code_frequencies)(image)
        )
        z = layers.Add(name="z_hat_and_code")([z, read])
    model = keras.Model(image, z, name="latent_encoder")
    return remember_recipe(
        model,
        "latent_encoder",
        image_shape=list(image_shape),
        latent_dim=int(latent_dim),
        discriminator_width=config.discriminator_width,
        encoder_units=config.encoder_units,
        code_basis=config.code_basis if code_frequencies else "dense",
        code_frequencies=config.code_frequencies,
        code_amplitude=config.code_amplitude,
    )


def _rebuild_generator(
    latent_dim: int, image_shape: list[int], n_classes: int = 0, **config: object
) -> keras.Model:
    config.setdefault("code_basis", "dense")  # saved before the block-DCT code existed
    return build_generator(latent_dim, tuple(image_shape), GanConfig(**config), n_classes)


def _rebuild_latent_encoder(image_shape: list[int], latent_dim: int, **config: object) -> keras.Model:
    config.setdefault("code_basis", "dense")  # saved before the block-DCT code: no code reading
    return build_latent_encoder(tuple(image_shape), latent_dim, GanConfig(**config))


BUILDERS = {  # the recipes an image bundle may name (``load_image_model``)
    "generator": _rebuild_generator,
    "latent_encoder": _rebuild_latent_encoder,
    "digit_classifier": classifier_network,
    "feature_autoencoder": feature_autoencoder_network,
    "fidelity_classifier": fidelity_classifier_network,
}


class InvertibleDCGAN(keras.Model):
    """Generator, discriminator and latent encoder with one custom ``train_step``.

    ``compile(d_optimizer, g_optimizer, e_optimizer, latent_weight, r1_weight)`` takes one
    optimizer per network. Each step draws a fresh batch of ``z`` from N(0, I) (seeded),
    then updates the discriminator (non-saturating logistic loss, plus ``r1_weight / 2``
    times the squared gradient of its logit on the real images: the R1 penalty), the generator
    (fool the discriminator + ``latent_weight`` x latent error) and the encoder
    (latent error). With a code path (``build_generator``), the latent error reaches
    only the code and the discriminator's real images carry the code of another ``z``.
    With ``latent_weight = 0`` and no code path this is a plain DCGAN whose encoder only
    watches, which measures how invertible a GAN is when nothing asks it to be.

    The semantic term: given a ``fidelity_classifier`` (``models/semantic.py``, frozen) and
    a generator with a digit head, the generator also pays ``fidelity_weight`` times the
    classifier's cross-entropy between the content path's picture and the digit the head
    reads in ``z`` (tracked as ``fidelity``).
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        encoder: keras.Model,
        seed: int = 0,
        fidelity_classifier: keras.Model | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.encoder = encoder
        self.latent_dim = int(generator.input_shape[-1])
        self.code_paths = generator_paths(generator)
        self.head_logits = digit_logits_model(generator)
        if fidelity_classifier is not None and self.head_logits is None:
            raise ValueError("a fidelity classifier needs a generator with a digit head (n_classes > 0)")
        self.fidelity_classifier = fidelity_classifier
        self.seed_generator = keras.random.SeedGenerator(seed)
        names = ["d_loss", "g_loss", "latent_mse", "real_score", "fake_score", "r1"]
        names += ["fidelity"] if fidelity_classifier is not None else []
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    def compile(
        self,
        d_optimizer: keras.optimizers.Optimizer,
        g_optimizer: keras.optimizers.Optimizer,
        e_optimizer: keras.optimizers.Optimizer,
        latent_weight: float,
        r1_weight: float = 0.0,
        fidelity_weight: float = 0.0,
    ) -> None:
        # Keras's own slot holds the discriminator's optimizer: at the end of ``fit`` Keras
        # would "finalize" all the model's weights with the slot's moving average, and only the
        # generator's optimizer keeps one (``keep_average_generator`` applies it).
        super().compile(optimizer=d_optimizer)
        self.d_optimizer, self.g_optimizer, self.e_optimizer = d_optimizer, g_optimizer, e_optimizer
        self.latent_weight = float(latent_weight)
        self.r1_weight = float(r1_weight)
        self.fidelity_weight = float(fidelity_weight)
        self.built = True

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return list(self.trackers.values())

    def call(self, z: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.generator(z, training=training)

    def render(self, z: tf.Tensor, real: tf.Tensor, training: bool = False) -> tuple[tf.Tensor, ...]:
        """``(fake, readable, real_seen, content)``: ``G(z)``; the same image with the gradient cut
        off from the content path (what the latent encoder reads); ``real`` as the discriminator
        sees it (with the code of a fresh ``z`` added by the generator's own ``AddCode``, so a
        code by itself is no sign of a fake); the content path's picture alone (what the
        fidelity classifier reads). With a code path each call draws that fresh ``z`` from
        the model's seeded stream."""
        if self.code_paths is None:
            fake = self.generator(z, training=training)
            return fake, fake, real, fake
        both, code_only = self.code_paths
        add_code = self.generator.get_layer("mixed")  # the generator's own mixing layer
        content, code = both(z, training=training)
        other = keras.random.normal(tf.shape(z), seed=self.seed_generator)
        real_code = tf.stop_gradient(code_only(other, training=training))
        fake = add_code(content, code)
        readable = add_code(tf.stop_gradient(content), code)
        return fake, readable, add_code(tf.cast(real, fake.dtype), real_code), content

    def train_step(self, data: tf.Tensor) -> dict[str, tf.Tensor]:
        real, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        batch = tf.shape(real)[0]
        z = keras.random.normal((batch, self.latent_dim), seed=self.seed_generator)
        with tf.GradientTape(persistent=True) as tape:
            fake, readable, real_seen, content = self.render(z, real, training=True)
            with tf.GradientTape() as slope_tape:
                slope_tape.watch(real_seen)
                real_logit = self.discriminator(real_seen, training=True)
            if self.r1_weight > 0:
                slopes = slope_tape.gradient(real_logit, real_seen)
                r1 = tf.reduce_mean(tf.reduce_sum(tf.square(slopes), axis=[1, 2, 3]))
            else:
                r1 = tf.zeros((), real_logit.dtype)
            fake_logit = self.discriminator(fake, training=True)
            latent_mse = tf.reduce_mean(tf.square(self.encoder(readable, training=True) - z))
            d_loss = tf.reduce_mean(tf.nn.softplus(-real_logit) + tf.nn.softplus(fake_logit))
            g_adversarial = tf.reduce_mean(tf.nn.softplus(-fake_logit))
            d_total = d_loss + 0.5 * self.r1_weight * r1
            g_loss = g_adversarial + self.latent_weight * latent_mse
            if self.fidelity_classifier is not None:
                digits = tf.argmax(self.head_logits(z, training=False), axis=-1)
                fidelity = tf.reduce_mean(
                    keras.losses.sparse_categorical_crossentropy(
                        digits, self.fidelity_classifier(content, training=False), from_logits=True
                    )
                )
                g_loss += self.fidelity_weight * fidelity
        for optimizer, network, loss in (
            (self.d_optimizer, self.discriminator, d_total),
            (self.g_optimizer, self.generator, g_loss),
            (self.e_optimizer, self.encoder, latent_mse),
        ):
            gradients = replica_mean(tape.gradient(loss, network.trainable_variables))
            optimizer.apply_gradients(zip(gradients, network.trainable_variables, strict=True))
        del tape
        values = {
            "d_loss": d_loss,
            "g_loss": g_adversarial,
            "latent_mse": latent_mse,
            "real_score": tf.reduce_mean(tf.sigmoid(real_logit)),
            "fake_score": tf.reduce_mean(tf.sigmoid(fake_logit)),
            "r1": r1,
        }
        if self.fidelity_classifier is not None:
            values["fidelity"] = fidelity
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}


def build_gan(
    latent_dim: int,
    image_shape: tuple[int, int, int],
    config: GanConfig,
    seed: int = 0,
    latent_weight: float | None = None,
    head: keras.Model | None = None,
    fidelity_classifier: keras.Model | None = None,
) -> InvertibleDCGAN:
    """A compiled, built ``InvertibleDCGAN`` (weights drawn after seeding with ``seed``).

    ``latent_weight`` overrides the preset's (0 gives the plain-DCGAN ablation). With a
    trained digit ``head`` the generator carries it (the semantic content path); with a
    ``fidelity_classifier`` too, the generator pays ``config.fidelity_weight`` times its
    cross-entropy (``models/semantic.py``). Optimizers are built up front so that a
    checkpoint restores their state; with ``config.average_decay`` the generator's keeps
    the moving average of its weights.
    """
    keras.utils.set_random_seed(seed)
    n_classes = 0 if head is None else int(head.output_shape[-1])
    if fidelity_classifier is not None and int(fidelity_classifier.output_shape[-1]) != n_classes:
        raise ValueError(
            f"the digit head reads {n_classes} digits but the fidelity classifier "
            f"{fidelity_classifier.output_shape[-1]}: train both on the same digits "
            "(the audio clips' and the images' labels)"
        )
    generator = build_generator(latent_dim, image_shape, config, n_classes)
    if head is not None:
        install_digit_head(generator, head)
    encoder = build_latent_encoder(image_shape, latent_dim, config)
    if dct_code_frequencies(generator):  # start the code's linear reading at its least-squares inverse
        code_map = generator.get_layer("code_image").map.numpy()
        encoder.get_layer("code_read").set_weights([code_map / config.code_amplitude])
    gan = InvertibleDCGAN(
        generator,
        build_discriminator(image_shape, config),
        encoder,
        seed=seed,
        fidelity_classifier=fidelity_classifier,
    )
    optimizers = {
        "d_optimizer": keras.optimizers.Adam(config.learning_rate, beta_1=0.5),
        "g_optimizer": keras.optimizers.Adam(
            config.learning_rate,
            beta_1=0.5,
            use_ema=config.average_decay > 0,
            ema_momentum=config.average_decay,
        ),
        "e_optimizer": keras.optimizers.Adam(config.encoder_learning_rate),
    }
    weight = config.latent_weight if latent_weight is None else latent_weight
    gan.compile(
        **optimizers, latent_weight=weight, r1_weight=config.r1_weight, fidelity_weight=config.fidelity_weight
    )
    gan.d_optimizer.build(gan.discriminator.trainable_variables)
    gan.g_optimizer.build(gan.generator.trainable_variables)
    gan.e_optimizer.build(gan.encoder.trainable_variables)
    return gan


class ImageGridSaver(keras.callbacks.Callback):
    """Saves ``G(fixed_z)`` as one PNG grid per epoch (``epoch_001.png`` ...) in ``folder``."""

    def __init__(self, fixed_z: np.ndarray, folder: str | Path, n_cols: int = 8) -> None:
        super().__init__()
        self.fixed_z = np.asarray(fixed_z, np.float32)
        self.folder = Path(folder)
        self.n_cols = n_cols

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        images = from_tanh_range(self.model.generator(self.fixed_z, training=False).numpy())
        save_image(self.folder / f"epoch_{epoch + 1:03d}.png", image_grid(images, self.n_cols))


def generate(generator: keras.Model, z: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Images in [0, 1] for latents ``z`` (inference mode, batched)."""
    images = generator.predict(np.asarray(z, np.float32), batch_size=batch_size, verbose=0)
    return from_tanh_range(images)


def sample_latents(n: int, latent_dim: int, seed: int) -> np.ndarray:
    """``n`` latents from the prior N(0, I), reproducible from ``seed``."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


NOTEBOOK = "03_gan_and_projection.ipynb"


def expected_latent_dim(preset: Preset, audio_model: str | Path) -> int:
    """The generator's input size: the preset's latent size, which must match ``audio_model/`` if saved."""
    latent_dim = preset.autoencoder.latent_dim
    path = Path(audio_model) / "config.json"
    if path.is_file():
        saved = load_bundle_config(audio_model, "02_audio_autoencoder.ipynb").get("latent_dim")
        if saved != latent_dim:
            raise ArtifactError(
                f"{path} has latent size {saved}, but the {preset.name} preset uses {latent_dim}: the "
                "generator could not take its latents. Rerun notebooks/02_audio_autoencoder.ipynb with "
                "this preset, or choose the preset it was trained with (A2I_PRESET)."
            )
    return latent_dim


def train_gan(
    gan: InvertibleDCGAN,
    images: np.ndarray,
    preset: Preset,
    work_dir: str | Path,
    fixed_z: np.ndarray,
    verbose: int | str = 0,
    progress_every: int | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> dict[str, list[float]]:
    """Train ``gan`` on ``images`` in [0, 1] resumably, then keep the average generator.

    Runs the preset's epochs with ``fit_resumable``, then ``keep_average_generator``. A grid
    of ``G(fixed_z)`` (the generator as it trains) is saved each epoch under
    ``work_dir/grids``; ``callbacks`` are added to Keras's (a callback that acts on
    ``model.optimizer`` reaches the discriminator's optimizer only).
    """
    cfg = preset.gan
    callbacks = [ImageGridSaver(fixed_z, Path(work_dir) / "grids"), *(callbacks or [])]
    if progress_every:
        callbacks.append(PrintEvery(progress_every, cfg.epochs))
    data = tf.data.Dataset.from_tensor_slices(to_tanh_range(images))
    # whole batches only (a short last batch would skew the discriminator), unless there is no whole one
    data = data.shuffle(len(images), seed=preset.seed).batch(
        cfg.batch_size, drop_remainder=len(images) >= cfg.batch_size
    )
    history = fit_resumable(
        gan, data.prefetch(tf.data.AUTOTUNE), cfg.epochs, work_dir, callbacks=callbacks, verbose=verbose
    )
    keep_average_generator(gan)
    return history


def keep_average_generator(gan: InvertibleDCGAN) -> None:
    """Overwrite the generator's weights with their moving average, when its optimizer keeps one
    (``GanConfig.average_decay``); batch-normalisation statistics stay the last step's (the
    Frechet distances of notebook 03 were measured so)."""
    optimizer = gan.g_optimizer
    if optimizer.use_ema and len(optimizer._model_variables_moving_average) != len(
        gan.generator.trainable_variables
    ):
        raise ValueError(  # a programming error (the optimizer was built for other weights), not a bad file
            "the generator's optimizer averages other weights than the generator's: build it with "
            "build_gan, which builds each optimizer on its own network's weights"
        )
    optimizer.finalize_variable_values(gan.generator.trainable_variables)


def save_image_model(folder: str | Path, models: dict[str, keras.Model], extra: dict) -> Path:
    """Save ``generator``, ``encoder`` (inversion) and ``judge`` + ``config.json``, atomically."""
    generator = models["generator"]
    config = {
        "kind": "image_gan",
        "latent_dim": int(generator.input_shape[-1]),
        "image_shape": [int(v) for v in generator.output_shape[1:]],
        **extra,
    }
    return save_model_bundle(folder, models, config)


def load_image_model(
    folder: str | Path, latent_dim: int | None = None, image_shape: tuple[int, int, int] | None = None
) -> tuple[dict[str, keras.Model], dict]:
    """Load a saved image model; a latent size or image shape other than the caller's is an error."""
    config = load_bundle_config(folder, NOTEBOOK)
    path = Path(folder) / "config.json"
    if config.get("kind") != "image_gan" or not {"generator", "encoder"} <= set(config["files"]):
        raise ArtifactError(f"{path} does not describe an image GAN: rerun notebooks/{NOTEBOOK}.")
    if latent_dim is not None and config.get("latent_dim") != latent_dim:
        raise ArtifactError(
            f"{path}: the generator takes latents of size {config.get('latent_dim')}, but {latent_dim} is "
            f"expected (the audio model's). Use the same preset, or rerun notebooks/{NOTEBOOK}."
        )
    if image_shape is not None and config.get("image_shape") != list(image_shape):
        raise ArtifactError(
            f"{path}: the generator makes {config.get('image_shape')} images, but {list(image_shape)} is "
            f"expected. Use the same preset and image source, or rerun notebooks/{NOTEBOOK}."
        )
    models, config = load_model_bundle(folder, NOTEBOOK, BUILDERS)
    if int(models["generator"].input_shape[-1]) != config["latent_dim"]:
        raise ArtifactError(
            f"{path} says latent_dim {config['latent_dim']}, but the saved generator takes "
            f"{models['generator'].input_shape[-1]} (an edited config.json or mixed saves): "
            f"rerun notebooks/{NOTEBOOK}."
        )
    return models, config
