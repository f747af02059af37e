"""Players: tokens, and plays through the services (no HTTP), a test client or a real server."""

from dataclasses import dataclass

from scoreboard.core import clock
from scoreboard.identity.auth import issue_token
from scoreboard.play import actions, scoring

from .servers import call


def token_for(app, user_id: str, name=None, **claims) -> str:
    """A valid token for ``user_id``, signed by ``app``, named after the user by default."""
    with app.app_context():
        return issue_token(user_id, name=name or user_id.title(), **claims)


def stop_clock(app):
    """Stop ``app``'s clock at this moment, for a test that reads a day's or a week's board
    of an app in this process: its plays and reads then fall in one window, even in a run
    that crosses midnight UTC (or into a Monday). Returns the moment."""
    now = clock.system_now()
    app.config["CLOCK"] = lambda: now
    return now


def play(app, user_id: str, times: int = 1, at=None) -> int:
    """Start and complete ``times`` click actions through the services (no HTTP), at the
    moment ``at`` when given (the app's clock stays there); returns the last score."""
    if at is not None:
        app.config["CLOCK"] = lambda: at
    with app.app_context():
        for _ in range(times):
            ticket = actions.start_action({"sub": user_id}, "click")
            score = scoring.complete_action(scoring.Attempt(user_id, ticket.id))
    return score


def play_http(base_url: str, token: str, user_id: str, action_type="click") -> int:
    """Start and complete one action through a real server; returns the new score."""
    status, ticket, _ = call("POST", base_url + "/api/actions/start",
                             {"actionType": action_type},
                             {"Authorization": f"Bearer {token}"})
    assert status == 201, ticket
    status, body, _ = call("POST", base_url + "/api/scores/update",
                           {"userId": user_id, "authToken": token,
                            "actionId": ticket["actionId"]})
    assert status == 200, body
    return body["updatedScore"]


@dataclass
class Player:
    """A user with a token, acting through a Flask test client."""

    user_id: str
    token: str
    client: object

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def start(self, action_type="click"):
        return self.client.post(
            "/api/actions/start", json={"actionType": action_type}, headers=self.headers
        )

    def complete(self, action_id, user_id=None):
        body = {"userId": user_id or self.user_id, "authToken": self.token, "actionId": action_id}
        return self.client.post("/api/scores/update", json=body)

    def play(self, action_type="click") -> int:
        """Start and complete one action; returns the new score."""
        started = self.start(action_type)
        assert started.status_code == 201, started.json
        done = self.complete(started.json["actionId"])
        assert done.status_code == 200, done.json
        return done.json["updatedScore"]


def add_members(owner: Player, group_id: str, *members: Player) -> None:
    """Bring ``members`` into ``owner``'s group the only way there is: the owner invites
    each, and each joins."""
    for member in members:
        invited = owner.client.post(f"/api/groups/{group_id}/members",
                                    json={"userId": member.user_id}, headers=owner.headers)
        assert invited.status_code == 201, invited.json
        joined = member.client.post(f"/api/groups/{group_id}/join", headers=member.headers)
        assert joined.status_code == 200, joined.json
