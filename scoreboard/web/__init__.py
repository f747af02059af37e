"""The HTTP face of the service: the JSON API (api.py) and the admins' (admin.py), the stream
route (stream.py), the page (page.py), the OpenAPI document (openapi.py, operations.py), the
rules every request meets (cors.py, the write gate: gate.py, Flask-Limiter: limiter.py), the
error replies and strict JSON (replies.py), and the board reads answered below Flask
(reads.py)."""

from . import admin, api, cors, gate, limiter, openapi, page, reads, replies, stream

__all__ = ["admin", "api", "cors", "gate", "limiter", "openapi", "page", "reads", "replies",
           "stream"]
