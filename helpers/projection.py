"""Projection: find the ``z`` whose generated image is a given image (image -> ``z``).

``project_images`` starts from an inversion encoder's estimate and improves it in two
stages. Feedback steps ``z += E(x) - E(G(z))`` come first: the encoder is read twice, on
the target and on the current image, so its own bias cancels and each step costs one
generator and one encoder call. Images whose pixels still miss then get a few
Gauss-Newton (Levenberg-Marquardt) steps on the pixel error, which solve for all of ``z``
at once and cope with damaged images (JPEG), where the feedback steps go astray.
The encoder is the GAN's latent encoder fine-tuned on generated images damaged the way a
shared image is (8-bit quantisation, JPEG at quality 50-95, a slight resize).
``project_images_adam`` keeps the first attempt (Adam after the encoder) for comparison,
and ``project_images_baseline`` the published method (Adam from a random start), so the
comparisons can be rerun. A real drawing holds no code, so no ``z`` redraws it: an image
still far off after every stage is handed to a drawing reader (``models/semantic.py``),
which answers with the latent of the digit it sees. Images are ``(n, h, w, c)`` in
[0, 1]. Taught in ``03_gan_and_projection.ipynb``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from helpers.artifacts import copy_model
from helpers.block_dct import CodeView
from helpers.config import ProjectionSettings
from helpers.images import to_tanh_range
from helpers.models.gan import BUILDERS, dct_code_frequencies, generate
from helpers.runtime import replica_mean


def quantise(images: tf.Tensor) -> tf.Tensor:
    """Round [-1, 1] images to the 256 grey levels a PNG holds."""
    return tf.round((images + 1.0) * 127.5) / 127.5 - 1.0


def damage_images(images: tf.Tensor, seed_generator: keras.random.SeedGenerator) -> tf.Tensor:
    """What sharing does to an image, at random, on a batch of [-1, 1] images.

    With probability 0.3 the batch is resized to a side 1-4 pixels off and back
    (bilinear); each image is JPEG-compressed with probability 0.5 at a quality drawn
    from 50-95; every image is then quantised to 8 bits.
    """
    shape, size = images.shape, tf.shape(images)[1]
    draws = keras.random.uniform((3,), seed=seed_generator)
    offset = tf.cast(1 + tf.floor(draws[1] * 4), tf.int32) * tf.where(draws[2] < 0.5, -1, 1)

    def resized() -> tf.Tensor:
        small = tf.image.resize(images, [size + offset, size + offset], method="bilinear")
        return tf.clip_by_value(tf.image.resize(small, [size, size], method="bilinear"), -1.0, 1.0)

    images = tf.cond(draws[0] < 0.3, resized, lambda: images)
    batch = tf.shape(images)[0]
    use_jpeg = keras.random.uniform((batch,), seed=seed_generator) < 0.5
    quality = tf.cast(50 + tf.floor(keras.random.uniform((batch,), seed=seed_generator) * 46), tf.int32)

    def jpeg(args: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tf.Tensor:
        image, apply, q = args
        compressed = tf.image.adjust_jpeg_quality((image + 1.0) / 2.0, q) * 2.0 - 1.0
        return tf.where(apply, compressed, image)

    images = tf.map_fn(jpeg, (images, use_jpeg, quality), fn_output_signature=images.dtype)
    return tf.ensure_shape(quantise(images), shape)  # the resize branch hid the static side


class InversionTrainer(keras.Model):
    """Trains ``encoder`` to map damaged ``G(z)`` back to ``z``; the generator stays frozen.

    ``fit`` it on batches of ``z`` (see ``latent_dataset``); the loss is the squared
    latent error, tracked as ``latent_mse``.
    """

    def __init__(self, generator: keras.Model, encoder: keras.Model, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.generator = generator
        self.encoder = encoder
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.tracker = keras.metrics.Mean(name="latent_mse")

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [self.tracker]

    def call(self, images: tf.Tensor, training: bool = False) -> tf.Tensor:
        return self.encoder(images, training=training)

    def train_step(self, z: tf.Tensor) -> dict[str, tf.Tensor]:
        images = damage_images(self.generator(z, training=False), self.seed_generator)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.encoder(images, training=True) - z))
        variables = self.encoder.trainable_variables
        gradients = replica_mean(tape.gradient(loss, variables))
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        self.tracker.update_state(loss)
        return {"latent_mse": self.tracker.result()}


def latent_dataset(latent_dim: int, batch_size: int, steps: int, seed: int) -> tf.data.Dataset:
    """``steps`` batches of fresh N(0, I) latents; the same ones for the same ``seed``."""
    return (
        tf.data.Dataset.range(steps * batch_size)
        .map(
            lambda i: tf.random.stateless_normal(
                (latent_dim,), seed=tf.stack([tf.constant(seed, tf.int64), i])
            )
        )
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def train_inversion_encoder(
    generator: keras.Model,
    start: keras.Model,
    steps: int,
    batch_size: int,
    learning_rate: float,
    seed: int = 0,
) -> tuple[keras.Model, list[float]]:
    """A copy of ``start`` (the GAN's latent encoder) fine-tuned on damaged generated images.

    The learning rate decays along a cosine to a tenth. Returns the encoder and its
    latent error per tenth of the run.
    """
    encoder = copy_model(start, BUILDERS)  # keeps its recipe, so a bundle can save it
    trainer = InversionTrainer(generator, encoder, seed=seed)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, max(steps, 1), alpha=0.1)
    trainer.compile(optimizer=keras.optimizers.Adam(schedule))
    chunks = min(10, steps)
    data = latent_dataset(int(generator.input_shape[-1]), batch_size, steps, seed)
    history = trainer.fit(data, epochs=chunks, steps_per_epoch=steps // chunks, shuffle=False, verbose=0)
    return encoder, [float(v) for v in history.history["latent_mse"]]


@tf.function(reduce_retracing=True)
def _adam_on_z(
    generator: keras.Model,
    targets: tf.Tensor,
    z: tf.Tensor,
    steps: tf.Tensor,
    learning_rate: tf.Tensor,
    prior_weight: tf.Tensor,
    pixel_loss: str,
    prior: str,
) -> tf.Tensor:
    """Adam on ``z`` (the generator's weights stay fixed), every step inside one graph.

    Each image's loss is its mean pixel error (``l1`` or ``mse``) plus ``prior_weight``
    times a norm prior on its ``z``: ``abs`` is |‖z‖ - √d| (the published baseline),
    ``square`` is (‖z‖ / √d - 1)². Losses are summed over the batch, so each image
    follows its own path whatever the batch size.
    """
    beta_1, beta_2, epsilon = 0.9, 0.999, 1e-7
    root_d = tf.sqrt(tf.cast(tf.shape(z)[1], tf.float32))
    m, v = tf.zeros_like(z), tf.zeros_like(z)
    for step in tf.range(1, steps + 1):
        with tf.GradientTape() as tape:
            tape.watch(z)
            error = generator(z, training=False) - targets
            pixel = tf.reduce_mean(tf.abs(error) if pixel_loss == "l1" else tf.square(error), axis=[1, 2, 3])
            norm = tf.norm(z, axis=1)
            penalty = tf.abs(norm - root_d) if prior == "abs" else tf.square(norm / root_d - 1.0)
            loss = tf.reduce_sum(pixel + prior_weight * penalty)
        gradient = tape.gradient(loss, z)
        m = beta_1 * m + (1.0 - beta_1) * gradient
        v = beta_2 * v + (1.0 - beta_2) * tf.square(gradient)
        t = tf.cast(step, tf.float32)
        m_hat, v_hat = m / (1.0 - beta_1**t), v / (1.0 - beta_2**t)
        z = z - learning_rate * m_hat / (tf.sqrt(v_hat) + epsilon)
    return z


def _in_batches(images: np.ndarray, batch_size: int, project) -> np.ndarray:
    images = to_tanh_range(images)
    return np.concatenate([project(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def _from_encoder_estimates(
    images: np.ndarray, encoder: keras.Model, batch_size: int, refine
) -> tuple[np.ndarray, ...]:
    """``refine(targets, start)`` on each batch of images with the encoder's estimates as
    ``start``; each tensor it returns is concatenated over the batches."""
    targets = to_tanh_range(images)
    outputs = []
    for i in range(0, len(targets), batch_size):
        batch = tf.constant(targets[i : i + batch_size])
        outputs.append([tensor.numpy() for tensor in refine(batch, encoder(batch, training=False))])
    return tuple(np.concatenate(parts) for parts in zip(*outputs, strict=True))


FINITE_DIFFERENCE_STEP = 1e-2  # in units of z (whose coordinates have unit variance)


def _damped_factor(normal: tf.Tensor, damping: tf.Tensor) -> tf.Tensor:
    """Cholesky factor of ``J Jᵀ + λ I`` from ``normal`` = ``J Jᵀ`` ``(b, d, d)``, with
    λ = ``damping`` x the mean of its diagonal."""
    latent_dim = normal.shape[1]
    damping = damping * tf.linalg.trace(normal) / latent_dim + 1e-6
    return tf.linalg.cholesky(normal + damping[:, None, None] * tf.eye(latent_dim))


def _linearise(generator: keras.Model, z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """``G(z)`` flattened ``(b, p)``, its Jacobian ``J`` stored as ``(b, d, p)``, and ``J Jᵀ``.

    The Jacobian comes from forward differences: one generator call on ``b (d + 1)``
    latents. On a CPU this measured 2.6x faster than TensorFlow's forward-mode autodiff
    (``tf.autodiff.ForwardAccumulator``) with the same recovery.
    """
    batch, latent_dim = tf.shape(z)[0], z.shape[1]
    shifted = tf.reshape(z[:, None, :] + FINITE_DIFFERENCE_STEP * tf.eye(latent_dim)[None], (-1, latent_dim))
    rendered = generator(tf.concat([z, shifted], axis=0), training=False)
    rendered = tf.reshape(rendered, (tf.shape(rendered)[0], -1))
    image = rendered[:batch]
    jacobian = (
        tf.reshape(rendered[batch:], (batch, latent_dim, -1)) - image[:, None, :]
    ) / FINITE_DIFFERENCE_STEP
    return image, jacobian, tf.matmul(jacobian, jacobian, transpose_b=True)


def broyden_update(
    jacobian: tf.Tensor, normal: tf.Tensor, step: tf.Tensor, change: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """Broyden's rank-one correction of a Jacobian ``J`` stored ``(b, d, p)``, and of
    ``normal`` = ``J Jᵀ`` with it: the smallest change after which ``J`` maps ``step``
    ``(b, d)`` to the image change ``change`` ``(b, p)`` that the step really caused,
    leaving every direction orthogonal to ``step`` alone. With ``u`` = ``step``, ``J + u vᵀ``
    changes ``J Jᵀ`` by ``w uᵀ + u wᵀ + |v|² u uᵀ`` with ``w = J v``, far cheaper than
    multiplying again (symmetrised, so rounding cannot tilt it).
    A step too short to measure (float32 rounding would dominate the change) changes nothing."""
    predicted = tf.einsum("bdp,bd->bp", jacobian, step)
    length = tf.reduce_sum(tf.square(step), axis=1)
    scale = tf.where(length > 1e-6, 1.0 / tf.maximum(length, 1e-6), 0.0)
    v = (change - predicted) * scale[:, None]  # (b, p)
    w = tf.einsum("bdp,bp->bd", jacobian, v)
    outer = w[:, :, None] * step[:, None, :]
    normal = normal + outer + tf.transpose(outer, (0, 2, 1))
    normal = normal + tf.reduce_sum(tf.square(v), axis=1)[:, None, None] * step[:, :, None] * step[:, None, :]
    return jacobian + step[:, :, None] * v[:, None, :], 0.5 * (normal + tf.transpose(normal, (0, 2, 1)))


def _keep_best(
    image: tf.Tensor, targets: tf.Tensor, z: tf.Tensor, best_z: tf.Tensor, best_error: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """``(best_z, best_error)`` updated with ``z`` where its image ``(b, p)`` fits ``targets``
    ``(b, p)`` better (summed squared error); a NaN error never counts as better, so the last
    finite fit stays. Both solvers keep each image's best ``z`` with it."""
    error = tf.reduce_sum(tf.square(image - targets), axis=1)
    better = error < best_error
    return tf.where(better[:, None], z, best_z), tf.where(better, error, best_error)


@tf.function(reduce_retracing=True)
def _gauss_newton_on_z(
    generator: keras.Model,
    targets: tf.Tensor,
    z: tf.Tensor,
    steps: tf.Tensor,
    jacobian_updates: tf.Tensor,
    damping: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Levenberg-Marquardt steps ``z -= (J Jᵀ + λ I)⁻¹ J r`` on the pixel residual ``r``.

    Only the first ``jacobian_updates`` steps recompute ``J`` by finite differences; the
    others correct it with what each step measured (``broyden_update``: one generator call
    each instead of ``d + 1``). Each image keeps the ``z`` with the smallest pixel error
    seen, so a step that overshoots costs nothing.
    Returns that ``z`` ``(b, d)``, its summed squared pixel error ``(b,)`` ([-1, 1] units),
    and the last ``z`` reached (where more steps would go on from, even after an overshoot).
    """
    latent_dim = z.shape[1]
    targets = tf.reshape(targets, (tf.shape(targets)[0], -1))
    image, jacobian, normal = _linearise(generator, z)
    factor = _damped_factor(normal, damping)
    best_z, best_error = _keep_best(image, targets, z, z, tf.fill([tf.shape(z)[0]], np.inf))
    for step in tf.range(1, steps + 1):
        tf.autograph.experimental.set_loop_options(
            shape_invariants=[
                (z, tf.TensorShape([None, latent_dim])),
                (best_z, tf.TensorShape([None, latent_dim])),
                (best_error, tf.TensorShape([None])),
                (image, tf.TensorShape([None, None])),
                (jacobian, tf.TensorShape([None, latent_dim, None])),
                (normal, tf.TensorShape([None, latent_dim, latent_dim])),
                (factor, tf.TensorShape([None, latent_dim, latent_dim])),
            ]
        )
        gradient = tf.einsum("bdp,bp->bd", jacobian, image - targets)
        z_step = -tf.linalg.cholesky_solve(factor, gradient[..., None])[..., 0]
        z = z + z_step
        if step < jacobian_updates:
            image, jacobian, normal = _linearise(generator, z)
        else:
            moved = tf.reshape(generator(z, training=False), tf.shape(targets))
            jacobian, normal = broyden_update(jacobian, normal, z_step, moved - image)
            image = moved
        factor = _damped_factor(normal, damping)
        best_z, best_error = _keep_best(image, targets, z, best_z, best_error)
    return best_z, best_error, z


@tf.function(reduce_retracing=True)
def _feedback_on_z(
    generator: keras.Model, encoder: keras.Model, targets: tf.Tensor, steps: tf.Tensor
) -> tuple[tf.Tensor, tf.Tensor]:
    """``steps`` feedback steps ``z += E(x) - E(G(z))`` from the encoder's estimate ``E(x)``.

    The encoder's error on the target and on the current image are alike, so the difference
    moves ``z`` by what separates the two images, as the encoder sees it; its own bias
    cancels, and the fixed point is a ``z`` whose image the encoder cannot tell from ``x``.
    Each image keeps the ``z`` with the smallest pixel error seen (on a damaged image the
    steps can wander off). Returns that ``z`` ``(b, d)`` and its summed squared pixel error
    ``(b,)`` ([-1, 1] units), as ``_gauss_newton_on_z`` does.
    """
    latent_dim = generator.input_shape[-1]
    flat_targets = tf.reshape(targets, (tf.shape(targets)[0], -1))
    aim = encoder(targets, training=False)
    z = best_z = aim
    best_error = tf.fill([tf.shape(targets)[0]], np.inf)

    def flat(image: tf.Tensor) -> tf.Tensor:
        return tf.reshape(image, tf.shape(flat_targets))

    for _ in tf.range(steps):
        tf.autograph.experimental.set_loop_options(
            shape_invariants=[
                (z, tf.TensorShape([None, latent_dim])),
                (best_z, tf.TensorShape([None, latent_dim])),
                (best_error, tf.TensorShape([None])),
            ]
        )
        image = generator(z, training=False)
        best_z, best_error = _keep_best(flat(image), flat_targets, z, best_z, best_error)
        z = z + aim - encoder(image, training=False)
    return _keep_best(flat(generator(z, training=False)), flat_targets, z, best_z, best_error)


def project_images(
    images: np.ndarray,
    generator: keras.Model,
    encoder: keras.Model,
    steps: int,
    jacobian_updates: int = 1,
    damping: float = 1e-3,
    batch_size: int = 32,
    polish_steps: int = 0,
    tolerance: float = 0.01,
    feedback_steps: int = 0,
    drawing_tolerance: float = 0.0,
    read_drawings: Callable[[np.ndarray], np.ndarray] | None = None,
    lowpass_steps: int = 0,
    lowpass_pixel_weight: float = 0.7,
) -> np.ndarray:
    """Latents ``(n, d)`` for images ``(n, h, w, c)`` in [0, 1], in three stages (and two more):

    1. the encoder's estimate, then ``feedback_steps`` feedback steps (``_feedback_on_z``);
    2. each image still off by more than ``tolerance`` (root-mean-square pixel error, [0, 1]
       units; 8-bit rounding alone gives 0.0011) gets ``steps`` Gauss-Newton steps on the
       squared pixel error, the first ``jacobian_updates`` with a fresh Jacobian
       (``_gauss_newton_on_z``);
    3. each image still off by more than ``tolerance`` gets up to ``polish_steps`` more
       steps, each with a fresh Jacobian and the test repeated after each, so an image
       leaves as soon as it fits: steps with a corrected old Jacobian converge slowly from
       far away, as on a damaged image (JPEG, resized, noisy), which never fits within
       ``tolerance`` and so gets them all. (This stage runs even when ``steps`` is 0.)
    4. given ``read_drawings`` (images -> latents) and ``drawing_tolerance`` > 0, an image
       still off by more than that holds no code the generator could have drawn (a drawing,
       a photo): its latent is ``read_drawings``'s answer, the latent of the digit it shows,
       not the ``z`` whose picture best imitates its pixels. With a block-DCT code "off" is
       ``drawing_error`` (RMS after averaging 4 x 4 squares, so that a damaged image is not
       taken for a drawing); with a dense code, the RMS pixel error ([0, 1] units);
    5. with a block-DCT code (``block_dct.py``), each image still off by more than
       ``tolerance`` and not a drawing (a damaged one) gets ``lowpass_steps`` more steps
       (one fresh Jacobian, Broyden's corrections after) on a residual that counts the
       blocks' lowest frequencies fully (where the code lives, what JPEG and resizing
       keep) and the other pixels ``lowpass_pixel_weight``² as much (``block_dct.CodeView``).

    A clean image usually leaves after stage 1, so the Jacobians (``d + 1`` generator calls
    each) are spent on the images that need them. The test is the pixel error alone: an
    image within ``tolerance`` is taken as fitted even if a direction of ``z`` that the
    generator renders faintly is still off (on the demo model no such image was found
    among the prior latents or the test clips' latents). Memory grows with
    ``batch_size x (d + 1)`` generator calls at once; 32 suits a CPU.
    """
    targets = to_tanh_range(images)
    fits = [
        _feedback_on_z(
            generator, encoder, tf.constant(targets[i : i + batch_size]), tf.constant(feedback_steps)
        )
        for i in range(0, len(targets), batch_size)
    ]
    z, error = (np.concatenate([fit[k].numpy() for fit in fits]) for k in (0, 1))
    # the tolerance in the solvers' units: a summed squared error over [-1, 1] pixels
    limit = int(np.prod(np.shape(images)[1:])) * (2.0 * tolerance) ** 2
    damping_t = tf.constant(damping, tf.float32)
    reached = z.copy()  # where each image's steps go on from, which may be past its best z
    # the refining steps, then the polishing steps one at a time, each on the fits still poor
    for count, fresh in ((steps, jacobian_updates),) + ((1, 1),) * polish_steps:
        poor = np.flatnonzero(error > limit) if count > 0 else np.array([], int)
        for i in range(0, len(poor), batch_size):  # the poor fits of all batches, batched again
            chosen = poor[i : i + batch_size]
            z_t, error_t, reached_t = _gauss_newton_on_z(
                generator, tf.constant(targets[chosen]), tf.constant(reached[chosen]), tf.constant(count),
                tf.constant(fresh), damping_t,
            )  # fmt: skip
            better = error_t.numpy() < error[chosen]
            z[chosen[better]], error[chosen[better]] = z_t.numpy()[better], error_t.numpy()[better]
            reached[chosen] = reached_t.numpy()
    drawn = np.array([], int)
    if read_drawings is not None and drawing_tolerance > 0:
        drawn = np.flatnonzero(fit_error(images, generator, z) > drawing_tolerance)
        if len(drawn):
            z[drawn] = read_drawings(np.asarray(images, np.float32)[drawn])
    frequencies = dct_code_frequencies(generator)
    poor = np.flatnonzero(error > limit) if lowpass_steps > 0 and frequencies else np.array([], int)
    poor = np.setdiff1d(poor, drawn)  # a drawing's latent is its digit's, not a fit
    if len(poor):
        viewed, view = _code_view(generator, frequencies, lowpass_pixel_weight)
        for i in range(0, len(poor), batch_size):
            chosen = poor[i : i + batch_size]
            z_t, _, _ = _gauss_newton_on_z(
                viewed, view(tf.constant(targets[chosen])), tf.constant(z[chosen]),
                tf.constant(lowpass_steps), tf.constant(1), damping_t,
            )  # fmt: skip
            z[chosen] = z_t.numpy()
    return z


DRAWING_POOL = 4  # side of the squares averaged before a drawing is told from a damaged image


def drawing_error(images: np.ndarray, generator: keras.Model, z: np.ndarray) -> np.ndarray:
    """RMS ``(n,)`` of the difference between images in [0, 1] and ``G(z)`` after averaging
    each ``DRAWING_POOL`` x ``DRAWING_POOL`` square ([0, 1] units): what tells a drawing from a
    damaged generated image. JPEG, noise and resizing leave a fine-grained error that the
    averaging cancels; a drawing's strokes differ from any generated digit's over whole
    squares."""
    residual = generate(generator, z) - np.asarray(images, np.float32)
    n, size, width, channels = residual.shape
    side = DRAWING_POOL
    pooled = residual.reshape(n, size // side, side, width // side, side, channels).mean(axis=(2, 4))
    return np.sqrt(np.mean(np.square(pooled), axis=(1, 2, 3)))


def fit_error(images: np.ndarray, generator: keras.Model, z: np.ndarray) -> np.ndarray:
    """How far ``G(z)`` stays from each image ``(n,)``, as projection's drawing test measures it
    (compared with ``drawing_tolerance``): ``drawing_error`` for a block-DCT code,
    ``rms_pixel_error`` for a dense one. Taught in ``03_gan_and_projection.ipynb``."""
    if dct_code_frequencies(generator):
        return drawing_error(images, generator, z)
    return rms_pixel_error(images, generator, z)


_VIEWS: dict[tuple[int, int, float], tuple[keras.Model, CodeView]] = {}


def _code_view(generator: keras.Model, frequencies: int, pixel_weight: float) -> tuple[keras.Model, CodeView]:
    """``(z -> CodeView of G(z), the same view of an image)``, built once per generator and
    settings (a new model would retrace the solver's graph on every call)."""
    key = (id(generator), frequencies, pixel_weight)
    if key not in _VIEWS or _VIEWS[key][0].layers[1] is not generator:
        view = CodeView(frequencies, pixel_weight)
        z = keras.Input(shape=generator.input_shape[1:])
        _VIEWS[key] = (keras.Model(z, view(generator(z, training=False))), view)
    return _VIEWS[key]


def rms_pixel_error(images: np.ndarray, generator: keras.Model, z: np.ndarray) -> np.ndarray:
    """Root-mean-square difference ``(n,)`` between images in [0, 1] and ``G(z)``, in [0, 1]
    units: how closely the generator redraws each image from its projected latent."""
    redrawn = generate(generator, z)
    return np.sqrt(np.mean(np.square(redrawn - np.asarray(images, np.float32)), axis=(1, 2, 3)))


def project_with_settings(
    images: np.ndarray,
    generator: keras.Model,
    encoder: keras.Model,
    settings: ProjectionSettings,
    read_drawings: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """``project_images`` with ``settings`` (a preset's ``gan.projection``, or an image model's
    ``ProjectionSettings.from_saved``), drawings read by ``read_drawings``."""
    return project_images(
        images, generator, encoder, settings.refine_steps, settings.jacobian_updates, settings.damping,
        polish_steps=settings.polish_steps, tolerance=settings.fit_tolerance,
        feedback_steps=settings.feedback_steps, drawing_tolerance=settings.drawing_tolerance,
        read_drawings=read_drawings, lowpass_steps=settings.lowpass_steps,
        lowpass_pixel_weight=settings.lowpass_pixel_weight,
    )  # fmt: skip


PROJECTION_STAGES = ("encoder", "feedback")  # where ``stopped_after`` can cut the method


def stopped_after(settings: ProjectionSettings, stage: str) -> ProjectionSettings:
    """``settings`` cut after a stage of ``project_images``: ``"encoder"`` (its estimate alone)
    or ``"feedback"`` (no Gauss-Newton); notebook 03 and the benchmark measure each stage."""
    if stage not in PROJECTION_STAGES:
        raise ValueError(f"stage must be 'encoder' or 'feedback', not {stage!r}")
    feedback_steps = settings.feedback_steps if stage == "feedback" else 0
    return dataclasses.replace(
        settings, feedback_steps=feedback_steps, refine_steps=0, polish_steps=0, lowpass_steps=0
    )


def project_images_adam(
    images: np.ndarray,
    generator: keras.Model,
    encoder: keras.Model,
    steps: int,
    learning_rate: float,
    prior_weight: float,
    batch_size: int = 256,
) -> np.ndarray:
    """The first attempt, kept for comparison: the encoder's estimate, then ``steps`` Adam
    steps on mean squared pixel error + ``prior_weight`` (‖z‖/√d - 1)²."""

    def refine(targets: tf.Tensor, start: tf.Tensor) -> tuple[tf.Tensor]:
        if steps == 0:
            return (start,)
        return (_adam_on_z(
            generator, targets, start, tf.constant(steps), tf.constant(learning_rate, tf.float32),
            tf.constant(prior_weight, tf.float32), "mse", "square",
        ),)  # fmt: skip

    (z,) = _from_encoder_estimates(images, encoder, batch_size, refine)
    return z


def project_images_baseline(
    images: np.ndarray,
    generator: keras.Model,
    steps: int = 1000,
    learning_rate: float = 0.01,
    seed: int = 0,
    batch_size: int = 256,
) -> np.ndarray:
    """The published projection: ``z`` from N(0, I) at random, then ``steps`` Adam steps at
    ``learning_rate`` on mean absolute pixel error + |‖z‖ - √d|."""
    latent_dim = int(generator.input_shape[-1])
    rng = np.random.default_rng(seed)

    def project(batch: np.ndarray) -> np.ndarray:
        start = tf.constant(rng.standard_normal((len(batch), latent_dim)), tf.float32)
        return _adam_on_z(
            generator, tf.constant(batch), start, tf.constant(steps), tf.constant(learning_rate, tf.float32),
            tf.constant(1.0), "l1", "abs",
        ).numpy()  # fmt: skip

    return _in_batches(images, batch_size, project)
