"""QR code images (PNG and SVG) of ticket payloads and booking links, drawn with `qrcode`."""

from __future__ import annotations

import io

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

#: Pixels per module of PNG codes: a 124-character ticket (version 7, 45 modules + 8 of quiet
#: zone) is 424 px wide, sharp on a phone screen and in print.
PNG_BOX_SIZE = 8


def _code(data: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4)
    # Ticket payloads are upper-case base32: qrcode picks the compact alphanumeric mode.
    code.add_data(data, optimize=0)
    code.make(fit=True)
    return code


def qr_png(data: str, box_size: int = PNG_BOX_SIZE) -> bytes:
    """A black-on-white PNG of `data`."""
    code = _code(data)
    code.box_size = box_size
    image = code.make_image(fill_color="black", back_color="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def qr_svg(data: str) -> bytes:
    """A scalable SVG of `data` (one path; prints sharp at any size)."""
    code = _code(data)
    image = code.make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    return image.to_string(encoding="unicode").encode("utf-8")
