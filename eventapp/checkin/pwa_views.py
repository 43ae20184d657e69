"""The gate tablet as an installable offline app: its web manifest, service worker and icons.

- `/events/<slug>/checkin/manifest.webmanifest`: names the event, so gate roles only (the
  page links it with `crossorigin="use-credentials"`: browsers fetch manifests without
  cookies otherwise).
- `/events/<slug>/checkin/sw.js`: `static/checkin/sw.js` with the gate page's address and the
  files of its shell filled in. Public and the same for every slug, known or not: it holds no
  event data and says nothing about which events exist. Served with `Service-Worker-Allowed`
  so that it may control the gate page itself (`/events/<slug>/checkin`, one level above it).
- `/checkin/icons/gate-<size>.png`: the app icons, drawn from the logo's shapes.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, url_for
from flask_babel import gettext as _
from flask_login import login_required
from PIL import Image, ImageDraw

from eventapp.core.i18n import html_lang
from eventapp.events.access import GATE_ROLES, event_role_required
from eventapp.events.models import Event

bp = Blueprint("checkin_pwa", __name__)

#: What the gate page needs beyond static/checkin/ and static/vendor/ (all cached).
SHELL_FILES = ("css/app.css", "js/app.js", "img/logo.svg")
SHELL_FOLDERS = ("checkin", "vendor")
#: Not part of what the page loads.
NOT_SHELL = re.compile(r"(^|/)(LICEN[CS]E[^/]*|[^/]*\.md|[^/]*\.txt|\.[^/]*)$",
                       re.IGNORECASE)
ICON_SIZES = (192, 512)
THEME_COLOUR = "#1f5eff"
_GATE_SLOT = re.compile(r"/\*GATE\*/.*?/\*END\*/", re.DOTALL)


def _gate_page(slug: str) -> str:
    return url_for("checkin.gate", slug=slug)


def shell_files(static: Path) -> list[str]:
    """The static files the gate page works with, relative to static/, sorted (the worker
    caches them all when it installs)."""
    found = [name for name in SHELL_FILES if (static / name).is_file()]
    for folder in SHELL_FOLDERS:
        found += [path.relative_to(static).as_posix()
                  for path in sorted((static / folder).rglob("*"))
                  if path.is_file() and not NOT_SHELL.search(path.relative_to(static).as_posix())]
    return sorted(set(found) - {"checkin/sw.js"})


def shell_version(static: Path, files: list[str], worker: str) -> str:
    """Changes whenever the worker's script or any shell file does: a new worker for the
    tablets, which caches the new files."""
    digest = hashlib.sha256(worker.encode())
    for name in files:
        digest.update(name.encode() + b"\0" + (static / name).read_bytes())
    return digest.hexdigest()[:16]


@bp.get("/events/<slug>/checkin/sw.js")
def service_worker(slug: str) -> Response:
    """The gate's service worker, for the page of event `slug` (see the module)."""
    static = Path(current_app.static_folder or "")
    template = (static / "checkin" / "sw.js").read_text(encoding="utf-8")
    files = shell_files(static)
    gate = {"page": _gate_page(slug), "version": shell_version(static, files, template),
            "shell": [url_for("static", filename=name) for name in files]}
    body = _GATE_SLOT.sub(lambda _match: json.dumps(gate), template, count=1)
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = gate["page"]
    # A new version must reach the tablets the next time they load the page.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/events/<slug>/checkin/manifest.webmanifest")
@login_required
@event_role_required(*GATE_ROLES)
def manifest(event: Event) -> Response:
    """The web manifest that makes the gate page an installable app."""
    page = _gate_page(event.slug)
    icons = [{"src": url_for("checkin_pwa.icon", size=size, purpose=purpose),
              "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
             for purpose in ("any", "maskable") for size in ICON_SIZES]
    icons.append({"src": url_for("static", filename="img/logo.svg"), "sizes": "any",
                  "type": "image/svg+xml", "purpose": "any"})
    body = {"id": page, "name": f"{_('Check-in')} · {event.title}",
            "short_name": _("Check-in"),
            "description": _("Scan tickets at the gate, also with no network."),
            "lang": html_lang(), "start_url": page, "scope": page, "display": "standalone",
            "orientation": "any", "background_color": "#ffffff", "theme_color": THEME_COLOUR,
            "icons": icons}
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")


@bp.get("/checkin/icons/gate-<purpose>-<int:size>.png")
def icon(purpose: str, size: int) -> Response:
    """The app icon, `any` (the logo) or `maskable` (full bleed, the mark in the safe zone)."""
    if size not in ICON_SIZES or purpose not in ("any", "maskable"):
        abort(404)
    response = Response(icon_png(size, purpose == "maskable"), mimetype="image/png")
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


@lru_cache(maxsize=8)
def icon_png(size: int, maskable: bool) -> bytes:
    """static/img/logo.svg drawn with Pillow (64-unit view box), 4x oversampled."""
    scale = size * 4 / 64
    image = Image.new("RGBA", (size * 4, size * 4), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if maskable:
        draw.rectangle((0, 0, size * 4, size * 4), fill=THEME_COLOUR)
        shrink, offset = 0.72, 32 * (1 - 0.72)  # the mark inside the central safe circle
    else:
        draw.rounded_rectangle((0, 0, size * 4 - 1, size * 4 - 1), radius=14 * scale,
                               fill=THEME_COLOUR)
        shrink, offset = 1.0, 0.0

    def at(x: float, y: float) -> tuple[float, float]:
        return ((x * shrink + offset) * scale, (y * shrink + offset) * scale)

    letter = [(18, 22), (46, 22), (46, 28), (25, 28), (25, 33), (42, 33), (42, 39), (25, 39),
              (25, 44), (46, 44), (46, 50), (18, 50)]
    draw.polygon([at(x, y) for x, y in letter], fill="#ffffff")
    (cx, cy), radius = at(49, 15), 5 * shrink * scale
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill="#ffb020")
    out = io.BytesIO()
    image.resize((size, size), Image.Resampling.LANCZOS).save(out, "PNG", optimize=True)
    return out.getvalue()
