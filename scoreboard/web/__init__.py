"""The HTTP face of the service: the JSON API (api.py) and the admins' (admin.py), the stream
route (stream.py), the page (page.py), the OpenAPI document (openapi.py, operations.py), the
rules every request meets (cors.py, the rate limits: gate.py), the error replies and strict
JSON (replies.py), and the hot paths answered without Flask's hooks: the board reads
(reads.py) and the writes of play (writes.py)."""

from . import admin, api, cors, gate, openapi, page, reads, replies, stream, writes

__all__ = ["admin", "api", "cors", "gate", "openapi", "page", "reads", "replies", "stream",
           "writes"]
