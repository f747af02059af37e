"""An action ticket's id: the moment it was issued, then 192 random bits.

The tickets are partitioned by the day they were issued (migration 0016), and a completion
names its ticket by id only. An id that carries its moment lets the completion look the
ticket up by its whole key (user_id, created_at, id), in the one partition that can hold
it, where an id alone has to be looked for in every partition (migration 0019).

The moment is the ticket's created_at in microseconds since the Unix epoch (UTC), 16
decimal digits (from 2001 to 2286); the random part is ``secrets.token_urlsafe(24)``, 32
characters. 48 characters in all, of the API's actionId alphabet ([A-Za-z0-9_-]{16,64}).
The release before 0019 issued the random part alone (32 characters): an id of any other
form than this one has no moment, and is looked for by id (rules.py).
"""

import secrets
from datetime import datetime, timedelta

_EPOCH = datetime(1970, 1, 1)
_DIGITS = 16
_RANDOM_BYTES = 24  # 192 bits
LENGTH = _DIGITS + 32


def new(issued: datetime) -> str:
    """A new, unguessable id of a ticket issued at ``issued`` (naive UTC)."""
    micros = (issued - _EPOCH) // timedelta(microseconds=1)
    return f"{micros:0{_DIGITS}d}{secrets.token_urlsafe(_RANDOM_BYTES)}"


def issued_at(ticket_id: str) -> datetime | None:
    """The moment an id of this form holds; None for any other id (the release before's,
    or one made up), which is then looked for by id alone. 16 digits always make a
    moment a timestamp can hold, so a made-up one is only a ticket that is not there."""
    head = ticket_id[:_DIGITS]
    if len(ticket_id) != LENGTH or not (head.isascii() and head.isdigit()):
        return None
    return _EPOCH + timedelta(microseconds=int(head))
