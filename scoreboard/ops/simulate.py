"""A traffic simulator for demos: players acting through the real HTTP API."""

import json
import random
import time
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

DEMO_NAMES = ("Ada", "Alan", "Barbara", "Claude", "Dennis", "Edsger", "Frances", "Grace",
              "Guido", "Hedy", "Ken", "Linus", "Margaret", "Niklaus", "Radia", "Tim", "Vint",
              "Whitfield")


def demo_players(count: int) -> list[tuple[str, str]]:
    """(userId, display name) for ``count`` demo players."""
    names = [DEMO_NAMES[n] if n < len(DEMO_NAMES) else f"Player {n + 1}" for n in range(count)]
    return [("demo-" + name.lower().replace(" ", "-"), name) for name in names]


def _call(base_url: str, method: str, path: str, body=None, token=None) -> dict:
    request = Request(base_url + path, method=method,
                      data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def instant_actions(base_url: str) -> list[str]:
    """Action types a simulated player can complete at once, again and again."""
    catalog = _call(base_url, "GET", "/api/actions")["actions"]
    return [a["id"] for a in catalog
            if a["minSeconds"] == 0 and a["cooldownSeconds"] == 0 and a["dailyLimit"] is None]


def run(base_url: str, tokens: dict, rate: float, duration: float, echo=print) -> int:
    """Play random players at about ``rate`` updates a second for ``duration`` seconds
    (forever when 0); returns how many updates were accepted."""
    kinds = instant_actions(base_url)
    if not kinds:
        raise RuntimeError("the catalog has no action that can be completed at once")
    # Some players play more than others, so the board has leaders and movement.
    weights = [random.uniform(0.2, 1.0) ** 2 for _ in tokens]
    players = list(tokens)
    accepted, stop_at = 0, time.monotonic() + duration if duration else float("inf")
    while time.monotonic() < stop_at:
        user_id = random.choices(players, weights)[0]
        try:
            ticket = _call(base_url, "POST", "/api/actions/start",
                           {"actionType": random.choice(kinds)}, tokens[user_id])
            result = _call(base_url, "POST", "/api/scores/update",
                           {"userId": user_id, "authToken": tokens[user_id],
                            "actionId": ticket["actionId"]})
            accepted += 1
            echo(f"{user_id} -> {result['updatedScore']}")
        except HTTPError as error:
            echo(f"{user_id}: HTTP {error.code}")
        except URLError as error:
            echo(f"server unreachable: {error.reason}")
        time.sleep(random.expovariate(rate))
    return accepted
