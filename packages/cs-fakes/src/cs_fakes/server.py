"""What every fake shares: a threaded HTTP(S) server in the calling process, JSON answers, a log
of the requests it served, and faults queued to answer the next matching requests."""

from __future__ import annotations

import json
import ssl
import tempfile
import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme

__all__ = ["FakeService", "Fault", "Request", "Response"]


@dataclass(frozen=True, slots=True)
class Request:
    """A request as the fake saw it."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: Any
    """The JSON body, decoded (``None`` when there is none)."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: Any = None
    """Serialised as JSON unless it is ``bytes``."""
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Fault:
    """An answer given instead of the real one to a request whose path contains ``path``
    (``""``: any request), once ``after`` such requests have been answered normally."""

    response: Response
    path: str = ""
    after: int = 0


class FakeService(ABC):
    """A fake of one service. Subclasses implement :meth:`handle`.

    ``with service.running() as base_url:`` serves it on a free port of 127.0.0.1; with
    ``tls=True`` over HTTPS with a certificate from a throwaway CA whose bundle is
    :attr:`ca_bundle`.
    """

    def __init__(self, *, tls: bool = False) -> None:
        self.tls = tls
        self.requests: list[Request] = []
        self.faults: deque[Fault] = deque()
        self.base_url = ""
        self.ca_bundle: Path | None = None
        self._lock = threading.Lock()

    def fail_next(self, status: int, body: Any = None, *, path: str = "", after: int = 0,
                  headers: Mapping[str, str] | None = None) -> None:  # fmt: skip
        """Answer a request to ``path`` with ``status`` (once per call): the next one, or the
        one after ``after`` more have been answered normally."""
        self.faults.append(Fault(Response(status, body, dict(headers or {})), path, after))

    @abstractmethod
    def handle(self, request: Request) -> Response:
        """The service's answer to ``request`` when no fault is queued for it."""

    def _answer(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
            for position, fault in enumerate(self.faults):
                if fault.path not in request.path:
                    continue
                if fault.after:
                    self.faults[position] = replace(fault, after=fault.after - 1)
                    break
                del self.faults[position]
                return fault.response
        return self.handle(request)

    @contextmanager
    def running(self, directory: Path | None = None) -> Iterator[str]:
        """Serve until the block ends; yields the base URL (``https://127.0.0.1:PORT``).

        With TLS, the CA bundle is written to ``directory`` (default: a temporary folder).
        """
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self._answer))
        server.daemon_threads = True
        scheme = "http"
        if self.tls:
            scheme = "https"
            authority = trustme.CA()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            authority.issue_cert("127.0.0.1", "localhost").configure_cert(context)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            if directory is None:
                directory = Path(tempfile.mkdtemp(prefix="cs-fakes-"))
            self.ca_bundle = directory / "fake-ca.pem"
            authority.cert_pem.write_to_path(str(self.ca_bundle))
        self.base_url = f"{scheme}://127.0.0.1:{server.server_port}"
        # A short poll interval: shutting down waits for the loop to notice, at most this long.
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
        thread.start()
        try:
            yield self.base_url
        finally:
            server.shutdown()
            server.server_close()
            thread.join()


def _handler(answer: Callable[[Request], Response]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: clients reuse their connections
        # Headers and body go in two sends: without this, each answer waits ~40 ms for the
        # client's delayed ACK.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            request = Request(
                method=self.command,
                path=parts.path,
                query={key: values[-1] for key, values in parse_qs(parts.query).items()},
                headers={key.lower(): value for key, value in self.headers.items()},
                body=json.loads(raw) if raw else None,
            )
            response = answer(request)
            if isinstance(response.body, bytes):
                data, content_type = response.body, "application/octet-stream"
            else:
                data = b"" if response.body is None else json.dumps(response.body).encode()
                content_type = "application/json"
            self.send_response(response.status)
            headers = {"Content-Type": content_type} | dict(response.headers)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the fake keeps its own log in ``requests``."""

    return Handler
