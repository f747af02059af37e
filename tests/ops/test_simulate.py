"""The demo traffic simulator plays through the real HTTP API of a real server."""

from scoreboard.identity.auth import issue_token
from scoreboard.ops import simulate

from ..harness.servers import call


def test_simulator_moves_the_board(serve, redis_url):
    start, app = serve
    server = start(redis_url)
    players = simulate.demo_players(3)
    with app.app_context():
        tokens = {user_id: issue_token(user_id, name=name) for user_id, name in players}
    lines = []
    accepted = simulate.run(server.url, tokens, rate=50, duration=1.0, echo=lines.append)
    assert accepted > 5 and len(lines) == accepted
    _, top, _ = call("GET", server.url + "/api/scores/top")
    assert sum(e["score"] for e in top["topScores"]) == accepted
    assert {e["displayName"] for e in top["topScores"]} <= {"Ada", "Alan", "Barbara"}


def test_demo_players_have_plain_ids():
    assert simulate.demo_players(20)[:2] == [("demo-ada", "Ada"), ("demo-alan", "Alan")]
    assert simulate.demo_players(20)[-1] == ("demo-player-20", "Player 20")
