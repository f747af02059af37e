"""Friend groups: an owner, members (up to a cap), and privacy: only members see a group."""

import secrets

from flask import current_app
from sqlalchemy import delete, func, select

from . import clock, leaderboard, names
from .errors import ApiError, Forbidden
from .extensions import db, reading
from .models import Group, GroupMember, User
from .players import boards_showing, ensure_player, insert_ignoring_duplicates


def _load(group_id: str, *, lock=False) -> Group:
    stmt = select(Group).where(Group.id == group_id)
    group = db.session.execute(stmt.with_for_update() if lock else stmt).scalar_one_or_none()
    if group is None:
        raise ApiError(404, "Group not found.")
    return group


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
    ensure_player(claims)
    now = clock.now()
    group = Group(id=secrets.token_urlsafe(12), name=name, owner_id=claims["sub"],
                  created_at=now)
    db.session.add(group)
    db.session.add(GroupMember(group_id=group.id, user_id=claims["sub"], joined_at=now))
    db.session.flush()
    reply = _describe(group)
    db.session.commit()
    return reply


def get_group(claims: dict, group_id: str) -> dict:
    require_member(group_id, claims["sub"])
    with reading():
        return _describe(_load(group_id))


def add_member(claims: dict, group_id: str, user_id: str) -> dict:
    """The owner adds a player; adding one twice is harmless. The group row's lock keeps
    concurrent adds from passing the cap together."""
    group = _load(group_id, lock=True)
    if group.owner_id != claims["sub"]:
        raise Forbidden("Only the group's owner can add members.")
    count = db.session.scalar(
        select(func.count()).where(GroupMember.group_id == group_id))
    if not is_member(group_id, user_id) and count >= current_app.config["GROUP_MAX_MEMBERS"]:
        raise ApiError(409, "Group is full.")
    added = db.session.execute(insert_ignoring_duplicates(
        GroupMember, {"group_id": group_id, "user_id": user_id, "joined_at": clock.now()}))
    moved = _moved_by(group_id, user_id) if added.rowcount else []
    reply = _describe(group)
    leaderboard.commit_announcing(moved)
    return reply


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
    return reply


def delete_group(claims: dict, group_id: str) -> None:
    group = _load(group_id, lock=True)
    if group.owner_id != claims["sub"]:
        raise Forbidden("Only the group's owner can delete it.")
    db.session.execute(delete(GroupMember).where(GroupMember.group_id == group_id))
    db.session.delete(group)
    db.session.commit()


def my_groups(claims: dict) -> list[dict]:
    with reading() as session:
        rows = session.execute(
            select(Group.id, Group.name, Group.owner_id)
            .join(GroupMember, GroupMember.group_id == Group.id)
            .where(GroupMember.user_id == claims["sub"])
            .order_by(Group.name, Group.id)
        ).all()
    return [{"groupId": r.id, "name": r.name, "ownerId": r.owner_id} for r in rows]
