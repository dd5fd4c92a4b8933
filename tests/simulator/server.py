"""The HTTPS server: one thread per connection, TLS with the simulator's test certificate, answers from
`simulator.answer(request)`. Streamed bodies may be slowed down or cut (the connection dropped mid-body)."""
import json
import socket
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

from requests.structures import CaseInsensitiveDict


@dataclass
class HttpRequest:
    method: str
    path: str  # percent-decoded
    query: str = ""  # as sent
    headers: CaseInsensitiveDict = field(default_factory=CaseInsensitiveDict)
    body: bytes = b""
    client: str = ""  # who the simulator found the caller to be, for the log

    @property
    def params(self):
        return {name: values[0] for name, values in parse_qs(self.query, keep_blank_values=True).items()}

    @property
    def form(self):
        return {name: values[0] for name, values in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def base(self):
        """https://host:port as the client addressed us (links in answers point back the same way)."""
        return f"https://{self.headers.get('Host', '127.0.0.1')}"


@dataclass
class HttpResponse:
    status: int
    body: object = b""  # dict/list (JSON), str (HTML), bytes, or an iterator of bytes (Content-Length in headers)
    headers: dict = field(default_factory=dict)
    cut_after: int | None = None  # streamed bodies: drop the connection after this many bytes


class _Cut(Exception):
    pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._answer()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _answer(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = HttpRequest(self.command, unquote(parts.path), parts.query, CaseInsensitiveDict(self.headers.items()),
                              self.rfile.read(length) if length else b"")
        self._send(self.server.simulator.answer(request))

    def _send(self, response):
        body, headers = response.body, dict(response.headers)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
            headers.setdefault("Content-Type", "text/html; charset=utf-8")
        self.send_response(response.status)
        if isinstance(body, bytes):
            headers["Content-Length"] = str(len(body))
        elif "Content-Length" not in headers:
            headers["Connection"] = "close"
            self.close_connection = True
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if isinstance(body, bytes):
            self.wfile.write(body)
            return
        sent, delay = 0, self.server.simulator.faults.chunk_delay
        try:
            for chunk in body:
                if response.cut_after is not None and sent + len(chunk) >= response.cut_after:
                    self.wfile.write(chunk[:response.cut_after - sent])
                    raise _Cut
                self.wfile.write(chunk)
                sent += len(chunk)
                if delay:
                    time.sleep(delay)
        except (_Cut, OSError):  # cut on purpose, or the client went away
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)  # no TLS close_notify: the body just stops
            except OSError:
                pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, simulator, context):
        self.simulator, self.context = simulator, context
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the connection's own thread, not in the accept loop.
        request.settimeout(60)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go as separate writes
        try:
            secure = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(secure, client_address)
        finally:
            secure.close()

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (OSError, ssl.SSLError)):
            super().handle_error(request, client_address)


class ServerThread(threading.Thread):
    """The server in a thread, as Django's LiveServerThread: port 0 picks a free port, `is_ready` is set once
    it listens (or failed to, with `error`), `terminate()` stops it."""

    def __init__(self, simulator, context, host="127.0.0.1", port=0):
        super().__init__(name="microsoft-simulator", daemon=True)
        self.simulator, self.context, self.host, self.port = simulator, context, host, port
        self.is_ready = threading.Event()
        self.error = None
        self.httpd = None

    def run(self):
        try:
            self.httpd = _Server((self.host, self.port), self.simulator, self.context)
            self.port = self.httpd.server_address[1]
            self.is_ready.set()
            self.httpd.serve_forever(poll_interval=0.05)
        except Exception as e:
            self.error = e
            self.is_ready.set()
        finally:
            if self.httpd is not None:
                self.httpd.server_close()

    def terminate(self):
        if self.httpd is not None and self.error is None:
            self.httpd.shutdown()
        self.join()
