"""A lean HTTP/1.1 server protocol for the model server: keep-alive, pipelining, limits and timeouts.

Why not a framework: an invocation of a small model costs tens of microseconds, and a general ASGI stack
(request scope, middleware, JSON validation) costs more than the model. This protocol parses with
`httptools` (llhttp, the parser uvicorn uses), hands a complete request to one `handle` callable and writes
its response, and enforces what keeps one client from hurting others:

- the request body limit is checked on `Content-Length` before any body is read (413), and chunked bodies
  are counted as they arrive;
- a request must arrive whole within `read_timeout` (else 408), an idle keep-alive connection is closed after
  `keep_alive`, and a client that stops reading its responses is dropped after `read_timeout`;
- requests of one connection are answered in order (HTTP/1.1 pipelining), and reading pauses while several
  wait, so a flood from one connection cannot grow memory without bound;
- a malformed request line or header gets 400 and the connection is closed; the server keeps serving.

Every connection runs on the event loop, so a slow or stalled client never blocks another; whether the model
work runs inline or on a thread is the `handle` callable's choice (see `smflow.serving.dispatch`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast

import httptools

MAX_QUEUED = 8  # requests one connection may have waiting before we stop reading from it
REJECT_LINGER_SECONDS = 1.0  # after a 413/400 answer, read (and drop) what the client still sends, then close
_STATUS_LINES = {s.value: f"HTTP/1.1 {s.value} {s.phrase}\r\n".encode() for s in HTTPStatus}


@functools.lru_cache(maxsize=64)
def _status_and_type(status: int, content_type: str | None) -> bytes:
    """The status line and Content-Type header, built once per pair (a model answers with one or two)."""
    line = _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n".encode()
    return line if content_type is None else line + b"Content-Type: " + content_type.encode("latin-1") + b"\r\n"


@dataclass(slots=True)
class Request:
    method: str
    path: str  # without the query string
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handle = Callable[[Request], "Response | asyncio.Future[Response]"]


def error_response(status: int, message: str, kind: str | None = None) -> Response:
    """The JSON error body the SageMaker model servers (multi-model-server / TorchServe) answer with."""
    body = {"code": status, "type": kind or HTTPStatus(status).phrase.replace(" ", ""), "message": message}
    return Response(status, json.dumps(body).encode(), "application/json")


@dataclass(frozen=True)
class ConnectionLimits:
    max_body_bytes: int
    read_timeout: float
    keep_alive: float


class ConnectionTracker:
    """The server's open connections, so a shutdown can close the idle ones and wait for the busy ones."""

    def __init__(self) -> None:
        self.connections: set[HttpConnection] = set()
        self.draining = False
        self._empty = asyncio.Event()
        self._empty.set()

    def add(self, connection: HttpConnection) -> None:
        self.connections.add(connection)
        self._empty.clear()

    def discard(self, connection: HttpConnection) -> None:
        self.connections.discard(connection)
        if not self.connections:
            self._empty.set()

    def drain(self) -> None:
        """No new requests: idle connections close now, busy ones after their current responses."""
        self.draining = True
        for connection in list(self.connections):
            connection.close_when_idle()

    async def wait_closed(self, timeout: float) -> bool:
        try:
            await asyncio.wait_for(self._empty.wait(), timeout)
            return True
        except TimeoutError:
            return False

    def abort_all(self) -> None:
        for connection in list(self.connections):
            connection.abort()


class HttpConnection(asyncio.Protocol):
    """One client connection: parse requests, answer them in order, enforce the limits."""

    def __init__(self, handle: Handle, limits: ConnectionLimits, tracker: ConnectionTracker):
        self._handle = handle
        self._limits = limits
        self._tracker = tracker
        self._loop = asyncio.get_running_loop()
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._queue: deque[tuple[Request, bool]] = deque()
        self._busy = False  # a response is being computed
        self._in_message = False  # part of a request has arrived
        self._write_paused = False
        self._read_paused = False
        self._closing = False  # no more requests are parsed or answered
        self._eof = False  # the client half-closed: close once what it sent is answered
        # One deadline at a time (the read, idle or linger one), kept lazily: a request moves `_deadline`, and
        # the loop's timer is only replaced when it would fire after the new deadline (see `_arm`).
        self._deadline = 0.0
        self._on_deadline: Callable[[], Any] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_when = 0.0
        self._granule = min(limits.read_timeout, limits.keep_alive)
        # A client that stops reading its answers is dropped after read_timeout; a clock of its own, so that the
        # next request's read deadline (armed and cleared as requests come and go) can never cancel it.
        self._write_timer: asyncio.TimerHandle | None = None
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0

    # ---- transport events -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transports quack, not subclass
        self._tracker.add(self)
        if self._tracker.draining:
            self.abort()
            return
        self._arm(self._limits.keep_alive, self._idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._disarm(cancel=True)
        self._cancel_write_timer()
        self._queue.clear()
        self._tracker.discard(self)

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return  # lingering after a rejection: drop what the client still sends
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._reject(400, "protocol upgrades are not supported; send plain HTTP/1.1 requests")
        except httptools.HttpParserError as e:
            if not self._closing:
                self._reject(400, f"malformed HTTP request ({e}); send a valid HTTP/1.1 request")

    def pause_writing(self) -> None:
        self._write_paused = True  # the client is not reading: answer nothing more until it does
        if self._write_timer is None:
            self._write_timer = self._loop.call_later(self._limits.read_timeout, self.abort)

    def resume_writing(self) -> None:
        self._write_paused = False
        self._cancel_write_timer()
        self._pump()

    def eof_received(self) -> bool | None:
        self._eof = True
        if not self._busy and not self._queue:
            return None  # close the connection
        return True  # the client half-closed after sending: still answer what it sent, then close

    # ---- parser callbacks -----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._in_message = True
        self._url = b""
        self._headers = {}
        self._body = []
        self._size = 0
        self._arm(self._limits.read_timeout, self._read_timeout)

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        length = self._headers.get("content-length")
        if length is not None and length.strip().isdigit() and int(length) > self._limits.max_body_bytes:
            self._reject(413, f"the request body is {int(length):,} bytes, over the "
                              f"{self._limits.max_body_bytes:,}-byte limit (SageMaker's 6 MB for InvokeEndpoint); "
                              "send fewer records per request")
            return
        if (self._headers.get("expect", "").lower() == "100-continue" and self._transport is not None
                and not self._busy and not self._queue):  # never ahead of an earlier request's answer
            self._transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        if self._closing:
            return
        self._size += len(body)
        if self._size > self._limits.max_body_bytes:
            self._reject(413, f"the request body exceeds the {self._limits.max_body_bytes:,}-byte limit "
                              "(SageMaker's 6 MB for InvokeEndpoint); send fewer records per request")
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        if self._closing:
            return
        self._in_message = False
        self._disarm()
        url = self._url.decode("latin-1")
        path = url.split("?", 1)[0]
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        request = Request(self._parser.get_method().decode("latin-1"), path, self._headers, body)
        self._queue.append((request, self._parser.should_keep_alive()))
        if len(self._queue) >= MAX_QUEUED and self._transport is not None and not self._read_paused:
            self._read_paused = True
            self._transport.pause_reading()
        self._pump()

    # ---- answering ------------------------------------------------------------------------------

    def _pump(self) -> None:
        """Answer queued requests in order while no answer is being computed and the client reads."""
        while self._queue and not self._busy and not self._write_paused and not self._closing:
            request, keep_alive = self._queue.popleft()
            try:
                result = self._handle(request)
            except Exception as e:  # the handle callable maps errors itself; this is the last line of defence
                result = error_response(500, f"the model server failed: {type(e).__name__}: {e}")
            if isinstance(result, Response):
                self._send(result, keep_alive)
            else:
                self._busy = True
                result.add_done_callback(functools.partial(self._answered, keep_alive=keep_alive))
                return
        if self._read_paused and len(self._queue) < MAX_QUEUED // 2 and self._transport is not None:
            self._read_paused = False
            self._transport.resume_reading()
        if not self._busy and not self._queue and not self._in_message and not self._closing:
            if self._tracker.draining or self._eof:
                self._close()
            elif self._on_deadline is None:
                self._arm(self._limits.keep_alive, self._idle_timeout)

    def _answered(self, done: asyncio.Future[Response], *, keep_alive: bool) -> None:
        self._busy = False
        if self._closing:
            return
        try:
            response = done.result()
        except Exception as e:
            response = error_response(500, f"the model server failed: {type(e).__name__}: {e}")
        self._send(response, keep_alive)
        self._pump()

    def _send(self, response: Response, keep_alive: bool, *, close: bool = True) -> None:
        transport = self._transport
        if transport is None or self._closing:
            return
        keep_alive = keep_alive and not self._tracker.draining
        head = [_status_and_type(response.status, response.content_type)]
        for name, value in response.headers.items():
            head.append(f"{name}: {value}\r\n".encode("latin-1"))
        head.append(b"Content-Length: %d\r\n" % len(response.body))
        if not keep_alive:
            head.append(b"Connection: close\r\n")
        elif self._parser.get_http_version() == "1.0":
            head.append(b"Connection: keep-alive\r\n")
        head.append(b"\r\n")
        transport.write(b"".join(head) + response.body)
        if not keep_alive and close:
            self._close()

    # ---- closing and timers ---------------------------------------------------------------------

    def _reject(self, status: int, message: str) -> None:
        """Answer an error before the request is whole, then stop parsing; linger so the client reads it."""
        self._queue.clear()
        self._busy = False
        self._send(error_response(status, message), keep_alive=False, close=False)
        self._closing = True
        self._disarm()
        if self._transport is not None:
            if self._transport.can_write_eof():
                self._transport.write_eof()  # the client reads the answer, then end of stream
            self._arm(REJECT_LINGER_SECONDS, self.abort)

    def _read_timeout(self) -> None:
        if self._busy or self._queue:  # we are still answering earlier requests: the clock restarts when we are done
            self._arm(self._limits.read_timeout, self._read_timeout)
            return
        self._reject(408, f"the request did not arrive within {self._limits.read_timeout:g} s; "
                          "send the whole request promptly")

    def _idle_timeout(self) -> None:
        if not self._busy and not self._queue and not self._in_message:
            self._close()

    def close_when_idle(self) -> None:
        if not self._busy and not self._queue and not self._in_message:
            self._close()

    def _close(self) -> None:
        self._closing = True
        self._disarm(cancel=True)
        self._cancel_write_timer()
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        self._closing = True
        self._disarm(cancel=True)
        self._cancel_write_timer()
        if self._transport is not None:
            self._transport.abort()

    def _arm(self, seconds: float, callback: Callable[[], Any]) -> None:
        """Make `callback` the one deadline, `seconds` from now, replacing any other.

        Arming and disarming per request would cost two timer creations and cancellations (about a quarter
        of the protocol's own time per small request). Instead the loop's timer never fires later than
        `_granule` after it was set, hence never after any deadline armed since (each is at least `_granule`
        away, but the linger), and when it fires early it re-arms for what is left."""
        now = self._loop.time()
        deadline = now + seconds
        self._deadline = deadline
        self._on_deadline = callback
        if self._timer is None or self._timer_when > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._schedule(min(deadline, now + self._granule))

    def _schedule(self, when: float) -> None:
        self._timer_when = when
        self._timer = self._loop.call_at(when, self._deadline_reached)

    def _deadline_reached(self) -> None:
        self._timer = None
        callback = self._on_deadline
        if callback is None:
            return  # disarmed meanwhile; the next _arm sets a timer again
        now = self._loop.time()
        if now < self._deadline:
            self._schedule(min(self._deadline, now + self._granule))
            return
        self._on_deadline = None
        callback()

    def _disarm(self, *, cancel: bool = False) -> None:
        """No deadline; the loop's timer stays (a later `_arm` reuses it) unless the connection is done."""
        self._on_deadline = None
        if cancel and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _cancel_write_timer(self) -> None:
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
