"""Playing: the action catalog and the single-use tickets that prove an action was started
(actions.py), completing one, the only way a score rises (scoring.py), players' records and
profiles (players.py), friend groups by invitation (groups.py), and the admins' moderation
of players (moderation.py)."""

from . import actions, groups, moderation, players, scoring

__all__ = ["actions", "groups", "moderation", "players", "scoring"]
