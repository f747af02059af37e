"""A second web origin for cross-origin browser tests: a few static files served from
``http://localhost:<free port>``, while the service under test answers on 127.0.0.1, so the
browser treats the two as different origins (host and port both differ)."""

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .servers import free_port

TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8"}


@contextmanager
def second_origin(files: dict[str, str]):
    """Serve ``files`` (path such as "/game.html" -> text) until the block ends; yields the
    origin, e.g. "http://localhost:41234". Any other path is a 404."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path not in files:
                self.send_error(404)
                return
            body = files[path].encode()
            kind = TYPES.get(path[path.rfind("."):], "application/octet-stream")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # the test's own output stays readable
            pass

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)  # shutdown() waits for its next poll (0.5 s by default)
    thread.start()
    try:
        yield f"http://localhost:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
