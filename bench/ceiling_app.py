"""The bare endpoints that the booking and check-in issues name as this machine's ceiling, to
measure how fast this machine is today (`python -m bench ceiling`). Not eventapp: plain
Flask, the stdlib's sqlite3 and no ORM, doing only what the issues list.

- `POST /book`: validate the mobile (phonenumbers) and the e-mail (email-validator), one
  contact lookup, four INSERTs (contact, registration with its Ed25519-signed ticket, outbox
  row, activity), one transaction.
- `POST /redeem`: check the ticket's Ed25519 signature, one conditional UPDATE (not used
  yet), one INSERT (the scan), one transaction.

Run by gunicorn with CEILING_KEY (the private key, hex) and either CEILING_DB (a SQLite file
the benchmark made, see bench/ceiling.py) or CEILING_PG (a libpq connection string of a
PostgreSQL database with PG_SCHEMA) in the environment.
"""

from __future__ import annotations

import base64
import os
import secrets
import sqlite3
import time
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

import phonenumbers
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from email_validator import EmailNotValidError, validate_email
from flask import Flask, jsonify, request

SCHEMA = """
CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT, phone TEXT UNIQUE, email TEXT UNIQUE);
CREATE TABLE registrations (id INTEGER PRIMARY KEY, contact_id INTEGER, serial INTEGER UNIQUE,
                            code TEXT, used_at REAL);
CREATE TABLE outbox (id INTEGER PRIMARY KEY, registration_id INTEGER, recipient TEXT);
CREATE TABLE activities (id INTEGER PRIMARY KEY, contact_id INTEGER, kind TEXT, at REAL);
CREATE TABLE scans (id INTEGER PRIMARY KEY, registration_id INTEGER, result TEXT, at REAL);
"""

#: The same tables on PostgreSQL (64-bit serials, generated ids).
PG_SCHEMA = """
CREATE TABLE contacts (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name TEXT,
                       phone TEXT UNIQUE, email TEXT UNIQUE);
CREATE TABLE registrations (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                            contact_id BIGINT, serial BIGINT UNIQUE, code TEXT,
                            used_at DOUBLE PRECISION);
CREATE TABLE outbox (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                     registration_id BIGINT, recipient TEXT);
CREATE TABLE activities (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                         contact_id BIGINT, kind TEXT, at DOUBLE PRECISION);
CREATE TABLE scans (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    registration_id BIGINT, result TEXT, at DOUBLE PRECISION);
"""

app = Flask(__name__)
_KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(os.environ.get("CEILING_KEY", "00" * 32)))
_PUBLIC = _KEY.public_key()
_connection: tuple[int, Any] | None = None


def sign(serial: int, key: Ed25519PrivateKey = _KEY) -> str:
    """A ticket code: the serial and its signature, URL-safe base64."""
    message = serial.to_bytes(8, "big")
    return base64.urlsafe_b64encode(message + key.sign(message)).decode()


class _Postgres:
    """A psycopg connection that takes the endpoints' SQLite statements: `?` placeholders,
    BEGIN IMMEDIATE as a plain BEGIN, `lastrowid` from the INSERT's RETURNING id."""

    def __init__(self, conninfo: str) -> None:
        import psycopg

        self.connection = psycopg.connect(conninfo, autocommit=True)

    def execute(self, statement: str, parameters: tuple[Any, ...] = ()) -> Any:
        translated, inserts = _postgres_statement(statement)
        cursor = self.connection.execute(translated, parameters, prepare=bool(parameters))
        return SimpleNamespace(lastrowid=cursor.fetchone()[0]) if inserts else cursor


@lru_cache(maxsize=32)
def _postgres_statement(statement: str) -> tuple[str, bool]:
    """An endpoint's SQLite statement in PostgreSQL's words (made once per statement), and
    whether it is an INSERT returning its id."""
    inserts = statement.startswith("INSERT")
    translated = statement.replace("?", "%s").replace("BEGIN IMMEDIATE", "BEGIN")
    return translated + (" RETURNING id" if inserts else ""), inserts


def _db() -> Any:
    global _connection
    if _connection is None or _connection[0] != os.getpid():  # one per gunicorn worker
        if os.environ.get("CEILING_PG"):
            connection: Any = _Postgres(os.environ["CEILING_PG"])
        else:
            connection = sqlite3.connect(os.environ["CEILING_DB"], isolation_level=None,
                                         timeout=5)
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
        _connection = (os.getpid(), connection)
    return _connection[1]


@app.post("/book")
def book():  # noqa: ANN201
    form = request.get_json()
    try:
        number = phonenumbers.parse(form["phone"], "CN")
        if not phonenumbers.is_valid_number(number):
            return jsonify(error="phone"), 422
        phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        email = validate_email(form["email"], check_deliverability=False).normalized.lower()
    except (phonenumbers.NumberParseException, EmailNotValidError):
        return jsonify(error="invalid"), 422
    serial = secrets.randbits(62)
    code = sign(serial)
    db = _db()
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute("SELECT id FROM contacts WHERE phone = ? OR email = ? LIMIT 1",
                         (phone, email)).fetchone()
        contact_id = row[0] if row else db.execute(
            "INSERT INTO contacts (name, phone, email) VALUES (?, ?, ?)",
            (form["name"], phone, email)).lastrowid
        registration_id = db.execute(
            "INSERT INTO registrations (contact_id, serial, code) VALUES (?, ?, ?)",
            (contact_id, serial, code)).lastrowid
        db.execute("INSERT INTO outbox (registration_id, recipient) VALUES (?, ?)",
                   (registration_id, email))
        db.execute("INSERT INTO activities (contact_id, kind, at) VALUES (?, 'booking', ?)",
                   (contact_id, time.time()))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return jsonify(registration=registration_id, code=code), 201


@app.post("/redeem")
def redeem():  # noqa: ANN201
    raw = base64.urlsafe_b64decode(request.get_json()["code"])
    message, signature = raw[:8], raw[8:]
    try:
        _PUBLIC.verify(signature, message)
    except InvalidSignature:
        return jsonify(result="forged"), 200
    serial = int.from_bytes(message, "big")
    db = _db()
    db.execute("BEGIN IMMEDIATE")
    try:
        now = time.time()
        used = db.execute("UPDATE registrations SET used_at = ? WHERE serial = ? AND used_at "
                          "IS NULL RETURNING id", (now, serial)).fetchone()
        result = "valid" if used else "already_used"
        db.execute("INSERT INTO scans (registration_id, result, at) VALUES (?, ?, ?)",
                   (used[0] if used else None, result, now))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return jsonify(result=result), 200
