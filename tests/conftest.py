"""Shared fixtures: synthetic audio and image files written into a temporary folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from helpers.config import FrontEnd, load_preset


@pytest.fixture
def front_end() -> FrontEnd:
    return load_preset("ci").front_end


def tone(frequency: float, seconds: float, sample_rate: int, amplitude: float = 0.5) -> np.ndarray:
    """A sine tone as float32."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.fixture
def write_audio(tmp_path: Path):
    """Write ``data`` ((samples,) or (samples, channels)) to ``tmp_path/name``; return the path."""

    def write(name: str, data: np.ndarray, sample_rate: int, subtype: str | None = None) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, data, sample_rate, subtype=subtype)
        return path

    return write


def _save_tiny_models(root: Path, image_latent_dim: int | None = None) -> Path:
    """Untrained ci-size audio and image models saved as real bundles under ``root``; the
    image model may take another latent size than the audio model (a mismatched pair)."""
    from helpers.audio import NormStats
    from helpers.models.autoencoder import AudioCodec, build_vae, save_audio_codec
    from helpers.models.gan import build_gan, save_image_model

    preset = load_preset("ci")
    front_end, latent_dim = preset.front_end, preset.autoencoder.latent_dim
    stats = NormStats(np.full(front_end.n_freq, -40.0), np.full(front_end.n_freq, 10.0))
    vae = build_vae((front_end.n_freq, front_end.n_frames, 1), stats, preset.autoencoder, seed=0)
    codec = AudioCodec(vae.encoder, vae.decoder, stats, None, front_end)
    save_audio_codec(root / "audio_model", codec, {"preset": "ci"})
    gan = build_gan(image_latent_dim or latent_dim, (32, 32, 1), preset.gan, seed=0)
    extra = {"projection": {"steps": 2, "jacobian_updates": 1, "damping": 1e-3}}
    save_image_model(root / "image_model", {"generator": gan.generator, "encoder": gan.encoder}, extra)
    return root


@pytest.fixture(scope="session")
def save_tiny_models():
    """``save_tiny_models(root, image_latent_dim=None)`` -> ``root`` holding both model folders."""
    return _save_tiny_models


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> Path:
    """A root folder with untrained ci-size ``audio_model/`` and ``image_model/`` that fit together."""
    return _save_tiny_models(tmp_path_factory.mktemp("tiny_models"))
