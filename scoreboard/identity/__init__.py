"""Identity: who a request comes from (its JWT), whether its token is revoked, and the
admin role. ``init_app`` binds it to an app with the blocklist create_app hands it."""

from .auth import REVOKED, authenticate, authenticate_admin, init_app, issue_token
from .revocation import is_revoked, revoke

__all__ = ["REVOKED", "authenticate", "authenticate_admin", "init_app", "is_revoked",
           "issue_token", "revoke"]
