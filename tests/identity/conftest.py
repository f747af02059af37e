"""An identity provider of each test's own, serving its keys as a JWKS document."""

import pytest

from ..harness.provider import Provider


@pytest.fixture
def provider():
    """A provider (harness/provider.py) with one RS256 key, ``k1``, published; stopped at the
    end whatever happens."""
    provider = Provider().start()
    try:
        provider.new_key("k1")
        yield provider
    finally:
        provider.stop()


@pytest.fixture
def jwks_app(make_app, provider):
    """``jwks_app(backend="embedded", **settings)``: an app that verifies RS256 tokens (or
    ``JWT_ALGORITHM``'s) with ``provider``'s keys, fetched from its JWKS."""

    def make(backend="embedded", **settings):
        return make_app(backend, **{"JWT_ALGORITHM": "RS256", "JWT_JWKS_URL": provider.url,
                                    **settings})

    return make
