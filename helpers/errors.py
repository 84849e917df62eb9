"""The project's own error types: each message names the file or setting and the fix."""

from __future__ import annotations

from pathlib import Path


class A2IError(Exception):
    """Base class for every error this suite raises on bad input or bad artifacts."""


class ConfigError(A2IError, ValueError):
    """An environment variable or argument has a value the suite does not know."""


class AudioFileError(A2IError):
    """An audio file could not be read or holds no usable signal."""

    def __init__(self, path: str | Path, problem: str, fix: str = "") -> None:
        self.path = Path(path)
        fix = fix or "check the file plays in an audio player, or remove it from the input"
        super().__init__(f"{self.path}: {problem}. What to do: {fix}.")


class ImageFileError(A2IError):
    """An image file could not be read or converted."""

    def __init__(self, path: str | Path, problem: str, fix: str = "") -> None:
        self.path = Path(path)
        fix = fix or "check the file opens in an image viewer, or remove it from the input"
        super().__init__(f"{self.path}: {problem}. What to do: {fix}.")


class DownloadError(A2IError):
    """A download failed or did not match its pinned hash."""


class ArtifactError(A2IError):
    """Saved features or models are missing, truncated or do not match the caller."""
