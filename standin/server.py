"""The sandbox's HTTP/1.1 keep-alive server, and ``start_sandbox`` for running it in a background thread."""

from __future__ import annotations

import contextlib
import http
import logging
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .config import SandboxConfig
from .core import Sandbox
from .errors import ApiError
from .wire import Request, Response

logger = logging.getLogger(__name__)

MAX_BODY = 10 * 1024 * 1024
# An idle keep-alive connection is closed after this long, so abandoned clients do not pin threads forever.
IDLE_TIMEOUT = 120


class SandboxHTTPServer(ThreadingHTTPServer):
    """One thread per connection; remembers open connections so ``stop`` can close idle keep-alive ones."""

    daemon_threads = True
    allow_reuse_address = True
    # Many benchmark clients connect at once; the default backlog of 5 would refuse some.
    request_queue_size = 512

    def __init__(self, host: str, port: int, sandbox: Sandbox) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((host, port), SandboxRequestHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the host's FQDN, which can stall without a network.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), int(self.server_address[1])

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        # A client that hangs up mid-answer (a timeout on its side) is ordinary here, not an error.
        if isinstance(error, ConnectionError | TimeoutError):
            return
        logger.exception("CX sandbox: error while serving %s", client_address)


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CXSandbox/1.0"
    sys_version = ""
    # Answers go out in one write; without this a client's delayed ACK can add 40 ms to each.
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: ``_serve`` writes its own line, and only with --verbose."""

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.config.verbose:
            logger.info("%s %s", self.address_string(), format % args)

    def _serve(self) -> None:
        started = time.monotonic()
        try:
            request = self._read_request()
            response = self.server.sandbox.handle(request)
        except ApiError as error:
            response = Response.from_error(error)
        except Exception:  # noqa: BLE001 - one broken request must not take the connection thread down silently
            logger.exception("CX sandbox: unexpected error answering %s %s", self.command, self.path)
            response = Response(500, {"description": "Internal sandbox error", "errors": []})
        if response.delay > 0:
            time.sleep(response.delay)
        if response.drop:
            # No answer at all: the client sees the connection close, as with a crash or a network cut.
            self.close_connection = True
        else:
            self._write(response)
        if self.server.sandbox.config.verbose:
            outcome = "dropped" if response.drop else response.status
            elapsed = (time.monotonic() - started) * 1000
            logger.info('%s "%s %s" %s %.1fms', self.address_string(), self.command, self.path, outcome, elapsed)

    def _read_request(self) -> Request:
        target = urlsplit(self.path)
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        return Request(
            method=self.command,
            path=target.path,
            query=dict(parse_qsl(target.query, keep_blank_values=True)),
            headers=headers,
            raw_body=self._read_body(),
        )

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "Invalid Content-Length") from None
        if length > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, "Request body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                self.close_connection = True
                raise ApiError(400, "Invalid chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers, ignored
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                raise ApiError(413, "Request body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _write(self, response: Response) -> None:
        body = response.encoded_body()
        try:
            reason = http.HTTPStatus(response.status).phrase
        except ValueError:
            reason = ""
        headers = {"Server": self.version_string(), "Date": self.date_time_string()}
        if response.body is not None:
            headers["Content-Type"] = "application/json"
        headers.update(response.headers)
        headers["Content-Length"] = str(len(body))
        if self.close_connection:
            headers["Connection"] = "close"
        elif self.request_version == "HTTP/1.0":
            headers["Connection"] = "keep-alive"
        head = f"{self.protocol_version} {response.status} {reason}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        try:
            # One write for head and body: one packet for small answers, no Nagle/delayed-ACK stall.
            self.wfile.write(head.encode("latin-1") + body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class SandboxHandle:
    """A sandbox serving in a daemon thread of this process."""

    def __init__(self, server: SandboxHTTPServer, sandbox: Sandbox, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self.sandbox = sandbox
        self.host = str(server.server_address[0])
        self.port = int(server.server_address[1])
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{host}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self.sandbox.stop()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sandbox(host: str = "127.0.0.1", port: int = 0, **config: Any) -> SandboxHandle:
    """Starts a sandbox on ``host:port`` (0 picks a free port); ``config`` takes SandboxConfig's fields."""
    sandbox = Sandbox(SandboxConfig(**config))
    server = SandboxHTTPServer(host, port, sandbox)
    sandbox.start()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="cx-sandbox-http", daemon=True
    )
    thread.start()
    return SandboxHandle(server, sandbox, thread)
