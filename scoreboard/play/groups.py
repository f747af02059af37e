"""Friend groups: an owner, members, and privacy: only members see a group.

A player becomes a member only by consent: the owner invites, the player joins (or
declines, or the owner takes the invitation back). Caps bound what a player and a group
may hold (config.py): groups owned and joined per player, since each group a player is in
adds its views to every update of theirs, and members and pending invitations per group.
"""

import logging
import secrets

from flask import current_app
from sqlalchemy import delete, func, select

from ..boards import leaderboard
from ..core import clock, names, viewers
from ..core.errors import ApiError, Forbidden
from ..data.db import db, reading
from ..data.models import Group, GroupInvitation, GroupMember, User
from .players import boards_showing, ensure_player

log = logging.getLogger(__name__)


class OverLimit(ApiError):
    """A 409 for a change past one of the caps, whose ``code`` names it."""

    def __init__(self, code: str, message: str):
        super().__init__(409, message, error_code=code)


def _load(group_id: str, *, lock=False) -> Group:
    stmt = select(Group).where(Group.id == group_id)
    group = db.session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if group is None:
        raise ApiError(404, "Group not found.")
    return group


def _owned(group_id: str, claims: dict, doing: str, lock=True) -> Group:
    """The group (locked, unless only read) if the token's player owns it: 404 unknown,
    else 403."""
    group = _load(group_id, lock=lock)
    if group.owner_id != claims["sub"]:
        raise Forbidden(f"Only the group's owner can {doing}.")
    return group


def _count(*where, of=GroupMember) -> int:
    return db.session.scalar(select(func.count()).select_from(of).where(*where))


def _below(setting: str, count: int, code: str, message: str) -> None:
    """Refuse (409 naming the cap) a change that would take ``count`` past ``setting``."""
    most = current_app.config[setting]
    if count >= most:
        raise OverLimit(code, message.format(most=most))


def _room_in(group_id: str) -> None:
    """Refuse (409) a new member, or an invitation, for a group that is full."""
    _below("GROUP_MAX_MEMBERS", _count(GroupMember.group_id == group_id),
           "group_members_limit", "Group is full: a group has at most {most} members.")


def _lock_player(claims: dict) -> None:
    """Make sure the token's player has a row, and lock it: a player's concurrent creates
    or joins then count their groups one after another, and cannot pass a cap together."""
    ensure_player(claims)
    db.session.execute(select(User.id).where(User.id == claims["sub"]).with_for_update())


def is_member(group_id: str, user_id: str) -> bool:
    return db.session.get(GroupMember, (group_id, user_id)) is not None


def require_member(group_id: str, user_id: str) -> None:
    """404 for an unknown group, 403 for one the player is not in."""
    with reading():
        _load(group_id)
        if not is_member(group_id, user_id):
            raise Forbidden("Only members can see this group.")


def _moved_by(group_id: str, user_id: str) -> list:
    """Inside a writing transaction: the views of this group that this member is on the top
    of (so adding or removing them changes those boards)."""
    user = db.session.get(User, user_id)
    if user is None:
        return []
    return [view for view in boards_showing(user) if view.group == group_id]


def _describe(group: Group) -> dict:
    rows = db.session.execute(
        select(GroupMember.user_id, User.display_name)
        .outerjoin(User, User.id == GroupMember.user_id)
        .where(GroupMember.group_id == group.id)
        .order_by(GroupMember.joined_at, GroupMember.user_id)
    ).all()
    return {
        "groupId": group.id,
        "name": group.name,
        "ownerId": group.owner_id,
        "members": [{"userId": r.user_id, "displayName": r.display_name or r.user_id}
                    for r in rows],
    }


def create_group(claims: dict, name: str) -> dict:
    name = names.checked(name, "name")
    me = claims["sub"]
    _lock_player(claims)
    _below("GROUP_MAX_OWNED", _count(Group.owner_id == me, of=Group), "groups_owned_limit",
           "A player may own at most {most} groups: delete one first.")
    now = clock.now()
    group = Group(id=secrets.token_urlsafe(12), name=name, owner_id=me, created_at=now)
    db.session.add(group)
    db.session.add(GroupMember(group_id=group.id, user_id=me, joined_at=now))
    db.session.flush()
    reply = _describe(group)
    db.session.commit()
    log.info("group %s created by %s", group.id, me)
    return reply


def get_group(claims: dict, group_id: str) -> dict:
    require_member(group_id, claims["sub"])
    with reading():
        return _describe(_load(group_id))


def invite(claims: dict, group_id: str, user_id: str) -> tuple[dict, bool]:
    """The owner invites a player: the invitation, and whether it is new (inviting again
    while one is pending changes nothing). A member is not invited again (409)."""
    _owned(group_id, claims, "invite players")  # 403 or 404 unless the owner asks
    if is_member(group_id, user_id):
        raise ApiError(409, "Already a member of this group.", error_code="already_member")
    created = db.session.get(GroupInvitation, (group_id, user_id)) is None
    if created:
        _room_in(group_id)
        _below("GROUP_MAX_INVITATIONS", _count(GroupInvitation.group_id == group_id,
                                               of=GroupInvitation),
               "group_invitations_limit", "A group may have at most {most} pending "
               "invitations: wait for answers, or take some back.")
        db.session.add(GroupInvitation(group_id=group_id, user_id=user_id,
                                       invited_at=clock.now()))
        db.session.flush()
    [reply] = _invitations(GroupInvitation.group_id == group_id,
                           GroupInvitation.user_id == user_id)
    db.session.commit()
    if created:
        log.info("group %s: %s invited %s", group_id, claims["sub"], user_id)
    return reply, created


def join(claims: dict, group_id: str) -> dict:
    """The invited player accepts: a member now, the invitation spent. Joining a group one
    is in already changes nothing; without an invitation it is a 403."""
    me = claims["sub"]
    _lock_player(claims)
    group = _load(group_id, lock=True)
    joining = not is_member(group_id, me)
    if joining:
        invited = (GroupInvitation.group_id == group_id, GroupInvitation.user_id == me)
        not_invited = Forbidden("You have not been invited to this group.")
        if not _count(*invited, of=GroupInvitation):
            raise not_invited
        _below("GROUP_MAX_JOINED", _count(
            GroupMember.user_id == me, Group.id == GroupMember.group_id, Group.owner_id != me),
            "groups_joined_limit",
            "A player may be in at most {most} groups of others: leave one first.")
        _room_in(group_id)
        # The player may have declined it meanwhile, in a request that did not wait on
        # the group's lock.
        if not db.session.execute(delete(GroupInvitation).where(*invited)).rowcount:
            raise not_invited
        db.session.add(GroupMember(group_id=group_id, user_id=me, joined_at=clock.now()))
        db.session.flush()
    moved = _moved_by(group_id, me)
    reply = _describe(group)
    leaderboard.commit_announcing(moved)
    if joining:
        log.info("group %s: %s joined", group_id, me)
    return reply


def _withdraw(group_id: str, user_id: str, why: str) -> None:
    """Delete a pending invitation (404 if there is none), and commit."""
    gone = db.session.execute(delete(GroupInvitation).where(
        GroupInvitation.group_id == group_id, GroupInvitation.user_id == user_id))
    if not gone.rowcount:
        raise ApiError(404, "No such invitation.")
    db.session.commit()
    log.info("group %s: invitation of %s %s", group_id, user_id, why)


def decline(claims: dict, group_id: str) -> None:
    """The invited player says no."""
    _withdraw(group_id, claims["sub"], "declined")


def revoke_invitation(claims: dict, group_id: str, user_id: str) -> None:
    """The owner takes an invitation back."""
    _owned(group_id, claims, "take back invitations")
    _withdraw(group_id, user_id, "revoked")


def group_invitations(claims: dict, group_id: str) -> list[dict]:
    """The group's pending invitations, for its owner."""
    with reading():
        _owned(group_id, claims, "see its invitations", lock=False)
        return _invitations(GroupInvitation.group_id == group_id)


def my_invitations(claims: dict) -> list[dict]:
    """The invitations waiting for the token's player, newest first."""
    with reading():
        return _invitations(GroupInvitation.user_id == claims["sub"])


def _invitations(*where) -> list[dict]:
    rows = db.session.execute(
        select(GroupInvitation.group_id, GroupInvitation.user_id, GroupInvitation.invited_at,
               Group.name, Group.owner_id, User.display_name)
        .join(Group, Group.id == GroupInvitation.group_id)
        .outerjoin(User, User.id == Group.owner_id)
        .where(*where)
        .order_by(GroupInvitation.invited_at.desc(), GroupInvitation.group_id,
                  GroupInvitation.user_id)
    ).all()
    return [{"groupId": r.group_id, "name": r.name, "ownerId": r.owner_id,
             "ownerName": r.display_name or r.owner_id, "userId": r.user_id,
             "invitedAt": clock.iso(r.invited_at)} for r in rows]


def remove_member(claims: dict, group_id: str, user_id: str) -> dict:
    """The owner removes anyone else; a member may remove only themself (leave)."""
    group = _load(group_id, lock=True)
    me = claims["sub"]
    if user_id == group.owner_id:
        # The request is well formed; the group's state refuses it.
        raise ApiError(409, "The owner cannot leave the group; delete it instead.")
    if me != group.owner_id and me != user_id:
        raise Forbidden("Only the group's owner can remove other members.")
    if not is_member(group_id, user_id):
        raise ApiError(404, "No such member.")
    moved = _moved_by(group_id, user_id)
    db.session.execute(delete(GroupMember).where(
        GroupMember.group_id == group_id, GroupMember.user_id == user_id))
    reply = _describe(group) if me == group.owner_id else {"groupId": group_id, "left": True}
    leaderboard.commit_announcing(moved)
    leaderboard.end_streams(viewers.member(user_id, group_id))
    log.info("group %s: %s %s", group_id, user_id, "left" if me == user_id else "removed")
    return reply


def delete_group(claims: dict, group_id: str) -> None:
    group = _owned(group_id, claims, "delete it")
    # SQLite enforces no foreign keys here, so nothing cascades by itself.
    for rows in (GroupInvitation, GroupMember):
        db.session.execute(delete(rows).where(rows.group_id == group_id))
    db.session.delete(group)
    db.session.commit()
    leaderboard.end_streams(viewers.group(group_id))
    log.info("group %s deleted", group_id)


def my_groups(claims: dict) -> list[dict]:
    with reading() as session:
        rows = session.execute(
            select(Group.id, Group.name, Group.owner_id)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == claims["sub"])
            .order_by(Group.name, Group.id)
        ).all()
    return [{"groupId": r.id, "name": r.name, "ownerId": r.owner_id} for r in rows]
