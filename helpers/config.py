"""Presets, environment variables and default paths: the ground floor of ``helpers``.

Every tunable number lives in a ``Preset`` here; notebooks and benchmarks read
``load_preset()`` and never hard-code sizes. Taught in ``01_preprocess.ipynb``.

Environment variables:

``A2I_PRESET``        ``ci`` | ``demo`` (default) | ``full``
``A2I_AUDIO_SOURCE``  ``sample`` (default) | ``fsdd`` | a folder of audio files
``A2I_IMAGE_SOURCE``  ``digits`` (default) | ``mnist`` | a folder of images
``A2I_ARTIFACTS``     root for features, models and outputs (default: the repository;
                      ``outputs/ci`` for the ci preset, so tests never touch shipped models)
``A2I_CACHE``         download cache (default: ``~/.keras``)
``A2I_SEED``          overrides the preset's seed
``A2I_STREAMING``     ``auto`` (default: folder sources stream from disk, the embedded sample
                      is loaded into memory) | ``1`` (always stream) | ``0`` (never)
``A2I_FSDD_URL``, ``A2I_FSDD_SHA256``, ``A2I_MNIST_URL``, ``A2I_MNIST_SHA256``
                      a download mirror and its hash
``A2I_REPO_URL``      the repository the notebooks' Colab cell clones
``A2I_VOICE``         a recording of your own for notebook 04's "your own voice" section
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from helpers.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_AUDIO_DIR = REPO_ROOT / "data" / "spoken_digits"
PRESET_NAMES = ("ci", "demo", "full")
AUDIO_SOURCES = ("sample", "fsdd")
IMAGE_SOURCES = ("digits", "mnist")


@dataclass(frozen=True)
class FrontEnd:
    """Audio front-end parameters; saved with every artifact and checked on load.

    The STFT has ``n_fft // 2 + 1`` bins; the top (Nyquist) bin is cropped so a
    spectrogram is ``(n_freq, n_frames)`` = 128 x 128 by default, and restored as
    silence before inversion.
    """

    sample_rate: int = 8000
    clip_samples: int = 8128  # 127 hops + 1: exactly 128 centred STFT frames
    n_fft: int = 256
    hop_length: int = 64
    amin: float = 1e-3  # magnitude floor: spectrograms never go below -60 dB (80 dB under loud speech)
    n_mels: int = 64
    n_mfcc: int = 20

    @property
    def n_freq(self) -> int:
        """Frequency bins kept (the Nyquist bin is dropped)."""
        return self.n_fft // 2

    @property
    def n_frames(self) -> int:
        """STFT frames per clip (centred frames)."""
        return 1 + self.clip_samples // self.hop_length

    @property
    def clip_seconds(self) -> float:
        return self.clip_samples / self.sample_rate

    @property
    def db_floor(self) -> float:
        """The lowest value a dB spectrogram can hold."""
        return 20.0 * math.log10(self.amin)

    @property
    def db_ceiling(self) -> float:
        """The highest value a dB spectrogram of a clip in [-1, 1] can hold: a full-scale sine
        at a bin's centre gives a magnitude of half the Hann window's sum, ``n_fft / 4``; the
        window's sum, ``n_fft / 2``, bounds every frame."""
        return 20.0 * math.log10(self.n_fft / 2)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AutoencoderConfig:
    """Size and training budget of the spectrogram VAE (``02_audio_autoencoder.ipynb``)."""

    latent_dim: int = 128  # the size of z, shared with the generator
    filters: tuple[int, ...] = (256, 256, 256, 256)  # channels of each stride-2 stage: 128 -> 8 frames
    epochs: int = 80
    batch_size: int = 16
    learning_rate: float = 1e-3
    activation: str = "linear"  # after each convolution; any other Keras activation adds LayerNorm + it
    magnitude_power: float = 0.5  # the model reads and writes compressed magnitudes |S| ** power
    kl_weight: float = 1e-3  # weight of the KL term per latent dimension
    magnitude_weight: float = 10.0  # weight of the relative squared error of compressed magnitudes
    db_weight: float = 0.1  # weight of the squared error of normalised dB values (quiet bins count too)
    listener_epochs: int = 20  # the spoken-digit classifier saved beside the autoencoder


@dataclass(frozen=True)
class ProjectionSettings:
    """How an image goes back to its latent (``projection.project_images``), one name per field
    in the presets, in an image model's ``config.json`` and in ``Bridge.projection``
    (``03_gan_and_projection.ipynb``, ``04_round_trip.ipynb``)."""

    feedback_steps: int = 8  # z += E(x) - E(G(z)) after the encoder's estimate E(x)
    fit_tolerance: float = 0.003  # images whose RMS pixel error ([0, 1] units) is still above this get
    # Gauss-Newton steps (8-bit rounding alone gives 0.0011; the dct code is faint, so a fit 0.01 off
    # can still miss z by more than cos 0.99; 0.01 suited a "dense" code)
    refine_steps: int = 10  # Gauss-Newton steps on z for those images: one Jacobian (d + 1 generator
    # calls), then Broyden's corrections at one call each; 10 leave almost no clean image for polishing
    jacobian_updates: int = 1  # of those steps, how many recompute the Jacobian (Broyden corrects it after)
    damping: float = 1e-3  # Levenberg-Marquardt damping, relative to the mean diagonal of J Jᵀ
    polish_steps: int = 6  # at most this many further steps, each with a fresh Jacobian, for images
    # still above it, tested again after each (a damaged image gets them all; 2 left its fit unconverged)
    drawing_tolerance: float = 0.006  # an image still off by more after projection (projection.fit_error:
    # with a "dct" code the RMS residual after averaging 4 x 4 squares, [0, 1] units, where 0.006
    # separated drawings from damaged images; 0.015 of the plain RMS suited a "dense" code): it holds no
    # code, so it is read as a drawing, and its digit's prototype latent is the answer
    lowpass_steps: int = 4  # with a "dct" code: then steps on the code's frequencies, the rest weighted
    lowpass_pixel_weight: float = 0.7  # less (block_dct.CodeView), for images still off after polishing

    @classmethod
    def from_saved(cls, saved: dict) -> ProjectionSettings:
        """The settings an image model's ``config.json`` holds under "projection"; fields an
        older save lacks keep their defaults, and its older names are read as today's."""
        fields = {item.name for item in dataclasses.fields(cls)}
        renamed = {_OLDER_PROJECTION_NAMES.get(key, key): value for key, value in saved.items()}
        return cls(**{key: value for key, value in renamed.items() if key in fields})


_OLDER_PROJECTION_NAMES = {"steps": "refine_steps", "polish_tolerance": "fit_tolerance"}  # saved before


@dataclass(frozen=True)
class GanConfig:
    """The invertible DCGAN, its inversion encoder and the projection (``03_gan_and_projection.ipynb``)."""

    generator_width: int = 128  # channels at 4 x 4, halved at each doubling of the side
    discriminator_width: int = 32  # channels of the first stride-2 stage, doubled at each one after
    batch_spread: bool = True  # the discriminator sees how varied its batch is (gan.BatchSpread)
    encoder_units: int = 256  # hidden units of the latent encoder's dense layer
    epochs: int = 250
    batch_size: int = 64
    learning_rate: float = 2e-4  # generator and discriminator (Adam, beta_1 = 0.5, as in DCGAN)
    r1_weight: float = 1.0  # gamma of the R1 penalty, gamma / 2 * |dD/dx|^2 on real images (0: none)
    average_decay: float = 0.995  # the generator kept is this moving average of its weights (0: the
    # last ones); a memory of about 200 steps (9 demo epochs; more epochs where several replicas share a
    # batch): at 0.999 the average still held weights of 45 epochs before, and drew worse digits
    encoder_learning_rate: float = 1e-3
    latent_weight: float = 30.0  # weight of the latent-reconstruction term in the generator's loss; a "dct"
    # code is a fixed map, so then no generator weight feels it (it trains the encoder alone)
    code_basis: str = "dct"  # where the code carrying z lives: "dct", the lowest frequencies of each
    # 8 x 8 block, which JPEG, resizing and noise keep (block_dct.py); "dense", any pixel pattern a
    # dense layer learns (the first design: exact through a PNG, lost in a JPEG; docs/experiments.md)
    code_frequencies: int = 3  # the dct code's k x k lowest frequencies per block: 144 slots at 32 x 32
    code_amplitude: float = 0.3  # "dct": the move per unit coefficient (0.3 gives a code pixel a std of
    # about 0.1); "dense": the largest move of a pixel, up or down (0.1 suited it); 0: no code
    semantic: bool = True  # the content path draws the digit z says (models/semantic.py); used only
    # when the audio clips and the images both have labels
    fidelity_weight: float = 0.3  # the fidelity classifier's cross-entropy in the generator's loss
    head_units: int = 256  # hidden units of the digit head's two layers
    head_count: int = 5  # networks in the digit head, their votes averaged
    head_noise: float = 1.0  # std of the noise added to z while the digit head trains
    head_sharpness: float = 1.0  # the generator reads softmax(sharpness * head logits); sharper votes
    # draw a jump where the head changes its mind, which projection cannot follow (docs/experiments.md)
    head_epochs: int = 200  # half a minute: the head is small and reads 128 numbers
    ablation_epochs: int = 40  # the unconditioned GAN notebook 03 compares with (its digits, not its polish)
    inversion_steps: int = 500  # fine-tuning the latent encoder on damaged (G(z), z) pairs
    inversion_batch_size: int = 128
    inversion_learning_rate: float = 5e-4  # start of a cosine decay to a tenth
    projection: ProjectionSettings = field(default_factory=ProjectionSettings)
    adam_steps: int = 100  # the first attempt, shown for comparison: Adam steps after the encoder
    adam_learning_rate: float = 0.1
    prior_weight: float = 1e-3  # weight of (||z|| / sqrt(d) - 1)^2 in the Adam comparison
    baseline_steps: int = 1000  # the published method: Adam from a random start
    baseline_learning_rate: float = 0.01
    eval_images: int = 512  # generated images projected to measure recovery
    classifier_epochs: int = 15  # the digit classifier behind the Frechet distance


@dataclass(frozen=True)
class PairedConfig:
    """The six paired audio -> image models and their measurement (``05_paired_generation.ipynb``).

    An epoch is one pass over the training clips, each clip with an image of its digit.
    """

    embed_dim: int = 32  # the audio embedding every conditioned model reads
    noise_dim: int = 16  # the noise (GANs) or style latent (VAEs) beside it
    generator_width: int = 64  # channels at 4 x 4, halved at each doubling of the side
    discriminator_width: int = 32  # channels of the first stride-2 stage of critics and image encoders
    batch_size: int = 32
    epochs: int = 40  # CVAE, VAE-GAN and the MFCC model
    gan_epochs: int = 60  # CGANs, WGAN-GPs and the triplet-conditioned DCGAN
    learning_rate: float = 1e-3  # CVAE, MFCC model and triplet encoder (Adam)
    gan_learning_rate: float = 2e-4  # generators and discriminators (Adam, beta_1 = 0.5)
    kl_weight: float = 4.0  # the CVAE's KL term, against squared error summed over pixels in [-1, 1]
    # (at 1 the style latent also carried the digit and the audio was ignored: 43 % digit accuracy)
    adversarial_weight: float = 0.05  # VAE-GAN: the discriminator's voice in the decoder's loss
    mismatch_weight: float = 0.5  # share of a conditioned critic's "fake" examples that are real
    # images with another clip's embedding (matching-aware, as in GAN-CLS)
    mode_seeking_weight: float = 1.0  # conditional GANs: the mode-seeking term (0: off; at 0 the
    # CGAN drew one image per clip whatever the noise: diversity 0.01 against 0.22, FD 60 against 27)
    critic_steps: int = 3  # WGAN-GP critic updates per generator update
    gp_weight: float = 10.0
    triplet_margin: float = 0.5  # between unit-length embeddings
    triplet_epochs: int = 30
    diversity_samples: int = 6  # images per clip, different noise, for the diversity score
    diversity_clips: int = 40
    classifier_epochs: int = 15  # the image judge


@dataclass(frozen=True)
class TokenConfig:
    """The discrete-token models: two Gumbel-softmax VAEs and two translators
    (``06_token_transformer.ipynb``)."""

    image_codes: int = 64  # codebook size of the image VAE (one code per 4 x 4 patch: an 8 x 8 grid)
    audio_codes: int = 64  # codebook size of the spectrogram VAE
    audio_groups: int = 4  # tokens per step of 8 frames: 128 frames -> 16 steps x 4 = 64 tokens
    code_dim: int = 32  # size of a codebook vector
    image_width: int = 32  # channels of the image VAE's first stage (doubled at the second)
    audio_width: int = 128  # channels of the spectrogram VAE's 1-D convolutions
    vae_epochs: int = 40
    vae_batch_size: int = 32
    vae_learning_rate: float = 1e-3
    kl_weight: float = 1e-3  # KL(q || uniform) per cell, in nats, against mean squared error
    temperature_start: float = 1.0
    temperature_floor: float = 0.5  # (at 0.1 the spectrogram VAE got worse as it cooled: MSE 0.13 -> 0.22)
    hard_share: float = 0.2  # the last fifth of the epochs runs hard straight-through codes
    translator_dim: int = 64  # width of the image -> audio translator (and of both when the next is None)
    audio_to_image_dim: int | None = 256  # the audio -> image translator reads voices it never heard:
    # wider, it generalises better (digit read: width 64 73 %, 128 82 %, 256 85 %; image -> audio
    # stayed at 89 % from 64 to 128, at half the cost)
    translator_heads: int = 4
    translator_blocks: int = 2
    translator_dropout: float = 0.1
    autoregressive: bool = False  # all positions at once; True: greedy, one token after another
    # (autoregressive drew crisper digits, but the wrong one more often: 56 % against 73 % read right)
    translator_epochs: int = 60
    translator_batch_size: int = 32
    translator_learning_rate: float = 1e-3
    classifier_epochs: int = 15  # the image judge (the listener uses the autoencoder's budget)


@dataclass(frozen=True)
class Preset:
    """Every size, budget and count one run of the suite uses."""

    name: str
    front_end: FrontEnd = field(default_factory=FrontEnd)
    max_voices: int | None = None  # cap on speakers/voices loaded (None: all)
    max_images: int | None = None  # cap on images loaded (None: all)
    test_fraction: float = 0.2  # share of voices (and images) held out
    gl_iterations: int = 100  # Griffin-Lim iterations
    image_size: int = 32  # side of generated images, in pixels
    seed: int = 1234
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    gan: GanConfig = field(default_factory=GanConfig)
    paired: PairedConfig = field(default_factory=PairedConfig)
    tokens: TokenConfig = field(default_factory=TokenConfig)


PRESETS: dict[str, Preset] = {
    "ci": Preset(
        name="ci",
        max_voices=10,
        max_images=300,
        gl_iterations=16,
        autoencoder=AutoencoderConfig(
            latent_dim=16, filters=(32, 32, 64, 64), epochs=2, batch_size=16, listener_epochs=2
        ),
        gan=GanConfig(
            generator_width=32,
            discriminator_width=16,
            encoder_units=64,
            epochs=2,
            average_decay=0.5,  # a handful of steps: a short average, still the same mechanism
            inversion_steps=20,
            adam_steps=20,
            baseline_steps=40,
            eval_images=64,
            classifier_epochs=2,
            head_epochs=5,
            ablation_epochs=2,
        ),
        paired=PairedConfig(
            embed_dim=8,
            noise_dim=8,
            generator_width=16,
            discriminator_width=8,
            epochs=1,
            gan_epochs=1,
            critic_steps=2,
            triplet_epochs=1,
            diversity_samples=3,
            diversity_clips=5,
            classifier_epochs=1,
        ),
        tokens=TokenConfig(
            image_codes=16,
            audio_codes=16,
            audio_groups=2,
            code_dim=8,
            image_width=8,
            audio_width=16,
            vae_epochs=2,
            translator_dim=16,
            audio_to_image_dim=None,
            translator_heads=2,
            translator_blocks=1,
            translator_epochs=2,
            classifier_epochs=1,
        ),
    ),
    "demo": Preset(name="demo", gl_iterations=100),
    "full": Preset(name="full", gl_iterations=200),
}


def load_preset(name: str | None = None) -> Preset:
    """The preset named by ``name`` or ``$A2I_PRESET`` (default ``demo``), seed overrides applied."""
    name = (name or os.environ.get("A2I_PRESET") or "demo").strip().lower()
    if name not in PRESETS:
        raise ConfigError(
            f"Unknown preset {name!r} (from A2I_PRESET). Valid presets: {', '.join(PRESET_NAMES)}."
        )
    preset = PRESETS[name]
    seed = os.environ.get("A2I_SEED")
    if seed:
        if not seed.strip().isdigit():
            raise ConfigError(f"A2I_SEED must be a non-negative integer, got {seed!r}.")
        preset = dataclasses.replace(preset, seed=int(seed))
    return preset


def _source(var: str, default: str, named: tuple[str, ...], value: str | None) -> str:
    value = (value or os.environ.get(var) or default).strip()
    if value.lower() in named:
        return value.lower()
    path = Path(value).expanduser()
    if path.is_dir():
        return str(path.resolve())
    raise ConfigError(
        f"{var}={value!r} is neither a known source ({', '.join(named)}) nor an existing "
        "folder. Set it to one of those names or to the path of a folder of files."
    )


def audio_source(value: str | None = None) -> str:
    """``sample``, ``fsdd`` or an absolute folder path, from ``value`` or ``$A2I_AUDIO_SOURCE``."""
    return _source("A2I_AUDIO_SOURCE", "sample", AUDIO_SOURCES, value)


def image_source(value: str | None = None) -> str:
    """``digits``, ``mnist`` or an absolute folder path, from ``value`` or ``$A2I_IMAGE_SOURCE``."""
    return _source("A2I_IMAGE_SOURCE", "digits", IMAGE_SOURCES, value)


def streams_features(source: str) -> bool:
    """Whether the features of ``source`` stream through ``tf.data`` from disk rather than being
    loaded into memory, from ``$A2I_STREAMING``: ``auto`` (default) streams every source but the
    embedded ``sample``; ``1``/``0`` force it on or off. Taught in ``01_preprocess.ipynb``."""
    value = os.environ.get("A2I_STREAMING", "auto").strip().lower()
    if value in ("", "auto"):
        return source != "sample"
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"A2I_STREAMING must be auto, 1 or 0, got {value!r}.")


def source_tag(source: str) -> str:
    """A short file-name-safe name for a source; a folder becomes ``folder-<name>-<hash>``
    (the hash of its full path, so two folders with one name never share features)."""
    if source in AUDIO_SOURCES + IMAGE_SOURCES:
        return source
    name = re.sub(r"[^A-Za-z0-9]+", "-", Path(source).name).strip("-").lower()
    return f"folder-{name}-{hashlib.sha256(str(Path(source).resolve()).encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Paths:
    """Where a run reads and writes; everything hangs off one root."""

    root: Path
    cache: Path

    @property
    def features(self) -> Path:
        return self.root / "features"

    @property
    def audio_model(self) -> Path:
        return self.root / "audio_model"

    @property
    def image_model(self) -> Path:
        return self.root / "image_model"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def results(self) -> Path:
        """Where ``benchmarks/run_all.py`` writes and ``07_evaluation.ipynb`` reads."""
        return self.root / "benchmarks" / "results"


def paths(preset: Preset | None = None) -> Paths:
    """Artifact and cache locations from ``$A2I_ARTIFACTS`` and ``$A2I_CACHE``.

    Without ``A2I_ARTIFACTS`` the ci preset writes under ``outputs/ci`` (ignored by
    git) so that quick runs never replace the shipped demo models.
    """
    preset = preset or load_preset()
    root_env = os.environ.get("A2I_ARTIFACTS")
    if root_env:
        root = Path(root_env).expanduser().resolve()
    elif preset.name == "ci":
        root = REPO_ROOT / "outputs" / "ci"
    else:
        root = REPO_ROOT
    cache_env = os.environ.get("A2I_CACHE")
    cache = Path(cache_env).expanduser().resolve() if cache_env else Path.home() / ".keras"
    return Paths(root=root, cache=cache)
