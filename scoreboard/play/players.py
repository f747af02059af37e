"""Player records: created on first sight of a token, named and placed from its claims or
from the player's own profile."""

from sqlalchemy import select, update

from ..boards import leaderboard, ranks, views
from ..core import clock, names, periods
from ..core.errors import BadRequest
from ..data.db import db, insert_ignoring_duplicates
from ..data.models import GroupMember, User, WindowScore


def arriving(claims: dict, now) -> dict:
    """The row a token's subject starts with, from claims of an identity provider we do not
    control: only what fits is kept. (A token whose name claim breaks the rule for names
    never gets here: auth.authenticate refuses it.)"""
    region = claims.get("region")
    name = names.from_claim(claims.get("name")) or claims["sub"]
    return {"id": claims["sub"], "display_name": name,
            "region": region if views.REGION.fits(region) else None, "score": 0,
            "score_reached_at": now, "created_at": now}


def ensure_player(claims: dict) -> None:
    """Make sure the token's subject has a player row (concurrent first requests are safe)."""
    new = arriving(claims, clock.now())
    if db.session.execute(insert_ignoring_duplicates(User, new)).rowcount == 0 and new["region"]:
        follow_region(new["id"], db.session.get(User, new["id"]).region, new["region"])


def follow_region(user_id: str, known, claimed) -> None:
    """A known player whose identity provider now places them elsewhere: the provider's
    region wins, moving the player's boards like a change they made themself."""
    if claimed and known != claimed:
        _change(user_id, {"region": claimed})


def profile(user: User) -> dict:
    return {"userId": user.id, "displayName": user.display_name, "region": user.region,
            "score": user.score}


def get_profile(claims: dict) -> dict:
    ensure_player(claims)
    user = db.session.get(User, claims["sub"])
    db.session.commit()
    return profile(user)


def window_scores(user_id: str, past=False) -> dict:
    """The player's scores in the current windows, and in every past one with ``past``."""
    stmt = select(WindowScore.period, WindowScore.score).where(WindowScore.user_id == user_id)
    if not past:
        stmt = stmt.where(WindowScore.period.in_(periods.windows_of(clock.now())))
    return dict(db.session.execute(stmt).all())


def boards_showing(user: User, past=False) -> list:
    """Inside a writing transaction: the views whose top this player may be on now, so a
    change of their name, place or groups shows there; with ``past``, those of windows
    that have closed too (hiding a player changes them). A hidden player is on none."""
    if user.hidden:
        return []
    return leaderboard.views_moved(user.region, _groups_of(user.id), user.score,
                                   window_scores(user.id, past), clock.now())


def boards_counting(user: User, past=False) -> tuple:
    """Every view that counts this player (and ``past`` windows'), on its top or not,
    hidden or not: what a change whose earlier state is not known may have moved."""
    windows = (None, *periods.windows_of(clock.now()), *window_scores(user.id, past))
    return views.in_windows(user.region, tuple(_groups_of(user.id)),
                            tuple(dict.fromkeys(windows)))


def _groups_of(user_id: str) -> list:
    return db.session.scalars(
        select(GroupMember.group_id).where(GroupMember.user_id == user_id)).all()


def update_profile(claims: dict, changes: dict) -> dict:
    """Set the player's display name (normalised: names.py) and/or region (``None`` clears
    the region)."""
    if "displayName" in changes:
        changes = {**changes,
                   "displayName": names.checked(changes["displayName"], "displayName")}
    # The body rule's check (api.PROFILE), for callers that come without one.
    if changes.get("region") is not None and not views.REGION.fits(changes["region"]):
        raise BadRequest(views.REGION.message)
    ensure_player(claims)
    return _change(claims["sub"], changes)


def _change(user_id: str, changes: dict) -> dict:
    """Apply profile changes and move the boards they show on; commits."""
    user = db.session.execute(
        select(User).where(User.id == user_id).with_for_update()).scalar_one()
    shown = (user.display_name, user.region)
    before = boards_showing(user)
    if "displayName" in changes:
        user.display_name = changes["displayName"]
    if "region" in changes:
        user.region = changes["region"]
        db.session.execute(update(WindowScore).where(WindowScore.user_id == user_id)
                           .values(region=user.region))
    # A new name or place shows on the boards the player is on, before and after.
    after = boards_showing(user)
    changed = (user.display_name, user.region) != shown
    reply = profile(user)
    leaderboard.commit_announcing(list(dict.fromkeys(before + after)) if changed else [])
    ranks.region_changed(shown[1], user.region)
    return reply
