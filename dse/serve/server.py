"""``dse serve``'s HTTP server: the study as a live web page while it trains. Read-only, beside training, locked
down. What it answers is the route table of ``dse.serve.views``; the page is ``page.html``, ``page.js`` and
``page.css`` beside this module.

The server only reads the store (``Study(create=False)``: never a write, and a SQLite reader in WAL mode holds no
lock a writer waits on), and recomputes a view only when the store changed (its file's and WAL's size and time).
Every page part is a JSON view of the same Study methods the CLI prints (``/api/...``) or a section of the HTML
report (``/api/section/ID``: one source for a figure and its numbers). A damaged, locked or missing store is an
error the page shows (503); the server keeps running and the page recovers when the store does.

Locked down: 127.0.0.1 by default; any other host needs the token (``?token=`` or the X-DSE-Token header; every
request without it gets 403). Only fixed routes (anything else 404, no file is ever served); GET and HEAD only,
no request body, a bounded request line; bad parameters 400 with a JSON error; every user string escaped (HTML
by the report's writer, text by the page's script, JSON with ``<``, ``>``, ``&`` as \\u escapes); one thread a
connection, each with a time limit, so a slow or dropped client stalls no other.

    >>> srv = make_server("s.sqlite", port=0)     # doctest: +SKIP
    >>> srv.serve_forever()                          # doctest: +SKIP
"""

from __future__ import annotations

import hmac
import json
import math
import os
import secrets
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit

from dse.errors import DseError, ParamError
from dse.serve.views import HEAVY_EVERY_S, Bad, Views, answer

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_REQUEST_LINE = 4096   # bytes of the request line and of each header (http.server allows 65,536)
CLIENT_TIMEOUT_S = 10     # a connection idle for longer is closed: a slow client holds only its own thread
REQUEST_DEADLINE_S = 10   # a request's line and headers must arrive within this in all (a byte a second is cut)
MAX_READING = 64          # connections still sending their request at most: a new one cuts the oldest of them
MAX_CONNECTIONS = 768     # open connections at most (each a thread and a file descriptor; the usual limit is 1,024)
PUBLIC = ("/page.js", "/page.css")  # served without the token: they hold no data (the page's script and style)


def _json(obj) -> bytes:
    """JSON that is safe inside HTML too: <, > and & as \\u escapes; NaN and inf as null."""
    def clean(x):
        if isinstance(x, float) and not math.isfinite(x):
            return None
        if isinstance(x, dict):
            return {str(k): clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x
    text = json.dumps(clean(obj), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


class Handler(BaseHTTPRequestHandler):
    """One request: checked (method, size, token), routed, answered; errors as JSON."""

    server_version = "dse-serve"
    sys_version = ""
    timeout = CLIENT_TIMEOUT_S

    def log_message(self, fmt, *args):  # quiet: a page polling every 2 s would fill the terminal
        pass

    def _send(self, status: int, ctype: str, body: bytes, head: bool = False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", "default-src 'self'; script-src 'self'; "
                                                    "style-src 'self' 'unsafe-inline'; img-src 'self' data:")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _error(self, status: int, message: str, head: bool = False):
        self._send(status, "application/json", _json({"error": message, "status": status}), head)

    def handle_one_request(self):
        self.server._reading(self.connection, True)  # its deadline runs from here until its headers are in
        super().handle_one_request()

    def parse_request(self):
        self.server._reading(self.connection, False)
        if len(self.raw_requestline) > MAX_REQUEST_LINE:
            self.requestline, self.request_version, self.command = "", "HTTP/1.1", "GET"
            self.close_connection = True
            self._error(414, f"request line over {MAX_REQUEST_LINE} bytes")
            return False
        return super().parse_request()

    def do_GET(self, head: bool = False):
        srv = self.server
        try:
            if int(self.headers.get("Content-Length") or 0) > 0 or self.headers.get("Transfer-Encoding"):
                raise Bad(413, "requests have no body here")
            url = urlsplit(self.path)
            q = parse_qs(url.query, keep_blank_values=False, max_num_fields=32)
            if not srv.token and not _local_host(self.headers.get("Host"), srv.server_address[1]):
                # a page elsewhere could reach a server on localhost through DNS rebinding (its own name resolving
                # to 127.0.0.1): without a token, only requests for localhost by name or address are answered
                raise Bad(403, "this server answers requests for 127.0.0.1, localhost or [::1] only (the Host "
                                "header); open the URL dse serve printed")
            if srv.token and url.path not in PUBLIC:
                given = q.pop("token", [""])[-1] or self.headers.get("X-DSE-Token", "")
                if not hmac.compare_digest(given.encode(), srv.token.encode()):
                    raise Bad(403, "this server needs its token: open the URL dse serve printed (?token=...)")
            if url.path.startswith("/api/") and url.path != "/api/version":
                srv.views.health()
            ctype, body = answer(srv.views, url.path, q)
            if not isinstance(body, (bytes, str)):
                body = _json(body)
            self._send(200, ctype, body.encode() if isinstance(body, str) else body, head)
        except Bad as e:
            self._error(e.status, str(e), head)
        except ParamError as e:
            self._error(400, str(e), head)
        except DseError as e:  # what a view says of the data (e.g. too few models yet): shown where it would be
            self._error(422, str(e), head)
        except ValueError as e:  # a malformed query string (too many fields, ...)
            self._error(400, f"bad request: {e}", head)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def _refuse(self):
        self.close_connection = True
        self._error(405, "read-only: GET and HEAD only")

    def __getattr__(self, name):  # every other method (TRACE, CONNECT, any verb): the same 405 JSON, not a 501 page
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)


class Server(ThreadingHTTPServer):
    """One thread a connection. At most MAX_READING connections may be sending their request at once: a new one
    cuts the one that has been sending longest (a trickling client); a request's line and headers must arrive
    within REQUEST_DEADLINE_S in all (a watchdog cuts it); beyond MAX_CONNECTIONS open a new one is closed at once."""

    daemon_threads = True  # a client that never finishes holds its own thread only, and not the shutdown
    request_queue_size = 256

    def __init__(self, addr, views: Views, token: str | None):
        self.views, self.token = views, token
        if ":" in addr[0]:  # an IPv6 address (::1, ::)
            self.address_family = socket.AF_INET6
        self._lock = threading.Lock()
        self._open: dict = {}     # socket -> the time its current request began arriving, or None while answered
        self._stop = threading.Event()
        super().__init__(addr, Handler)
        threading.Thread(target=self._watchdog, daemon=True).start()

    def _reading(self, sock, reading: bool) -> None:
        with self._lock:
            if sock in self._open:
                self._open[sock] = time.monotonic() if reading else None

    @staticmethod
    def _cut(sock) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # its thread's read ends at once; the thread closes it
        except OSError:
            pass

    def _watchdog(self) -> None:
        while not self._stop.wait(0.5):
            now = time.monotonic()
            with self._lock:
                late = [k for k, t in self._open.items() if t is not None and now - t > REQUEST_DEADLINE_S]
            for sock in late:
                self._cut(sock)

    def process_request(self, request, client_address):
        with self._lock:
            full = len(self._open) >= MAX_CONNECTIONS
            reading = [(t, k) for k, t in self._open.items() if t is not None]
            if len(reading) >= MAX_READING:  # the connection sending its request longest makes room
                self._cut(min(reading, key=lambda x: x[0])[1])
            if not full:
                self._open[request] = time.monotonic()
        if full:  # (file descriptors are finite: the client may try again in a moment)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self._lock:
            self._open.pop(request, None)
        super().shutdown_request(request)

    def server_close(self):
        self._stop.set()
        super().server_close()

    def handle_error(self, request, client_address):
        """A connection reset or cut mid-request is the client's doing: no traceback."""
        import sys

        if isinstance(sys.exc_info()[1], (OSError, ValueError)):
            return
        super().handle_error(request, client_address)


def _local_host(header: str | None, port: int) -> bool:
    """The Host header names this machine's loopback (127.0.0.1, localhost or [::1], with this server's port or
    none); no header at all (HTTP/1.0) is taken as local.

    >>> _local_host("localhost:8765", 8765), _local_host("[::1]", 8765), _local_host("evil.example:8765", 8765)
    (True, True, False)
    """
    if header is None:
        return True
    h = header.strip().lower()
    if h.startswith("["):
        name, _, rest = h[1:].partition("]")
        given = rest[1:] if rest.startswith(":") else None
        if rest and not rest.startswith(":"):
            return False
    else:
        name, _, given = h.partition(":")
        given = given or None
    return name in LOCAL_HOSTS and (given is None or given == str(port))


def make_server(study, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
                heavy_every: float = HEAVY_EVERY_S) -> Server:
    """A server of ``study`` (a ``dse.Study``, or a store's path: read with ``Study(path, create=False)``) on
    host:port (port 0: any free one; ``server.server_address`` says which). Any host but 127.0.0.1/localhost/::1
    requires a token: ``token``, or one generated (``server.token``). ``heavy_every``: seconds between
    recomputations of the heavy views while the store keeps changing."""
    from dse.study import Study

    if isinstance(study, (str, os.PathLike)) and str(study):
        study = Study(study, create=False)  # a reader: never a write, never a migration
    if not isinstance(study, Study):
        raise ParamError(f"{{db}} must be a dse.Study or a store's file path, got {study!r}", "db")
    if not isinstance(heavy_every, (int, float)) or isinstance(heavy_every, bool) or not 0 <= heavy_every <= 3600:
        raise ParamError(f"{{heavy_every}} must be from 0 to 3600 seconds, got {heavy_every!r}", "heavy_every")
    if not isinstance(host, str) or not host:
        raise ParamError(f"{{host}} must be an address such as 127.0.0.1, got {host!r}", "host")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ParamError(f"{{port}} must be from 0 to 65535, got {port!r}", "port")
    if token is not None and (not isinstance(token, str) or len(token) < 16 or not token.isascii()):
        raise ParamError("{token} must be at least 16 ASCII characters", "token")
    if host not in LOCAL_HOSTS and token is None:
        token = secrets.token_urlsafe(24)
    try:
        srv = Server((host, port), Views(study, heavy_every), token)
    except OSError as e:
        raise DseError(f"cannot listen on {host}:{port} ({e.strerror or e}); pick another --port or --host") \
            from None
    return srv


def url_of(srv: Server) -> str:
    host, port = srv.server_address[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={quote(srv.token, safe='')}" if srv.token else "")
