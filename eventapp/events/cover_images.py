"""Checking and re-encoding an uploaded cover image: pure Pillow work, no database.

An upload is trusted for nothing: it must really be a JPEG, PNG or WebP picture, not too big in
bytes or in pixels (a small file can unpack into gigabytes), and whole. What is kept is a new
JPEG drawn from its pixels, turned upright as the camera meant, at most 1600 px wide, with
every piece of metadata (EXIF with its GPS position, comments, profiles) left behind.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass
from typing import IO

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from eventapp.core.errors import ValidationFailed

#: What phones and cameras produce; "MPO" is how Pillow names a multi-picture camera JPEG.
ACCEPTED_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP"}
#: Larger pictures are refused before decoding: 40 million pixels is above any phone's photo.
MAX_PIXELS = 40_000_000
#: The stored cover fits this box (light enough for a phone on a venue's network).
MAX_WIDTH, MAX_HEIGHT = 1600, 2400
JPEG_QUALITY = 85
#: Hex digits of the content hash in the file name: 64 bits, plenty within one event.
HASH_LENGTH = 16
#: What Pillow's readers raise on a malformed file (hostile files reach them: all are caught).
_DECODING_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError,
                    KeyError, ZeroDivisionError, struct.error)
#: Text markup that a browser would render as a page or a drawing if it were ever served.
_MARKUP_PREFIXES = (b"<", b"\xef\xbb\xbf<")


@dataclass(frozen=True)
class PreparedCover:
    """A checked, re-encoded cover, ready to be written under its content hash."""

    jpeg: bytes
    digest: str
    width: int
    height: int

    def file_name(self, event_id: int) -> str:
        return f"{event_id}-{self.digest}.jpg"


def _refuse(message: object) -> ValidationFailed:
    return ValidationFailed(message, image=[str(message)])


def too_large_message(max_bytes: int) -> object:
    """What a person is told when their picture has more bytes than a cover may have."""
    return _l("The image is larger than %(size)s MB. Save it smaller (1600 px wide is plenty) "
              "and upload it again.", size=f"{max_bytes / 1024 / 1024:.3g}")


def _read_limited(stream: IO[bytes], max_bytes: int) -> bytes:
    """The upload's bytes, refusing an empty one or one over `max_bytes` without reading on."""
    data = stream.read(max_bytes + 1)
    if not data:
        raise _refuse(_l("The file is empty. Choose a JPEG, PNG or WebP image."))
    if len(data) > max_bytes:
        raise _refuse(too_large_message(max_bytes))
    return data


def _open_checked(data: bytes) -> Image.Image:
    """Open the picture, checking its kind, its size in pixels and that it is whole."""
    if data.lstrip(b" \t\r\n").startswith(_MARKUP_PREFIXES):
        raise _refuse(_l("This file is a web page or an SVG drawing, not a picture. Upload a "
                         "JPEG, PNG or WebP image."))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            probe = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_many_pixels() from None
        except UnidentifiedImageError:
            raise _refuse(_l("This file is not an image. Upload a JPEG, PNG or WebP "
                             "picture.")) from None
        except _DECODING_ERRORS:
            raise _damaged() from None
        if probe.format not in ACCEPTED_FORMATS:
            raise _refuse(_l("%(format)s images are not accepted. Save the picture as JPEG, "
                             "PNG or WebP and upload it again.", format=probe.format))
        if probe.width * probe.height > MAX_PIXELS:
            raise _too_many_pixels()
        try:
            probe.verify()  # checksums and structure; the object is unusable afterwards
            image = Image.open(io.BytesIO(data))
            image.draft("RGB", (MAX_WIDTH, MAX_HEIGHT))  # JPEG: decode at a smaller scale
            image.load()
        except (*_DECODING_ERRORS, Image.DecompressionBombWarning):
            raise _damaged() from None
    return image


def _damaged() -> ValidationFailed:
    return _refuse(_l("The image is damaged or incomplete. Open it on your computer, save it "
                      "again and upload the new file."))


def _too_many_pixels() -> ValidationFailed:
    return _refuse(_l("The image has too many pixels (more than %(count)d million). Make it "
                      "smaller, such as 1600 px wide, and upload it again.",
                      count=MAX_PIXELS // 1_000_000))


def _to_srgb(image: Image.Image) -> Image.Image:
    """Colours as the picture's own colour profile means them, in the sRGB that every phone
    assumes once the profile is stripped."""
    profile = image.info.get("icc_profile")
    if not profile or image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"),
                                         outputMode="RGBA" if image.mode == "RGBA" else "RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image  # an unreadable profile: the pixels as they are


def _flatten(image: Image.Image) -> Image.Image:
    """RGB pixels; transparent parts become white (JPEG has no transparency)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def prepare_cover(stream: IO[bytes], max_bytes: int) -> PreparedCover:
    """The uploaded picture checked and re-encoded as a light, upright, metadata-free JPEG;
    raises ValidationFailed (on the `image` field) saying what is wrong with the file."""
    image = _open_checked(_read_limited(stream, max_bytes))
    try:
        image = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError):
        pass  # unreadable orientation data: keep the picture as stored
    image = _flatten(_to_srgb(image))
    image.thumbnail((MAX_WIDTH, MAX_HEIGHT), Image.Resampling.LANCZOS)
    image.info = {}  # Pillow would carry comments, XMP (GPS, author) and profiles over
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    jpeg = buffer.getvalue()
    return PreparedCover(jpeg=jpeg, digest=hashlib.sha256(jpeg).hexdigest()[:HASH_LENGTH],
                         width=image.width, height=image.height)
