import numpy as np
import pytest
from PIL import Image

from helpers import datasets, images
from helpers.errors import ImageFileError


def test_png_with_alpha_is_composited_on_black(tmp_path):
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[..., :3] = 255
    rgba[:5, :, 3] = 255  # top half opaque white, bottom half transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    pixels = images.load_image(tmp_path / "a.png", 10, channels=1)
    assert pixels.shape == (10, 10, 1)
    assert pixels[:4].min() > 0.95 and pixels[6:].max() < 0.05


def test_sixteen_bit_png_is_scaled(tmp_path):
    data = np.full((8, 8), 65535, dtype=np.uint16)
    data[:, :4] = 0
    Image.fromarray(data).save(tmp_path / "deep.png")
    pixels = images.load_image(tmp_path / "deep.png", 8, channels=1)
    assert pixels[:, :3].max() < 0.05 and pixels[:, 5:].min() > 0.95


def test_palette_gif_and_tiny_image(tmp_path):
    Image.new("P", (16, 16), color=3).save(tmp_path / "p.gif")
    Image.new("L", (1, 1), color=200).save(tmp_path / "dot.png")
    assert images.load_image(tmp_path / "p.gif", 32, channels=3).shape == (32, 32, 3)
    dot = images.load_image(tmp_path / "dot.png", 32, channels=1)
    assert dot.shape == (32, 32, 1) and np.allclose(dot, 200 / 255, atol=0.01)


def test_large_photo_is_cropped_and_resized(tmp_path):
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)).resize((4000, 3000)).save(
        tmp_path / "big.jpg", quality=80
    )
    pixels = images.load_image(tmp_path / "big.jpg", 64, channels=None)
    assert pixels.shape == (64, 64, 3)


def test_corrupt_and_missing_images_raise_a_clear_error(tmp_path):
    Image.new("L", (16, 16)).save(tmp_path / "ok.jpg")
    (tmp_path / "broken.jpg").write_bytes((tmp_path / "ok.jpg").read_bytes()[:20])
    for bad in (tmp_path / "broken.jpg", tmp_path / "absent.png"):
        with pytest.raises(ImageFileError, match="What to do") as caught:
            images.load_image(bad, 32)
        assert bad.name in str(caught.value)


def test_image_folder_labels_colour_and_bad_files(tmp_path):
    folder = tmp_path / "imgs"
    (folder / "4").mkdir(parents=True)
    Image.new("RGB", (20, 20), color=(255, 0, 0)).save(folder / "7_red.png")
    Image.new("L", (20, 20), color=128).save(folder / "4" / "grey.png")
    (folder / "junk.png").write_text("not an image")
    with pytest.warns(UserWarning, match="skipped 1 unreadable image.*junk.png"):
        found = datasets.image_folder(folder, 32)
    assert found.images.shape == (2, 32, 32, 3)
    assert sorted(found.labels.tolist()) == [4, 7]


def test_empty_image_folder_is_an_error(tmp_path):
    from helpers.errors import ConfigError

    with pytest.raises(ConfigError, match="no readable images"):
        datasets.image_folder(tmp_path, 32)


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_save_image_round_trip(tmp_path, suffix):
    image = np.linspace(0, 1, 32 * 32, dtype=np.float32).reshape(32, 32, 1)
    path = images.save_image(tmp_path / f"x{suffix}", image)
    back = images.load_image(path, 32, channels=1)
    assert np.abs(back - image).max() < (1 / 255 + 1e-6 if suffix == ".png" else 0.05)


def test_tanh_range_round_trip_and_grid():
    x = np.random.default_rng(0).uniform(0, 1, (5, 4, 4, 1)).astype(np.float32)
    np.testing.assert_allclose(images.from_tanh_range(images.to_tanh_range(x)), x, atol=1e-6)
    grid = images.image_grid(x, n_cols=3, pad=1)
    assert grid.shape == (2 * 5 - 1, 3 * 5 - 1, 1)
    np.testing.assert_array_equal(grid[:4, :4], x[0])


def test_images_for_the_model_come_with_notes_of_what_changed(tmp_path):
    from PIL import Image

    from helpers.errors import ImageFileError
    from helpers.images import load_image_with_notes

    Image.new("L", (32, 32), 128).save(tmp_path / "exact.png")
    pixels, notes = load_image_with_notes(tmp_path / "exact.png", 32, 1)
    assert pixels.shape == (32, 32, 1) and notes == [] and abs(float(pixels.mean()) - 128 / 255) < 1e-6
    Image.new("RGBA", (96, 96), (255, 0, 0, 128)).save(tmp_path / "big.png")
    pixels, notes = load_image_with_notes(tmp_path / "big.png", 32, 1)
    assert pixels.shape == (32, 32, 1)
    assert notes == [
        "resized from 96 x 96 to 32 x 32",
        "colour converted to grey",
        "transparency composited onto black",
    ]
    Image.new("L", (32, 32)).save(tmp_path / "grey.png")
    assert load_image_with_notes(tmp_path / "grey.png", 32, 3)[1] == ["grey copied to three colour channels"]
    Image.new("L", (32, 20)).save(tmp_path / "wide.png")
    with pytest.raises(ImageFileError, match=r"wide\.png.*32 x 20.*square"):
        load_image_with_notes(tmp_path / "wide.png", 32, 1)
    with pytest.raises(ImageFileError, match="no such file"):
        load_image_with_notes(tmp_path / "missing.png", 32, 1)


def test_jpeg_round_trip_matches_a_written_jpeg(tmp_path):
    from helpers.images import jpeg_round_trip, load_image, save_image

    image = np.random.default_rng(0).uniform(0, 1, (32, 32, 1)).astype(np.float32)
    save_image(tmp_path / "x.jpg", image, quality=75)
    np.testing.assert_allclose(
        jpeg_round_trip(image[None], 75)[0], load_image(tmp_path / "x.jpg", 32), atol=1e-6
    )


def _enlarged(picture: np.ndarray, factor: float, method: Image.Resampling) -> np.ndarray:
    size = round(picture.shape[0] * factor)
    plane = Image.fromarray(np.round(picture * 255).astype(np.uint8))
    return np.asarray(plane.resize((size, size), method), np.float32) / 255.0


@pytest.mark.parametrize(
    ("factor", "method"),
    [(8, Image.Resampling.BILINEAR), (8, Image.Resampling.BICUBIC), (3.3, Image.Resampling.LANCZOS)],
)
def test_an_enlarged_picture_shrinks_back_to_itself(factor, method):
    """Slides and screenshots enlarge a small picture with an interpolating filter: its pixel
    centres keep their values, and the shrink reads them there instead of averaging."""
    picture = datasets.sklearn_digits(32).images[:6, ..., 0]
    for original in picture:
        big = _enlarged(original, factor, method)
        back = images.shrink_plane(big, 32)
        averaged = np.asarray(Image.fromarray(big, mode="F").resize((32, 32), Image.Resampling.BICUBIC))
        error, averaged_error = (np.sqrt(np.mean((x - original) ** 2)) for x in (back, averaged))
        assert error < 0.006 and error <= averaged_error, (error, averaged_error)
    batch = images.resize_images(
        np.stack([_enlarged(p, 8, Image.Resampling.BILINEAR) for p in picture])[..., None], 32
    )
    assert batch.shape == (6, 32, 32, 1) and np.abs(batch[..., 0] - picture).max() < 0.05


def test_a_large_drawing_shrinks_with_the_antialiased_filter():
    """A drawing made at 256 pixels is no enlargement: sampling it would alias its strokes."""
    from PIL import ImageDraw

    drawing = Image.new("L", (256, 256), 0)
    ImageDraw.Draw(drawing).ellipse((60, 40, 200, 220), outline=255, width=18)
    ImageDraw.Draw(drawing).line((30, 60, 230, 200), fill=200, width=7)
    plane = np.asarray(drawing, np.float32) / 255.0
    expected = np.asarray(Image.fromarray(plane, mode="F").resize((32, 32), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(images.shrink_plane(plane, 32), expected)
    kept = images.resize_images(plane[None, ..., None], 32, undo_enlargement=False)[0, ..., 0]
    np.testing.assert_array_equal(kept, np.clip(expected, 0, 1))
