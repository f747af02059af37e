"""Helpers shared by the tests and the benchmarks, one module per kind: ``servers`` (gunicorn
and redis-server processes on free ports, HTTP calls to them), ``databases`` (PostgreSQL
databases of a run's own), ``streams`` (Server-Sent Events clients), ``players`` (tokens and
plays through the services or the API), ``meters`` (this process's own metrics) and
``waiting`` (conditions with deadlines)."""

# The key every test app and test server signs and checks tokens with.
SECRET = "test-secret-" + "x" * 40
