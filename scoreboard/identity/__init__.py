"""Identity: who a request comes from (its JWT), whether its token is revoked, and the
admin role. ``init_app`` binds it to an app with the blocklist create_app hands it, and to
the identity provider's keys when ``JWT_JWKS_URL`` names them."""

from .auth import (
    REVOKED,
    authenticate,
    authenticate_admin,
    init_app,
    issue_token,
    signing_keys_status,
)
from .jwks import STALE, UNAVAILABLE
from .revocation import is_revoked, revoke

__all__ = ["REVOKED", "STALE", "UNAVAILABLE", "authenticate", "authenticate_admin",
           "init_app", "is_revoked", "issue_token", "revoke", "signing_keys_status"]
