"""A loopback HTTP server for offline download tests: Range support, cut transfers, HTML pages, cookies."""

from __future__ import annotations

import http.server
import threading
from urllib.parse import parse_qs, urlparse

import pytest


class Server:
    """``http.server`` on 127.0.0.1 (ephemeral port).

    ``files[path]`` is served (path without query); ``types[path]`` its Content-Type;
    ``cut_after[path]`` drops the connection once after that many bytes; ``need_query[path]``
    answers 403 unless the query holds those parameters; ``cookies[path]`` is sent as Set-Cookie;
    ``variants[path] = (query, body)`` serves ``body`` instead when the query holds ``query``.
    """

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.types: dict[str, str] = {}
        self.cut_after: dict[str, int] = {}
        self.need_query: dict[str, dict[str, str]] = {}
        self.cookies: dict[str, str] = {}
        self.variants: dict[str, tuple[dict[str, str], bytes]] = {}
        self.ignore_range = False
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                wanted = self.headers.get("Range")
                server.requests.append((self.path, wanted))
                parsed = urlparse(self.path)
                path, query = parsed.path, {k: v[0] for k, v in parse_qs(parsed.query).items()}
                body = server.files.get(path)
                content_type = server.types.get(path, "application/octet-stream")
                variant = server.variants.get(path)
                if variant is not None and all(query.get(k) == v for k, v in variant[0].items()):
                    body, content_type = variant[1], "application/octet-stream"
                if body is None:
                    self.send_error(404)
                    return
                needed = server.need_query.get(path, {})
                if any(query.get(k) != v for k, v in needed.items()):
                    self.send_error(403)
                    return
                start = 0
                if wanted and not server.ignore_range:
                    start = int(wanted.split("=")[1].split("-")[0])
                    if start >= len(body):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Type", content_type)
                if path in server.cookies:
                    self.send_header("Set-Cookie", server.cookies[path])
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                cut = server.cut_after.pop(path, None)
                self.wfile.write(body[start:cut] if cut is not None else body[start:])
                if cut is not None:
                    self.close_connection = True

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.timeout = 5
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def paths(self) -> list[str]:
        return [urlparse(p).path for p, _ in self.requests]


@pytest.fixture()
def server():
    srv = Server()
    srv.thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()
    srv.thread.join(timeout=5)
