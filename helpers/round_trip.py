"""The whole bridge in one object: clip -> ``z`` -> image, and image -> ``ẑ`` -> clip.

``load_bridge`` joins the audio model of ``02_audio_autoencoder.ipynb`` and the image
model of ``03_gan_and_projection.ipynb`` after checking they share a latent size;
every method works on a batch. Taught in ``04_round_trip.ipynb``; the command-line
converter (``helpers/convert.py``) and ``benchmarks/round_trip.py`` use it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from helpers.audio import spectrogram_to_waveform
from helpers.config import PRESETS, REPO_ROOT, FrontEnd, Paths, ProjectionSettings
from helpers.errors import ArtifactError
from helpers.models.autoencoder import AudioCodec, load_audio_codec
from helpers.models.gan import generate, load_image_model
from helpers.models.semantic import DrawingReader
from helpers.projection import project_with_settings

DEFAULT_GL_ITERATIONS = 100


@dataclass
class Bridge:
    """The trained halves of the round trip and the settings that join them."""

    codec: AudioCodec
    generator: keras.Model
    inversion_encoder: keras.Model
    projection: ProjectionSettings  # feedback and Gauss-Newton steps, tolerances, ...
    gl_iterations: int
    seed: int = 0  # Griffin-Lim's initial phase
    judge: keras.Model | None = None  # the image model's digit classifier, when it was saved
    drawing_reader: DrawingReader | None = None  # what a drawing (no code in it) maps to, when saved

    @property
    def front_end(self) -> FrontEnd:
        return self.codec.front_end

    @property
    def latent_dim(self) -> int:
        return self.codec.latent_dim

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(v) for v in self.generator.output_shape[1:])

    def clips_to_latents(self, clips: np.ndarray) -> np.ndarray:
        """Waveforms ``(n, samples)`` -> whitened latents ``(n, d)``."""
        return self.codec.clips_to_latents(np.asarray(clips, np.float32))

    def latents_to_images(self, latents: np.ndarray) -> np.ndarray:
        """Latents ``(n, d)`` -> images ``(n, h, w, c)`` in [0, 1]."""
        return generate(self.generator, latents)

    def images_to_latents(self, images: np.ndarray) -> np.ndarray:
        """Images ``(n, h, w, c)`` in [0, 1] -> latents ``(n, d)`` by projection (``project_images``);
        a drawing, which holds no code, gets its digit's prototype latent when the image model
        has a drawing reader."""
        images = np.asarray(images, np.float32)
        if images.shape[1:] != self.image_shape:
            raise ValueError(f"expected images of shape {self.image_shape}, got {images.shape[1:]}")
        return project_with_settings(
            images, self.generator, self.inversion_encoder, self.projection, self.drawing_reader
        )

    def latents_to_spectrograms_db(self, latents: np.ndarray) -> np.ndarray:
        """Latents ``(n, d)`` -> dB spectrograms ``(n, F, T)``."""
        return self.codec.latents_to_spectrograms_db(latents)

    def spectrograms_to_clips(self, spectrograms_db: np.ndarray) -> np.ndarray:
        """dB spectrograms ``(n, F, T)`` -> waveforms ``(n, samples)`` by Griffin-Lim."""
        return spectrogram_to_waveform(spectrograms_db, self.front_end, self.gl_iterations, self.seed)

    def latents_to_clips(self, latents: np.ndarray) -> np.ndarray:
        """Latents ``(n, d)`` -> waveforms ``(n, samples)`` (decoder, then Griffin-Lim)."""
        return self.spectrograms_to_clips(self.latents_to_spectrograms_db(latents))

    def clips_to_images(self, clips: np.ndarray) -> np.ndarray:
        """Audio -> image: waveforms ``(n, samples)`` -> images ``(n, h, w, c)`` in [0, 1]."""
        return self.latents_to_images(self.clips_to_latents(clips))

    def images_to_clips(self, images: np.ndarray) -> np.ndarray:
        """Image -> audio: images ``(n, h, w, c)`` in [0, 1] -> waveforms ``(n, samples)``."""
        return self.latents_to_clips(self.images_to_latents(images))


def model_folders(paths: Paths, artifacts: str | Path | None = None) -> tuple[Path, Path]:
    """Where the two models are. With ``artifacts`` (a folder the user named): its
    ``audio_model/`` and ``image_model/``, with no fallback, so a missing model is an error.
    Without: ``audio_model/`` and ``image_model/`` under ``paths.root`` when a model was
    trained there, else the repository's shipped demo models (each folder chosen on its own)."""
    if artifacts is not None:
        root = Path(artifacts).expanduser()
        return root / "audio_model", root / "image_model"
    chosen = []
    for name in ("audio_model", "image_model"):
        trained = paths.root / name
        chosen.append(trained if (trained / "config.json").is_file() else REPO_ROOT / name)
    return chosen[0], chosen[1]


def load_bridge(
    audio_model: str | Path, image_model: str | Path, gl_iterations: int | None = None, seed: int = 0
) -> Bridge:
    """Load both models and check they fit together.

    ``gl_iterations`` defaults to the Griffin-Lim budget of the preset the audio model
    was trained with; projection settings missing from the image model's ``config.json``
    (an older save) take ``ProjectionSettings``'s defaults. A latent size the two models do not
    share is an ``ArtifactError`` that names both folders.
    """
    codec, audio_config = load_audio_codec(audio_model)
    try:
        models, image_config = load_image_model(image_model, latent_dim=codec.latent_dim)
    except ArtifactError as exc:
        raise ArtifactError(f"{exc} (audio model: {Path(audio_model) / 'config.json'})") from exc
    if gl_iterations is None:
        preset = PRESETS.get(str(audio_config.get("preset")))
        gl_iterations = preset.gl_iterations if preset else DEFAULT_GL_ITERATIONS
    reader = None
    if "reader" in models and "prototypes" in image_config:
        reader = DrawingReader(models["reader"], np.asarray(image_config["prototypes"], np.float32))
        if reader.prototypes.shape[1:] != (codec.latent_dim,):
            raise ArtifactError(
                f"{Path(image_model) / 'config.json'}: its prototypes are not latents of size "
                f"{codec.latent_dim}: "
                "rerun notebooks/03_gan_and_projection.ipynb."
            )
    return Bridge(
        codec=codec,
        generator=models["generator"],
        inversion_encoder=models["encoder"],
        projection=ProjectionSettings.from_saved(image_config.get("projection", {})),
        gl_iterations=int(gl_iterations),
        seed=seed,
        judge=models.get("judge"),
        drawing_reader=reader,
    )
