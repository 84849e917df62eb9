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
