"""Who watches a stream that needed their identity (a group's board), and the names of the
notices that end such streams: a token revoked, a player banned, a member gone from a
group, a group deleted. A notice names one key; a viewer's stream ends when the viewer has
that key. Keys are words joined by spaces: player ids, token ids and group ids hold none."""

from dataclasses import dataclass


def token(jti: str) -> str:
    return f"token {jti}"


def player(user_id: str) -> str:
    return f"player {user_id}"


def member(user_id: str, group_id: str) -> str:
    return f"member {user_id} {group_id}"


def group(group_id: str) -> str:
    return f"group {group_id}"


@dataclass(frozen=True)
class Viewer:
    """A stream's player, the token whose ticket opened it (its ``jti``; None for a token
    without one), the group it shows (None for a public view), and ``since``: this process's
    time.monotonic() before the credentials were checked. A notice heard after ``since``
    ends the stream even if it opens after the notice (live/clients.py)."""

    user_id: str
    token_id: str | None
    group_id: str | None
    since: float

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys of the notices that end this viewer's stream."""
        keys = [player(self.user_id)]
        if self.token_id is not None:
            keys.append(token(self.token_id))
        if self.group_id is not None:
            keys += [member(self.user_id, self.group_id), group(self.group_id)]
        return tuple(keys)
