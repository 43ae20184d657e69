"""`ceiling`: how fast this machine is today, measured the way the issues give its ceiling.

The booking and check-in issues scale their targets by bare Flask endpoints on this 2-core
machine: booking (validation, one contact lookup, four inserts, an Ed25519 signature) at about
900-1,000/s, and redemption (the signature check, one conditional UPDATE, one INSERT) at about
800/s with 2 sync workers. The machine is shared and its speed changes from hour to hour (the
same commit has measured 40% apart on one day), so run this beside `booking` and `checkin` to
read their figures against what the machine gives at that moment. The endpoints are in
bench/ceiling_app.py: plain Flask and no ORM, no eventapp code, under gunicorn like the app,
on a SQLite file or (`--db postgres`) on a PostgreSQL server of their own with production
durability, as the other benchmarks. The issues do not say which database their figures
are of, so run both.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.harness import Database, Options, Site, emit, log
from bench.load import HttpRequest, emit_load, measure
from eventapp.testing.services import LOOPBACK, GunicornServer, PostgresServer

NAME = "ceiling"
DESCRIPTION = ("bare Flask endpoints the issues name as this machine's ceiling (booking, "
               "redemption): how fast the machine is today")
CLIENTS = 8
SECONDS = 10.0
#: Tickets made ready for the redemption phase (each is redeemed once).
TICKETS = 60_000


def run(options: Options) -> None:
    """Book through the bare endpoint, then redeem prepared tickets; print the figures."""
    from bench.ceiling_app import sign

    phase = options.phase(clients=CLIENTS, duration=SECONDS)
    key = Ed25519PrivateKey.generate()
    key_hex = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption()).hex()
    codes = _codes(lambda serial: sign(serial, key))
    with _bare_database(options.db, codes) as (database, app_env):
        env = {**os.environ, **app_env, "CEILING_KEY": key_hex,
               "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        server = GunicornServer(env, workers=options.workers, app="bench.ceiling_app:app")
        log(f"starting gunicorn with {options.workers} workers on the bare endpoints "
            f"({options.db})")
        server.start()
        try:
            site = Site(database, server)
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


def _codes(sign: Callable[[int], str]) -> list[str]:
    """The signed codes of the TICKETS registrations the redemptions scan, serials 1, 2, ..."""
    log(f"ceiling: signing {TICKETS} tickets")
    return [sign(serial) for serial in range(1, TICKETS + 1)]


@contextmanager
def _bare_database(kind: str, codes: list[str]) -> Iterator[tuple[Database | None,
                                                                   dict[str, str]]]:
    """The bare endpoints' tables with the registrations of `codes`: a SQLite file, or a
    PostgreSQL server of its own with production durability (as `--db postgres` of the other
    benchmarks); the harness's Database (for the server's CPU, None for SQLite) and the
    environment that points the bare app at it."""
    from bench.ceiling_app import PG_SCHEMA, SCHEMA

    rows = list(enumerate(codes, start=1))
    with tempfile.TemporaryDirectory(prefix="eventapp-ceiling-") as folder:
        if kind != "postgres":
            path = Path(folder) / "ceiling.db"
            connection = sqlite3.connect(path)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.executescript(SCHEMA)
            with connection:
                connection.executemany("INSERT INTO registrations (serial, code) VALUES (?, ?)",
                                       rows)
            connection.close()
            yield None, {"CEILING_DB": str(path)}
            return
        import psycopg

        log("starting PostgreSQL (durable settings)")
        server = PostgresServer(durable=True)
        server.start()
        try:
            url = server.create_database("ceiling")
            conninfo = f"host={LOOPBACK} port={server.port} user=postgres dbname=ceiling"
            with psycopg.connect(conninfo) as connection:
                connection.execute(PG_SCHEMA)
                with connection.cursor() as cursor:
                    cursor.executemany("INSERT INTO registrations (serial, code) "
                                       "VALUES (%s, %s)", rows)
            yield Database(kind, url, Path(folder), server), {"CEILING_PG": conninfo}
        finally:
            server.stop()
