"""scoreboard-client.js on its own, in Chromium, from a second origin listed in CORS_ORIGINS,
against a real server: what its calls answer, the one error type, and what subscribe hides
and is hard to see on the page (the version guard, the fallback to polling and back, the
ETag's 304s, a group's stream opened with a fresh ticket every time, never with the
token)."""

import json
from urllib.parse import parse_qs, quote, urlsplit

import pytest

from ...harness.origins import second_origin
from ...harness.players import token_for
from ...harness.servers import call, free_port
from .conftest import STREAM
from .helpers import RECORD_STREAMS, plays

# A page that only loads the client from the service, as a game's page would.
CLIENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Client</title><link rel="icon" href="data:,">
</head><body><script type="module">
const api = new URLSearchParams(location.search).get("api");
window.client = await import(api + "/static/scoreboard-client.js");
</script></body></html>
"""
# Subscribes, recording every board handed on (version and rows) and every status.
SUBSCRIBE = """([api, token, view, options]) => {
  window.boards = [];
  window.statuses = [];
  const scoreboard = window.client.createScoreboard({ baseUrl: api, token, ...options });
  window.unsubscribe = scoreboard.subscribe(view,
    (board) => window.boards.push(
      [board.version, board.topScores.map((row) => row.userId + " " + row.score)]),
    (status, error) => window.statuses.push(error ? status + " " + error.status : status));
}"""
# Records the client's polls of /top: the ETag sent, the status and the ETag answered.
RECORD_POLLS = """
window.__polls = [];
const nativeFetch = window.fetch;
window.fetch = async function (address, init) {
  const response = await nativeFetch.apply(this, arguments);
  if (String(address).includes("/api/scores/top")) {
    const sent = (init && init.headers && init.headers["If-None-Match"]) || null;
    window.__polls.push([sent, response.status, response.headers.get("ETag")]);
  }
  return response;
};
"""
# Records every ticket the client asks for: the body sent and the ticket answered.
RECORD_TICKETS = """
window.__tickets = [];
const fetchBefore = window.fetch;
window.fetch = async function (address, init) {
  const response = await fetchBefore.apply(this, arguments);
  if (String(address).includes("/api/streams/tickets")) {
    const answer = response.ok ? (await response.clone().json()).ticket : response.status;
    window.__tickets.push([JSON.parse(init.body), answer]);
  }
  return response;
};
"""
NO_EVENTSOURCE = "delete window.EventSource;"
REFUSED = {"success": False, "error": "Streaming needs the gunicorn gevent worker."}


@pytest.fixture
def client_origin():
    """The second origin, serving a page that loads the client."""
    with second_origin({"/client.html": CLIENT_PAGE}) as origin:
        yield origin


def client_opener(open_page, origin, server):
    """``open_client(**open_page_options)``: a page of ``origin`` with the client loaded
    from ``server``, and the page's problems."""
    def open_client(**options):
        page, problems = open_page(f"{origin}/client.html?api={quote(server.url)}", **options)
        page.wait_for_function("() => window.client !== undefined")
        return page, problems

    return open_client


@pytest.fixture
def service(serve, redis_url, open_page, client_origin):
    """(server, app, open_client): a real server listing the second origin, and
    ``open_client`` (client_opener) for it."""
    start, app = serve
    server = start(redis_url, CORS_ORIGINS=client_origin)
    return server, app, client_opener(open_page, client_origin, server)


def subscribe(page, server, token=None, view=None, **options):
    page.evaluate(SUBSCRIBE, [server.url, token, view or {}, options])


def wait_for_boards(page, count):
    page.wait_for_function("n => window.boards.length >= n", arg=count)
    return page.evaluate("window.boards")


def statuses(page):
    return page.evaluate("window.statuses")


def frames(*versions):
    """A stream's body: a slow retry hint, then a board of each version, in that order."""
    body = "retry: 60000\n\n"
    for version in versions:
        board = {"topScores": [{"userId": "ada", "score": version, "rank": 1,
                                "displayName": "Ada"}], "version": version}
        body += f"event: scoreboard\nid: {version}\ndata: {json.dumps(board)}\n\n"
    return body


def test_the_calls_answer_as_the_api_does(one_day, open_page, client_origin):
    def scenario(server, app):  # it reads today's and this week's boards: one_day, conftest
        page, problems = client_opener(open_page, client_origin, server)()
        outcome = page.evaluate("""async ([api, token]) => {
          const scoreboard = window.client.createScoreboard({ baseUrl: api, token });
          const kinds = (await scoreboard.actions()).map((kind) => kind.id);
          const ticket = await scoreboard.start("click");
          const done = await scoreboard.complete(ticket.actionId);
          return { kinds, ticket: ticket.actionType, done,
                   top: await scoreboard.top({ period: "day" }), me: await scoreboard.me(),
                   rank: await scoreboard.rank({ period: "week" }) };
        }""", [server.url, token_for(app, "ada", "Ada Lovelace")])
        assert "click" in outcome["kinds"] and outcome["ticket"] == "click"
        assert outcome["done"] == {"success": True, "message": "Score updated successfully.",
                                   "updatedScore": 1}
        assert [row["userId"] for row in outcome["top"]["topScores"]] == ["ada"]
        assert outcome["me"]["userId"] == "ada"
        assert outcome["me"]["displayName"] == "Ada Lovelace"
        assert (outcome["rank"]["rank"], outcome["rank"]["score"]) == (1, 1)
        assert problems == [], problems

    one_day(scenario, CORS_ORIGINS=client_origin)


def test_every_failure_is_a_scoreboard_error_with_the_status_and_the_json_error(service):
    server, app, open_client = service
    page, _ = open_client()  # the browser logs each refused request itself
    outcome = page.evaluate("""async ([api, token, nowhere]) => {
      const { createScoreboard, ScoreboardError } = window.client;
      const failure = async (attempt) => {
        try {
          await attempt();
          return "no error";
        } catch (error) {
          return [error instanceof ScoreboardError, error.name, error.status, error.body,
                  error.message];
        }
      };
      const player = createScoreboard({ baseUrl: api, token });
      return {
        noToken: await failure(() => createScoreboard({ baseUrl: api }).start("click")),
        badToken: await failure(() =>
          createScoreboard({ baseUrl: api, token: token + "x" }).me()),
        unknownAction: await failure(() => player.start("no-such-action")),
        unknownTicket: await failure(() => player.complete("A".repeat(22))),
        unknownPlayer: await failure(() => player.rank({}, "nobody")),
        badView: await failure(() => player.top({ region: "Atlantis" })),
        unreachable: await failure(() => createScoreboard({ baseUrl: nowhere }).top()),
      };
    }""", [server.url, token_for(app, "ada"), f"http://127.0.0.1:{free_port()}"])

    def error(status, message):
        body = {"success": False, "error": message} if status else None
        return [True, "ScoreboardError", status, body, message]

    assert outcome == {
        "noToken": error(401, "No token given."),
        "badToken": error(401, "Invalid authentication token."),
        "unknownAction": error(404, "Unknown action type."),
        "unknownTicket": error(400, "Unknown action ticket."),
        "unknownPlayer": error(404, "No such player."),
        "badView": error(400, "region must be a known region code, such as DE."),
        "unreachable": error(0, "The scoreboard service could not be reached."),
    }


def test_a_board_older_than_one_handed_on_never_is(service):
    server, _, open_client = service
    # A stream that repeats and goes back: a reconnection, a lagging replica.
    page, problems = open_client(routes=[(STREAM, lambda route: route.fulfill(
        headers={"Content-Type": "text/event-stream"}, body=frames(5, 3, 5, 6, 4)))])
    subscribe(page, server)
    # The body ends after its last frame, and the browser then reconnects (in a minute).
    page.wait_for_function("() => window.statuses.includes('reconnecting')")
    assert [board[0] for board in page.evaluate("window.boards")] == [5, 6]
    assert statuses(page) == ["connecting", "live", "reconnecting"]
    assert problems == [], problems


def test_a_refused_stream_falls_back_to_polling_then_goes_back_live(service):
    server, app, open_client = service
    ada = token_for(app, "ada")
    plays(server, ada, "ada")
    page, _ = open_client(routes=[(STREAM, lambda route: route.fulfill(status=503,
                                                                        json=REFUSED))])
    subscribe(page, server, pollMs=300, streamRetryMs=1000)
    assert wait_for_boards(page, 1) == [[1, ["ada 1"]]]
    assert statuses(page) == ["connecting", "polling"]
    plays(server, ada, "ada")
    assert wait_for_boards(page, 2)[-1] == [2, ["ada 2"]]

    page.unroute(STREAM)
    page.wait_for_function("() => window.statuses.at(-1) === 'live'")
    plays(server, ada, "ada")
    boards = wait_for_boards(page, 3)
    assert boards[-1] == [3, ["ada 3"]]
    # The stream's first board (version 2, already handed on) was not handed on again.
    assert [board[0] for board in boards] == [1, 2, 3]
    assert statuses(page) == ["connecting", "polling", "live"]


def test_polls_send_the_etag_and_a_304_hands_on_nothing(service):
    server, app, open_client = service
    ada = token_for(app, "ada")
    plays(server, ada, "ada")
    page, problems = open_client(init_scripts=[NO_EVENTSOURCE, RECORD_POLLS])
    subscribe(page, server, pollMs=200)
    page.wait_for_function("() => window.__polls.length >= 3")
    first, second, third = page.evaluate("window.__polls")[:3]
    etag = first[2]
    assert first[:2] == [None, 200] and etag
    assert second[:2] == [etag, 304] and third[:2] == [etag, 304]
    assert page.evaluate("window.boards") == [[1, ["ada 1"]]]
    assert statuses(page) == ["polling"]  # no EventSource here: polling from the start

    plays(server, ada, "ada")
    assert wait_for_boards(page, 2)[-1] == [2, ["ada 2"]]
    polls = page.evaluate("window.__polls")
    changed = next(p for p in polls if p[1] == 200 and p[2] != etag)
    page.wait_for_function("tag => window.__polls.some(p => p[0] === tag && p[1] === 304)",
                           arg=changed[2])
    assert len(page.evaluate("window.boards")) == 2
    assert problems == [], problems


@pytest.mark.parametrize("streaming", [True, False], ids=["streaming", "polling"])
def test_a_group_board_gets_the_token_it_needs(service, streaming):
    server, app, open_client = service
    ada = token_for(app, "ada")
    status, group, _ = call("POST", server.url + "/api/groups", {"name": "Friends"},
                            {"Authorization": f"Bearer {ada}"})
    assert status == 201, group
    group_id = group["groupId"]
    plays(server, ada, "ada")
    page, problems = open_client(
        init_scripts=[RECORD_STREAMS] if streaming else [NO_EVENTSOURCE])
    subscribe(page, server, ada, {"group": group_id}, pollMs=300)
    assert wait_for_boards(page, 1)[-1][1] == ["ada 1"]
    plays(server, ada, "ada")
    page.wait_for_function("() => window.boards.at(-1)[1][0] === 'ada 2'")
    if streaming:
        # EventSource sends no headers, and CORS grants no cookies: the stream is opened with
        # a ticket the token asked for, never with the token in its URL.
        [address] = stream_queries(page)
        assert address == {"group": [group_id], "ticket": address["ticket"]}
        assert ada not in json.dumps(address)
        assert statuses(page) == ["connecting", "live"]
        page.evaluate("window.unsubscribe()")
        assert page.evaluate("window.__streams.every((s) => s.readyState === 2)")
    else:
        assert statuses(page) == ["polling"]
    assert problems == [], problems


def stream_queries(page) -> list[dict]:
    """The query of each stream the page opened, parsed; needs RECORD_STREAMS."""
    return [parse_qs(urlsplit(url).query) for url in page.evaluate(
        "window.__streams.map((s) => s.url)")]


def group_of(server, token) -> str:
    status, group, _ = call("POST", server.url + "/api/groups", {"name": "Friends"},
                            {"Authorization": f"Bearer {token}"})
    assert status == 201, group
    return group["groupId"]


def test_a_group_stream_reopens_with_a_fresh_ticket_every_time(serve, redis_url, open_page,
                                                              client_origin):
    start, app = serve
    # Each stream ends within a second: the client reopens it, as after any end or break.
    server = start(redis_url, CORS_ORIGINS=client_origin, STREAM_LIFETIME_SECONDS="1")
    ada = token_for(app, "ada")
    group_id = group_of(server, ada)
    page, problems = client_opener(open_page, client_origin, server)(
        init_scripts=[RECORD_STREAMS, RECORD_TICKETS])
    subscribe(page, server, ada, {"group": group_id}, reconnectMs=100)
    page.wait_for_function("() => window.__streams.length >= 4")
    plays(server, ada, "ada")
    page.wait_for_function("() => window.boards.length && window.boards.at(-1)[1][0] === 'ada 1'")
    page.evaluate("window.unsubscribe()")

    opened = stream_queries(page)
    asked = page.evaluate("window.__tickets")
    # Every stream with a ticket of its own, asked for just before it, for its view.
    assert [query["ticket"][0] for query in opened] == [answer for _, answer in asked]
    assert len({answer for _, answer in asked}) == len(asked)
    assert {json.dumps(body) for body, _ in asked} == {json.dumps({"group": group_id})}
    assert all(set(query) == {"group", "ticket"} for query in opened)
    # Reopened each time without falling back to polling.
    seen = statuses(page)
    assert seen[:2] == ["connecting", "live"] and "polling" not in seen
    assert seen.count("reconnecting") >= 3 and seen.count("live") >= 4
    assert problems == [], problems


def test_a_revoked_tokens_stream_ends_and_its_refusal_reaches_on_status(service):
    server, app, open_client = service
    ada = token_for(app, "ada")
    group_id = group_of(server, ada)
    page, _ = open_client()  # the browser logs each refused request itself
    subscribe(page, server, ada, {"group": group_id}, pollMs=300, reconnectMs=100)
    page.wait_for_function("() => window.statuses.at(-1) === 'live'")
    status, _, _ = call("POST", server.url + "/api/auth/revoke",
                        headers={"Authorization": f"Bearer {ada}"})
    assert status == 200
    page.wait_for_function("() => window.statuses.includes('polling 401')")
    # The stream ended; the new ticket it asked for was refused, and so are the polls.
    assert statuses(page)[:5] == ["connecting", "live", "reconnecting", "polling",
                                  "polling 401"]


def test_a_player_answers_invitations_through_the_client(service):
    server, app, open_client = service
    ada, bob = token_for(app, "ada", "Ada"), token_for(app, "bob", "Bob")
    crew, club = (call("POST", server.url + "/api/groups", {"name": name},
                       {"Authorization": f"Bearer {ada}"})[1]["groupId"]
                  for name in ("Crew", "Club"))
    page, _ = open_client()  # the browser logs each refused request itself
    outcome = page.evaluate("""async ([api, ada, bob, crew, club]) => {
      const { createScoreboard, ScoreboardError } = window.client;
      const owner = createScoreboard({ baseUrl: api, token: ada });
      const friend = createScoreboard({ baseUrl: api, token: bob });
      const refusal = async (attempt) => {
        try {
          await attempt();
          return "no error";
        } catch (error) {
          return [error instanceof ScoreboardError, error.status, error.body];
        }
      };
      const invited = await owner.invite(crew, "bob");
      await owner.invite(club, "bob");
      const waiting = (await friend.invitations()).map((i) => [i.name, i.ownerName]).sort();
      const joined = await friend.join(crew);
      const declined = await friend.decline(club);
      return {
        invited: [invited.groupId === crew, invited.userId, invited.ownerId],
        waiting,
        joined: joined.members.map((m) => m.displayName),
        declined: declined === undefined,
        left: await friend.invitations(),
        again: await refusal(() => owner.invite(crew, "bob")),
        uninvited: await refusal(() => friend.join(club)),
        notOwner: await refusal(() => friend.invite(crew, "cat")),
      };
    }""", [server.url, ada, bob, crew, club])
    assert outcome == {
        "invited": [True, "bob", "ada"],
        "waiting": [["Club", "Ada"], ["Crew", "Ada"]],
        "joined": ["Ada", "Bob"],
        "declined": True,
        "left": [],
        "again": [True, 409, {"success": False, "error": "Already a member of this group.",
                              "code": "already_member"}],
        "uninvited": [True, 403, {"success": False,
                                  "error": "You have not been invited to this group."}],
        "notOwner": [True, 403, {"success": False,
                                 "error": "Only the group's owner can invite players."}],
    }
