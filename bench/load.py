"""The load generator: N concurrent clients sending real HTTP requests over loopback.

Each client is a thread with its own connection, sending its next request as soon as the
previous answer is read (a closed loop). Gunicorn's sync workers close the connection after
every response, so each request pays a new TCP connection, as a real client of that server
does; the client reopens it by itself.

Why threads and not processes: on this 2-core machine the clients and the server share the
cores, so what matters is how much CPU the clients take from the server, not the GIL. Each
phase measures it (`time.process_time()`) and logs it as "client used N% of a core"; should a
benchmark log its clients near one full core, move `_client` into processes.

Why a plain socket and not `http.client`: the clients' CPU is taken from the server being
measured. `http.client` parses every answer's headers with the `email` package; with it the
8 clients of `checkin` used 0.38-0.42 ms of CPU per request, 17-21% of a core, on
2026-12-07. This client writes the request in one `sendall` and reads the answer by its
status line, headers and Content-Length (or to the end, when the server closes): the same
requests and answers, 0.22-0.28 ms of client CPU per request. It reads answers with a
Content-Length or closed by the server, which is what gunicorn sends, and those that have no
body (204, 304); a chunked answer, or one with more bytes than it says, counts as an
error, so no answer is ever misread. It sends no HEAD requests.

A request that fails (an exception, or any status other than 2xx; for a form post that
expects a redirect, anything but a 303 to the expected page; for a request with an `expect`
check, a 2xx whose body the check refuses) counts as an error and is not part of the rate or
the latencies; the first answer of each kind of error is logged.
"""

from __future__ import annotations

import http.client
import socket
import itertools
import json
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.harness import Phase, Site, emit, log, machine_cpu_seconds

#: Seconds a client waits for a connection or an answer before counting an error.
REQUEST_TIMEOUT = 60.0


@dataclass(frozen=True)
class HttpRequest:
    """One request to send: method, path (with query string), body and headers."""

    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Set for a form posted as a browser does: success is then a 303 whose Location path
    #: starts with this (the page shown next), not a 2xx.
    see_other: str | None = None
    #: Set for an API whose 2xx answer says in its body whether the request did what was
    #: asked: given that body, None when it did, else the kind of error to count it as.
    expect: Callable[[bytes], str | None] | None = None

    @classmethod
    def get(cls, path: str, token: str | None = None) -> HttpRequest:
        """A GET, with a bearer token when given."""
        return cls("GET", path, None, _authorization(token))

    @classmethod
    def post_json(cls, path: str, payload: Any, token: str | None = None) -> HttpRequest:
        """A POST of a JSON body, with a bearer token when given."""
        return cls("POST", path, json.dumps(payload).encode(),
                   {"Content-Type": "application/json", **_authorization(token)})


def _authorization(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


#: Makes the request to send from a number unique across the whole run (for unique names).
RequestMaker = Callable[[int], HttpRequest]


@dataclass
class LoadResult:
    """What one phase measured. Latencies are of successful requests only, in seconds."""

    label: str
    clients: int
    seconds: float
    latencies: list[float]
    errors: Counter[str]
    client_cpu_seconds: float
    #: Successful requests of the warm-up before this phase (not in the figures).
    warmup_succeeded: int = 0

    @property
    def succeeded(self) -> int:
        """Successful requests of the measured phase and its warm-up."""
        return len(self.latencies) + self.warmup_succeeded

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def per_second(self) -> float:
        """Successful requests per second of wall time."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile_ms(self, percent: float) -> float:
        """Latency at `percent` (nearest rank) in milliseconds; 0 when nothing succeeded."""
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(percent / 100 * len(ordered)))
        return ordered[rank - 1] * 1000


class _Shared:
    """What the clients of one run share: when to stop, and what they recorded."""

    def __init__(self, deadline: float | None, requests: int | None) -> None:
        self.deadline = deadline
        self.remaining = requests
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()

    def may_send(self) -> bool:
        if self.stop.is_set():
            return False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return False
        if self.remaining is None:
            return True
        with self.lock:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            return True

    def record(self, latencies: list[float], errors: Counter[str]) -> None:
        with self.lock:
            self.latencies += latencies
            self.errors.update(errors)


_serials = itertools.count(1)
_logged_errors: set[str] = set()


class _Answer:
    """What `_Connection.exchange` read: the status, the headers (lower-case names) and the
    body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def getheader(self, name: str) -> str | None:
        return self.headers.get(name.lower())


#: Statuses whose answer has no body, whatever its headers say (RFC 9112, 6.3).
_NO_BODY = {204, 304}


class _Connection:
    """One client's HTTP/1.1 connection over a plain socket: reopened after an answer that
    closes it (gunicorn's sync workers close every one)."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.host_header = f"Host: {host}:{port}\r\n".encode()
        self.sock: socket.socket | None = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _request_bytes(self, request: HttpRequest) -> bytes:
        head = "".join(f"{name}: {value}\r\n" for name, value in request.headers.items())
        if request.body is not None:
            head += f"Content-Length: {len(request.body)}\r\n"
        return (f"{request.method} {request.path} HTTP/1.1\r\n".encode() + self.host_header
                + head.encode() + b"\r\n" + (request.body or b""))

    def exchange(self, request: HttpRequest) -> _Answer:
        """Send `request` and read its whole answer; raises OSError or HTTPException if the
        connection fails or the answer cannot be read."""
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=REQUEST_TIMEOUT)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(self._request_bytes(request))
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise http.client.RemoteDisconnected("closed before the answer's headers")
            received += chunk
        head_bytes, _, rest = received.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise http.client.BadStatusLine(lines[0]) from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", ""):
            raise http.client.HTTPException("chunked answers are not read by this client")
        declared = headers.get("content-length")
        if status in _NO_BODY:
            declared = "0"
        if declared is not None and not (declared.isascii() and declared.isdigit()):
            raise http.client.HTTPException(f"Content-Length {declared!r}")
        length = int(declared) if declared is not None else None
        closes = headers.get("connection", "").lower() == "close" or length is None
        while length is None or len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                if length is None:
                    break
                raise http.client.IncompleteRead(rest)
            rest += chunk
        if length is not None and len(rest) > length:
            raise http.client.HTTPException(f"{len(rest) - length} bytes after the answer")
        if closes:
            self.close()
        return _Answer(status, headers, rest)


def _client(host: str, port: int, make_request: RequestMaker, shared: _Shared) -> None:
    connection = _Connection(host, port)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    try:
        while shared.may_send():
            request = make_request(next(_serials))
            started = time.perf_counter()
            try:
                response = connection.exchange(request)
                body = response.body
            except (OSError, http.client.HTTPException) as error:
                connection.close()
                _note_error(errors, type(error).__name__, str(error))
                continue
            if _succeeded(request, response):
                latency = time.perf_counter() - started
                problem = request.expect(body) if request.expect else None
                if problem is None:
                    latencies.append(latency)
                else:
                    _note_error(errors, problem, body.decode(errors="replace"))
            else:
                location = response.getheader("Location")
                _note_error(errors, f"HTTP {response.status}",
                            (f"(to {location}) " if location else "")
                            + body.decode(errors="replace"))
    finally:
        connection.close()
        shared.record(latencies, errors)


def _succeeded(request: HttpRequest, response: _Answer) -> bool:
    if request.see_other is None:
        return 200 <= response.status < 300
    location = urlsplit(response.getheader("Location") or "").path
    return response.status == 303 and location.startswith(request.see_other)


def _note_error(errors: Counter[str], kind: str, detail: str) -> None:
    errors[kind] += 1
    if kind not in _logged_errors:
        _logged_errors.add(kind)
        log(f"first {kind}: {detail.strip()[:500]}")


class ServerGone(RuntimeError):
    """A server the load was sent to stopped in the middle of it."""


def run_load(url: str, make_request: RequestMaker, *, clients: int,
             duration: float | None = None, requests: int | None = None,
             label: str = "load", problem: Callable[[], str | None] = lambda: None
             ) -> LoadResult:
    """Send requests from `clients` concurrent clients until `duration` seconds have passed or
    `requests` have been sent in all (whichever is given; both: whichever comes first).
    `problem` is asked now and then; when it names one, the load stops with ServerGone."""
    if duration is None and requests is None:
        raise ValueError("give a duration or a number of requests")
    address = urlsplit(url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    cpu_before, started = time.process_time(), time.monotonic()
    shared = _Shared(started + duration if duration is not None else None, requests)
    threads = [threading.Thread(target=_client, args=(host, port, make_request, shared),
                                name=f"{label}-client-{number}", daemon=True)
               for number in range(clients)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # in short steps, so Ctrl-C is noticed at once
                trouble = problem()
                if trouble:
                    raise ServerGone(f"{label}: {trouble}")
    finally:
        shared.stop.set()
        settled_by = time.monotonic() + 5  # let requests in flight finish before servers stop
        for thread in threads:
            if thread.ident is not None:  # started
                thread.join(max(settled_by - time.monotonic(), 0))
    return LoadResult(label, clients, time.monotonic() - started, shared.latencies,
                      shared.errors, time.process_time() - cpu_before)


def measure(site: Site, make_request: RequestMaker, phase: Phase, label: str) -> LoadResult:
    """Warm up, then measure one phase against the site; logs what the clients and the server
    used. Errors of the warm-up are added to the result's errors: none is ever hidden."""
    if phase.warmup > 0:
        log(f"{label}: warming up for {phase.warmup:g}s")
        warmup = run_load(site.url, make_request, clients=phase.clients, duration=phase.warmup,
                          label=f"{label}-warmup", problem=site.problem)
    extent = (f"{phase.requests} requests" if phase.requests else f"{phase.duration:g}s")
    log(f"{label}: {phase.clients} clients for {extent}")
    cpu_before, machine_before = site.cpu_seconds(), machine_cpu_seconds()
    result = run_load(site.url, make_request, clients=phase.clients, duration=phase.duration,
                      requests=phase.requests, label=label, problem=site.problem)
    cpu_after, machine_after = site.cpu_seconds(), machine_cpu_seconds()
    server_cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_after}
    others = (machine_after[0] - machine_before[0]) - sum(server_cpu.values()) \
        - result.client_cpu_seconds
    _log_result(result, server_cpu, others)
    if phase.warmup > 0:
        result.warmup_succeeded = len(warmup.latencies)
        if warmup.error_count:
            log(f"{label}: the warm-up had {warmup.error_count} errors {dict(warmup.errors)}")
            result.errors.update(warmup.errors)
    return result


def _log_result(result: LoadResult, server_cpu: dict[str, float], others: float) -> None:
    done = len(result.latencies) + result.error_count
    per_request = ", ".join(f"{name} {seconds * 1000 / done:.2f} ms"
                            for name, seconds in server_cpu.items() if seconds and done)
    kinds = f" {dict(result.errors)}" if result.errors else ""
    log(f"{result.label}: {len(result.latencies)} ok, {result.error_count} errors{kinds} "
        f"in {result.seconds:.1f}s; "
        f"client used {result.client_cpu_seconds / result.seconds:.0%} of a core "
        f"({result.client_cpu_seconds * 1000 / max(done, 1):.2f} ms CPU per request); "
        f"server CPU per request: {per_request}")
    if others > 0.1 * result.seconds:
        log(f"{result.label}: other processes used {others / result.seconds:.0%} of a core "
            "meanwhile; figures are lower than on a quiet machine")


def emit_load(bench: str, prefix: str, result: LoadResult) -> None:
    """The three figures of a load: `<prefix>_per_s`, `<prefix>_p50_ms`, `<prefix>_p99_ms`."""
    emit(bench, f"{prefix}_per_s", result.per_second, "requests/s")
    emit(bench, f"{prefix}_p50_ms", result.percentile_ms(50), "ms")
    emit(bench, f"{prefix}_p99_ms", result.percentile_ms(99), "ms")
