"""The WSGI layer that dispatches the two writes of play (start, update) without Flask's
request hooks.

None of those hooks has anything to do for these routes: Flask-Limiter's leave them to the
gate (gate.limited_elsewhere), the API's ban check leaves them to the statement they run
(api.BAN_READ_BY_STATEMENT), and CORS grants nothing to a request without Origin. Yet Flask
runs every hook on every request, and Flask-Limiter's alone measured at 11.5 % of an
update's instructions (bench/update_cost.py --instructions: +262,550 an update), because it
finds a request's view and exemptions before it asks its filter.

So a write is dispatched here as Flask would, hooks aside: in the request context Flask
would push (which matches the route, for the view, the logs and the metrics), the route's
own view runs, an error goes to the app's error handlers, and the reply is the app's. A
write that carries an Origin while ``CORS_ORIGINS`` lists any goes on to Flask, whose hook
grants it. tests/web/test_writes.py names every hook the app registers and fails on a new
one until it is decided whether the writes need it.
"""

from flask import Flask, Request

from . import cors

WRITES = frozenset({"/api/actions/start", "/api/scores/update"})


class Writes:
    """WSGI middleware in front of the Flask app ``app`` (whose WSGI callable, with any
    middleware between, is ``wsgi_app``)."""

    def __init__(self, app: Flask, wsgi_app):
        self.app = app
        self.wsgi_app = wsgi_app
        self.cross_origin = bool(app.config["CORS_ORIGINS"])

    def __call__(self, environ, start_response):
        if (environ.get("PATH_INFO") in WRITES and environ.get("REQUEST_METHOD") == "POST"
                and not (self.cross_origin and "HTTP_ORIGIN" in environ)):
            return self._dispatch(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def _dispatch(self, environ, start_response):
        app = self.app
        context = app.request_context(environ)
        with context:
            try:
                response = app.make_response(self._reply(context.request))
            except Exception as error:  # a handler's own failure: Flask's last resort too
                response = app.handle_exception(error)
            if self.cross_origin:
                response.vary.add(cors.VARY[1])  # as cors.py's hook marks every API reply
            return response(environ, start_response)

    def _reply(self, request: Request):
        """What the route's view returns, or its error handler for what it raised. The
        request is the context's own, not the proxy: each look-up through that costs a
        context-variable read and a failed attribute look-up."""
        try:
            if request.routing_exception is not None:
                raise request.routing_exception
            return self.app.view_functions[request.endpoint](**request.view_args)
        except Exception as error:
            return self.app.handle_user_exception(error)
