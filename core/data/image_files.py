"""Reading an uploaded picture file safely: known formats only, size caps, shrunk decoding.

Nothing from outside is trusted: the header is checked before any pixel is decoded, and the
picture is shrunk while it is decoded, so a huge or hostile file never takes the server's
memory. `core.data.preprocess` turns the pixels into a model's input.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# What a digit photo needs: a phone camera's 12-megapixel picture (4032x3024) passes; more is
# refused from the header, before any pixel is decoded.
MAX_IMAGE_PIXELS = 13_000_000
# An upload is shrunk to this longest side while it is decoded (JPEG decodes at 1/2, 1/4 or
# 1/8 scale directly), before any conversion: photo cleaning works at 320 pixels, and a
# 12-megapixel picture kept as float32 RGBA would take 190 MB.
MAX_DECODED_SIDE = 1600
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
# Longest side and most elongated shape of an upload: a 1 x 25,000,000 image passes the pixel
# limit, yet no browser can show it (st.image refuses sides over 65,500) and no digit is that.
MAX_IMAGE_SIDE = 10_000
MAX_ASPECT_RATIO = 20
# The formats the Draw page names (png, jpg, gif, bmp, webp, tiff); Pillow reads many more
# (ICO, PSD, EPS...) that an upload should not reach.
UPLOAD_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF")


class UnreadableImageError(ValueError):
    """Raised when uploaded bytes are not an image Pillow can read."""


class ImageTooLargeError(ValueError):
    """Raised when an uploaded image has more pixels or bytes than allowed."""


def pil_to_array(image: Image.Image) -> np.ndarray:
    """Convert a PIL image of any mode to an L, RGB or RGBA uint8 array."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit scans use 0-65535; an 8-bit picture stored as 16-bit keeps 0-255.
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else 255.0
        return np.clip(np.rint(values / top * 255.0), 0, 255).astype(np.uint8)
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        top = 1.0 if values.max() <= 1.0 else 255.0
        return np.clip(values / top * 255.0, 0, 255).astype(np.uint8)
    has_alpha = image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        return np.asarray(image.convert("RGBA"))
    if image.mode in ("L", "1"):
        return np.asarray(image.convert("L"))
    # P, CMYK, YCbCr, LAB, HSV and friends: Pillow knows how to make RGB of them.
    return np.asarray(image.convert("RGB"))


def _check_shape(width: int, height: int) -> None:
    """Refuse an image side over `MAX_IMAGE_SIDE` or a shape longer than `MAX_ASPECT_RATIO`."""
    if max(width, height) > MAX_IMAGE_SIDE:
        raise ImageTooLargeError(
            f"The image is {width}x{height} pixels; upload one whose sides are at most "
            f"{MAX_IMAGE_SIDE:,} pixels."
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise ImageTooLargeError(
            f"The image is {width}x{height} pixels, a thin strip; upload a picture of one "
            f"digit (at most {MAX_ASPECT_RATIO} times longer than wide)."
        )


def _shrink_while_decoding(image: Image.Image, max_side: int) -> Image.Image:
    """Decode `image` with its longest side at most `max_side` (JPEG: scaled in the decoder)."""
    target = (max_side, max_side)
    if image.format == "JPEG":
        # The JPEG decoder itself decodes at 1/2, 1/4 or 1/8 scale, to at least the size
        # the picture is shrunk to.
        scale = min(1.0, max_side / max(image.size))
        image.draft(image.mode, (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    image.load()
    if max(image.size) <= max_side:
        return image
    # Modes Pillow cannot resample smoothly become the mode `pil_to_array` would make.
    if image.mode == "1":
        image = image.convert("L")
    elif image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif image.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        image = image.convert("RGB")
    elif image.mode in ("La", "PA", "RGBa"):
        image = image.convert("RGBA")
    # Area averaging: no overshoot, so 16-bit values stay within their range.
    image.thumbnail(target, Image.Resampling.BOX)
    return image


def load_uploaded_image(
    data: bytes,
    max_pixels: int = MAX_IMAGE_PIXELS,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_side: int = MAX_DECODED_SIDE,
) -> np.ndarray:
    """Read an uploaded PNG/JPEG/... file into an array ready for `preprocess_digit`.

    The EXIF orientation of photos is applied; palette, CMYK, 16-bit and alpha images are
    converted. The size is checked from the header before any pixel is decoded, so a
    decompression bomb is refused without using its memory; a large picture is shrunk to
    `max_side` while it is decoded, before any conversion.

    Args:
        data: The file's bytes.
        max_pixels: Largest width x height accepted.
        max_bytes: Largest file size accepted.
        max_side: Longest side of the returned picture (larger pictures are shrunk).

    Returns:
        A uint8 array of shape (H, W) grayscale, (H, W, 3) RGB or (H, W, 4) RGBA, with
        max(H, W) <= `max_side`.

    Raises:
        UnreadableImageError: If the bytes are empty or not a PNG, JPEG, GIF, BMP, WebP or
            TIFF image (`UPLOAD_FORMATS`) that can be decoded.
        ImageTooLargeError: If the file or the image is larger than allowed, a side is
            longer than `MAX_IMAGE_SIDE` or the shape is a thin strip.
    """
    if not data:
        raise UnreadableImageError("The uploaded file is empty; upload a PNG or JPEG image.")
    if len(data) > max_bytes:
        raise ImageTooLargeError(
            f"The file is {len(data) / 1e6:.1f} MB; upload an image under {max_bytes / 1e6:.0f} MB."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageTooLargeError(
                        f"The image is {width}x{height} pixels ({width * height / 1e6:.0f} "
                        f"megapixels); upload one with at most {max_pixels:,} pixels (a "
                        "phone photo of 12 megapixels is fine, or crop the picture first)."
                    )
                if width == 0 or height == 0:
                    raise UnreadableImageError("The image has no pixels.")
                _check_shape(width, height)
                small = _shrink_while_decoding(image, max_side)
                return pil_to_array(ImageOps.exif_transpose(small))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ImageTooLargeError(
            f"The image is too large to open safely ({error}); upload a smaller image."
        ) from error
    except UnidentifiedImageError as error:
        raise UnreadableImageError(
            "This file is not an image that can be read; upload a PNG or JPEG picture of "
            "one handwritten digit."
        ) from error
    except (OSError, SyntaxError, ValueError) as error:
        if isinstance(error, (ImageTooLargeError, UnreadableImageError)):
            raise
        raise UnreadableImageError(
            f"The image could not be decoded ({error}); it may be truncated or damaged. "
            "Upload a PNG or JPEG picture of one handwritten digit."
        ) from error
