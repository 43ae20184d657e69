"""`ceiling`: how fast this machine is today, measured the way the issues give its ceiling.

The booking and check-in issues scale their targets by bare Flask endpoints on this 2-core
machine: booking (validation, one contact lookup, four inserts, an Ed25519 signature) at about
900-1,000/s, and redemption (the signature check, one conditional UPDATE, one INSERT) at about
800/s with 2 sync workers. The machine is shared and its speed changes from hour to hour (the
same commit has measured 40% apart on one day), so run this beside `booking` and `checkin` to
read their figures against what the machine gives at that moment. The endpoints are in
bench/ceiling_app.py: plain Flask and sqlite3, no eventapp code, under gunicorn like the app.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.harness import Options, Site, emit, log
from bench.load import HttpRequest, emit_load, measure
from eventapp.testing.services import GunicornServer

NAME = "ceiling"
DESCRIPTION = ("bare Flask endpoints the issues name as this machine's ceiling (booking, "
               "redemption): how fast the machine is today")
CLIENTS = 8
SECONDS = 10.0
#: Tickets made ready for the redemption phase (each is redeemed once).
TICKETS = 60_000


def run(options: Options) -> None:
    """Book through the bare endpoint, then redeem prepared tickets; print the figures."""
    from bench.ceiling_app import SCHEMA, sign

    if options.db != "sqlite":
        log("ceiling: the bare endpoints run on SQLite only (as the issues' figures); "
            "--db is ignored")
    phase = options.phase(clients=CLIENTS, duration=SECONDS)
    key = Ed25519PrivateKey.generate()
    key_hex = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption()).hex()
    with tempfile.TemporaryDirectory(prefix="eventapp-ceiling-") as folder:
        path = Path(folder) / "ceiling.db"
        codes = _prepare(path, SCHEMA, lambda serial: sign(serial, key))
        env = {**os.environ, "CEILING_DB": str(path), "CEILING_KEY": key_hex,
               "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        server = GunicornServer(env, workers=options.workers, app="bench.ceiling_app:app")
        log(f"starting gunicorn with {options.workers} workers on the bare endpoints")
        server.start()
        try:
            site = Site(None, server)
            run_id = secrets.token_hex(3)
            bookings = measure(site, lambda serial: HttpRequest.post_json("/book", {
                "name": f"测试 {serial}", "phone": f"139{serial:08d}",
                "email": f"p{serial}.{run_id}@bench.example.com"}), phase, "ceiling-bookings")
            redemptions = measure(site, lambda serial: HttpRequest(
                "POST", "/redeem", f'{{"code": "{codes[serial % len(codes)]}"}}'.encode(),
                {"Content-Type": "application/json"},
                expect=lambda body: None if b'"valid"' in body else "not valid"),
                phase, "ceiling-redemptions")
        finally:
            server.stop()
    emit_load(NAME, "bookings", bookings)
    emit_load(NAME, "redemptions", redemptions)
    emit(NAME, "errors", bookings.error_count + redemptions.error_count, "requests")


def _prepare(path: Path, schema: str, sign) -> list[str]:  # noqa: ANN001
    """The database, with TICKETS registrations whose signed codes the redemptions scan."""
    log(f"ceiling: signing {TICKETS} tickets")
    codes = [sign(serial) for serial in range(1, TICKETS + 1)]
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.executescript(schema)
    with connection:
        connection.executemany("INSERT INTO registrations (serial, code) VALUES (?, ?)",
                               enumerate(codes, start=1))
    connection.close()
    return codes
