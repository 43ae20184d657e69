"""The gate tablet as an offline app: the web manifest (gate roles only: it names the event),
the service worker (public, the same for every slug, no event data, allowed to control the
gate page) and the icons. That the tablet's JavaScript ticket check decides every code as the
server does is tested in Chromium: tests/browser/test_checkin_offline.py (the browser
fixtures live in tests/browser/)."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from eventapp.checkin.pwa_views import shell_files, shell_version

SHELL_NEEDS = ("/static/checkin/gate-client.js", "/static/checkin/offline-store.js",
               "/static/checkin/ticket-verify.js",
               "/static/vendor/noble-ed25519-3.2.0/index.js", "/static/css/app.css")
GATE_SLOT = re.compile(r"const GATE = (\{.*?\});")


def gate_config(body: str) -> dict:
    match = GATE_SLOT.search(body)
    assert match, "the worker's GATE constant is filled in"
    return json.loads(match.group(1))


# --- the service worker ---------------------------------------------------------------------

def test_the_service_worker_is_public_and_may_control_the_gate_page(client, event):
    response = client.get(f"/events/{event.slug}/checkin/sw.js")

    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == f"/events/{event.slug}/checkin"
    assert "no-cache" in response.headers["Cache-Control"]
    gate = gate_config(response.get_data(as_text=True))
    assert gate["page"] == f"/events/{event.slug}/checkin"
    assert set(SHELL_NEEDS) <= set(gate["shell"])
    assert "/static/checkin/sw.js" not in gate["shell"]
    assert not [url for url in gate["shell"] if re.search(r"LICENSE|\.md$", url)]
    for url in gate["shell"]:  # install fails if one of them is missing
        assert client.get(url).status_code == 200, url


def test_the_service_worker_says_nothing_about_the_event(client, make, event):
    registration = make.registration(event, make.contact(name="王小明", company="华东精密"))
    make.point(event, name="North gate")

    known = client.get(f"/events/{event.slug}/checkin/sw.js").get_data(as_text=True)
    unknown = client.get("/events/no-such-event/checkin/sw.js")

    assert unknown.status_code == 200  # the same answer: no way to tell which events exist
    assert unknown.get_data(as_text=True).replace("no-such-event", event.slug) == known
    for secret in (event.title, "王小明", "华东精密", "North gate",
                   registration.ticket_code[:20],
                   base64.b64encode(event.ticket_public_key).decode()):
        assert secret not in known


def test_the_worker_version_changes_with_any_shell_file(tmp_path: Path):
    static = tmp_path / "static"
    (static / "checkin").mkdir(parents=True)
    (static / "vendor" / "lib-1.0").mkdir(parents=True)
    (static / "css").mkdir()
    (static / "css" / "app.css").write_text("body {}")
    (static / "checkin" / "gate.js").write_text("// one")
    (static / "checkin" / "sw.js").write_text("// the worker itself")
    (static / "vendor" / "lib-1.0" / "lib.js").write_text("// lib")
    (static / "vendor" / "lib-1.0" / "LICENSE").write_text("MIT")
    (static / "vendor" / "lib-1.0" / "VERSION.md").write_text("1.0")

    files = shell_files(static)
    before = shell_version(static, files, "worker")
    (static / "checkin" / "gate.js").write_text("// two")

    assert files == ["checkin/gate.js", "css/app.css", "vendor/lib-1.0/lib.js"]
    assert shell_version(static, files, "worker") != before
    assert shell_version(static, files, "worker 2") != shell_version(static, files, "worker")


# --- the manifest and its icons -------------------------------------------------------------

@pytest.mark.parametrize("who", ["staff_client", "marketer_client", "admin_client"])
def test_the_manifest_makes_the_gate_page_an_app(request, event, who):
    gate_client = request.getfixturevalue(who)
    response = gate_client.get(f"/events/{event.slug}/checkin/manifest.webmanifest")

    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = json.loads(response.get_data(as_text=True))
    page = f"/events/{event.slug}/checkin"
    assert (manifest["start_url"], manifest["scope"], manifest["id"]) == (page, page, page)
    assert manifest["display"] == "standalone"
    assert event.title in manifest["name"] and manifest["short_name"]
    pngs = {(icon["sizes"], icon["purpose"]): icon["src"] for icon in manifest["icons"]
            if icon["type"] == "image/png"}
    assert set(pngs) == {(f"{n}x{n}", p) for n in (192, 512) for p in ("any", "maskable")}
    for (sizes, purpose), src in pngs.items():
        icon = gate_client.get(src)
        assert icon.status_code == 200 and icon.mimetype == "image/png"
        image = Image.open(io.BytesIO(icon.data))
        assert f"{image.width}x{image.height}" == sizes
        if purpose == "maskable":  # full bleed: no transparent corners
            assert image.convert("RGBA").getpixel((0, 0))[3] == 255


@pytest.mark.parametrize("who", ["sales_client", "outsider_client"])
def test_the_manifest_is_not_for_anyone_off_the_gate_team(request, event, who):
    response = request.getfixturevalue(who).get(
        f"/events/{event.slug}/checkin/manifest.webmanifest")

    assert response.status_code == 403
    assert event.title not in response.get_data(as_text=True)


def test_the_manifest_asks_strangers_to_log_in(client, event):
    response = client.get(f"/events/{event.slug}/checkin/manifest.webmanifest")

    assert response.status_code in (302, 401)
    assert event.title not in response.get_data(as_text=True)


def test_the_manifest_of_no_event_is_not_found(staff_client):
    assert staff_client.get("/events/no-such-event/checkin/manifest.webmanifest"
                            ).status_code == 404


def test_only_the_two_icon_sizes_exist(client):
    assert client.get("/checkin/icons/gate-any-64.png").status_code == 404
    assert client.get("/checkin/icons/gate-round-192.png").status_code == 404
    image = Image.open(io.BytesIO(client.get("/checkin/icons/gate-any-192.png").data))
    assert image.size == (192, 192)
    assert image.convert("RGBA").getpixel((0, 0))[3] == 0  # the logo's rounded corner
    assert image.convert("RGB").getpixel((96, 150))[2] > 200  # the logo's blue
