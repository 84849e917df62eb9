"""Images: loading any PIL-readable file, resizing, scaling, writing PNG/JPEG, grids.

Pixels are float32 in [0, 1], shaped ``(height, width, channels)`` with 1 (grey) or
3 (RGB) channels. Taught in ``01_preprocess.ipynb``.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from helpers.artifacts import atomic_path
from helpers.errors import ImageFileError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}


def _to_array(image: Image.Image, channels: int) -> np.ndarray:
    """Pixels of ``image`` as float32 [0, 1], transparency composited onto black."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        pixels = np.asarray(image, dtype=np.float32)
        # "I" and "I;16*" hold 16-bit samples; float images are [0, 1] if they fit, else 8-bit scale
        float_peak = 1.0 if pixels.max(initial=0.0) <= 1.0 else 255.0
        peak = float_peak if image.mode == "F" else 65535.0
        image = Image.fromarray(np.clip(pixels / peak * 255.0, 0, 255).astype(np.uint8), "L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA"):
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    image = image.convert("L" if channels == 1 else "RGB")
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    return pixels[..., None] if channels == 1 else pixels


def is_greyscale(image: Image.Image) -> bool:
    """True when ``image`` has no colour: a grey mode, or a palette/RGB with equal channels."""
    if image.mode in _GREY_MODES:
        return True
    rgb = np.asarray(image.convert("RGB").resize((32, 32)), dtype=np.int16)
    return bool(np.abs(rgb[..., 0] - rgb[..., 1]).max() < 3 and np.abs(rgb[..., 1] - rgb[..., 2]).max() < 3)


def load_image(path: str | Path, size: int, channels: int | None = 1) -> np.ndarray:
    """Read an image as ``(size, size, channels)`` float32 in [0, 1].

    Non-square images are centre-cropped to a square before resizing; EXIF rotation
    is applied; 16-bit and palette images are converted; alpha is composited onto
    black. ``channels=None`` keeps colour only if the file has any. Raises
    ``ImageFileError`` naming the file when it cannot be decoded.
    """
    path = Path(path)
    if path.is_dir():
        raise ImageFileError(path, "is a folder, not a file", "pass one image file, or use a folder source")
    if not path.is_file():
        raise ImageFileError(path, "no such file", "check the path")
    try:
        with Image.open(path) as opened:
            opened.draft(None, (size * 8, size * 8))  # JPEG: decode big photos at reduced size
            image = ImageOps.exif_transpose(opened)
            image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageFileError(path, f"not a readable image ({type(exc).__name__}: {exc})") from exc
    if channels is None:
        channels = 1 if is_greyscale(image) else 3
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1, 3 or None, got {channels}")
    image = ImageOps.fit(image, (min(image.size),) * 2) if image.size[0] != image.size[1] else image
    pixels = _to_array(image, channels)
    return resize_images(pixels[None], size)[0]


def load_image_with_notes(path: str | Path, size: int, channels: int) -> tuple[np.ndarray, list[str]]:
    """An image for a generator of ``(size, size, channels)`` images, plus a note for each
    conversion made: resizing, colour to grey (or grey to colour), transparency, 16-bit
    or palette modes. A non-square image is refused (``ImageFileError``): generated images
    are square, and cropping one would lose part of what it encodes. Used by the converter."""
    path = Path(path)
    if not path.is_file():
        raise ImageFileError(
            path, "is a folder, not a file" if path.is_dir() else "no such file", "check the path"
        )
    try:
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened)
            mode, (width, height) = image.mode, image.size
            transparent = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info)
            grey = is_greyscale(image)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageFileError(path, f"not a readable image ({type(exc).__name__}: {exc})") from exc
    if width != height:
        raise ImageFileError(
            path,
            f"is {width} x {height} pixels; generated images are square ({size} x {size})",
            "pass the whole generated image; crop or pad it back to a square if it was edited",
        )
    notes = []
    if width != size:
        notes.append(f"resized from {width} x {height} to {size} x {size}")
    if channels == 1 and not grey:
        notes.append("colour converted to grey")
    if channels == 3 and grey:
        notes.append("grey copied to three colour channels")
    if transparent:
        notes.append("transparency composited onto black")
    if mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # Pillow names 16-bit PNGs I or I;16 by version
        notes.append(f"{'floating-point' if mode == 'F' else '16-bit'} pixels scaled to 8 bits")
    return load_image(path, size, channels), notes


def resize_images(images: np.ndarray, size: int, undo_enlargement: bool = True) -> np.ndarray:
    """Resize ``(n, h, w, c)`` images in [0, 1] to ``(n, size, size, c)`` (bicubic, clipped).

    Shrinking an image that is itself an enlargement of a ``size``-pixel picture (a slide or
    a screenshot of it) reads the picture's pixels back at their centres (``shrink_plane``)
    instead of averaging them with their neighbours; ``undo_enlargement=False`` always uses
    Pillow's antialiased bicubic, as most image editors do.
    """
    images = np.asarray(images, dtype=np.float32)
    if images.shape[1:3] == (size, size):
        return images
    shrinking = undo_enlargement and min(images.shape[1:3]) > size
    out = np.empty((len(images), size, size, images.shape[-1]), dtype=np.float32)
    for i, image in enumerate(images):
        for c in range(images.shape[-1]):
            out[i, ..., c] = shrink_plane(image[..., c], size) if shrinking else _bicubic(image[..., c], size)
    return np.clip(out, 0.0, 1.0)


def _bicubic(plane: np.ndarray, size: int) -> np.ndarray:
    """A 2-D plane resized to ``size x size`` by Pillow's bicubic filter (antialiased when shrinking)."""
    return np.asarray(Image.fromarray(plane, mode="F").resize((size, size), Image.Resampling.BICUBIC))


def _bilinear(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    return np.asarray(Image.fromarray(plane, mode="F").resize(shape[::-1], Image.Resampling.BILINEAR))


def sample_at_centres(plane: np.ndarray, size: int) -> np.ndarray:
    """The values of a large plane ``(h, w)`` at the centres of a ``size x size`` grid laid over
    it, bilinearly interpolated. Enlarging with any interpolating filter (bilinear, bicubic,
    Lanczos) keeps the small picture's values at exactly those points."""
    height, width = plane.shape
    rows = (np.arange(size) + 0.5) * height / size - 0.5
    cols = (np.arange(size) + 0.5) * width / size - 0.5
    return ndimage.map_coordinates(plane, np.meshgrid(rows, cols, indexing="ij"), order=1, mode="nearest")


def shrink_plane(plane: np.ndarray, size: int) -> np.ndarray:
    """A large plane ``(h, w)`` brought down to ``size x size`` (taught in ``04_round_trip.ipynb``).

    If the plane is an enlargement of a ``size``-pixel picture, sampling it at that picture's
    pixel centres gives the picture back, where averaging (an antialiased shrink) blurs each
    pixel with its neighbours and blurs the code in it. Which one it was is told by
    enlarging both candidates again: the one that redraws the plane more closely is kept
    (for a real large drawing or photo that is the antialiased shrink).
    """
    plane = np.asarray(plane, dtype=np.float32)
    candidates = (sample_at_centres(plane, size), _bicubic(plane, size))
    errors = [np.mean(np.square(_bilinear(small, plane.shape) - plane)) for small in candidates]
    return candidates[int(np.argmin(errors))]


def as_png(images: np.ndarray) -> np.ndarray:
    """Images in [0, 1] rounded to the 256 levels a PNG file stores."""
    return np.round(np.clip(images, 0.0, 1.0) * 255.0) / 255.0


def to_tanh_range(images: np.ndarray) -> np.ndarray:
    """[0, 1] pixels to [-1, 1] (the range of a tanh generator)."""
    return np.asarray(images, dtype=np.float32) * 2.0 - 1.0


def from_tanh_range(images: np.ndarray) -> np.ndarray:
    """[-1, 1] pixels back to [0, 1], clipped."""
    return np.clip((np.asarray(images, dtype=np.float32) + 1.0) / 2.0, 0.0, 1.0)


def save_image(path: str | Path, image: np.ndarray, quality: int = 95) -> Path:
    """Write a ``(h, w, 1 or 3)`` [0, 1] image as PNG or JPEG (by suffix), atomically."""
    path = Path(path)
    pixels = np.round(np.clip(np.asarray(image), 0.0, 1.0) * 255.0).astype(np.uint8)
    pil = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"{path}: write images as .png, .jpg or .jpeg")
    with atomic_path(path) as tmp:
        if suffix == ".png":
            pil.save(tmp, format="PNG")
        else:
            pil.save(tmp, format="JPEG", quality=quality)
    return path


def jpeg_round_trip(images: np.ndarray, quality: int) -> np.ndarray:
    """``(n, h, w, c)`` images in [0, 1] as they come back from a JPEG file at ``quality``
    (encoded and decoded in memory with PIL, as ``save_image`` would write them)."""
    images = np.asarray(images)
    out = np.empty(images.shape, dtype=np.float32)
    for i, image in enumerate(images):
        pixels = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(
            buffer, format="JPEG", quality=quality
        )
        decoded = np.asarray(Image.open(buffer), dtype=np.float32) / 255.0
        out[i] = decoded.reshape(image.shape)
    return out


def image_grid(images: np.ndarray, n_cols: int, pad: int = 1) -> np.ndarray:
    """Tile ``(n, h, w, c)`` images into one ``(rows*(h+pad)-pad, cols*(w+pad)-pad, c)`` image."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    n_rows = -(-n // n_cols)
    grid = np.ones((n_rows * (h + pad) - pad, n_cols * (w + pad) - pad, c), dtype=images.dtype)
    for i, image in enumerate(images):
        r, col = divmod(i, n_cols)
        grid[r * (h + pad) : r * (h + pad) + h, col * (w + pad) : col * (w + pad) + w] = image
    return grid
