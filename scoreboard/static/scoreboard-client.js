/* The Live Scoreboard client: one dependency-free ES module for any page, on the service's
 * own origin (its live page and /embed use it) or on a game's origin listed in the service's
 * CORS_ORIGINS.
 *
 *   import { createScoreboard } from "https://scores.example.com/static/scoreboard-client.js";
 *   const scoreboard = createScoreboard({ baseUrl: "https://scores.example.com", token });
 *   const ticket = await scoreboard.start("click");     // when the action starts
 *   await scoreboard.complete(ticket.actionId);          // when it ends
 *   const unsubscribe = scoreboard.subscribe({}, (board) => draw(board.topScores));
 *
 * Every failed call throws a ScoreboardError: the HTTP status (0 when the service could not
 * be reached at all) and the service's JSON error.
 */

/**
 * One line of a board.
 * @typedef {Object} Row
 * @property {string} userId
 * @property {string} displayName
 * @property {number} score
 * @property {number} rank 1 for the best
 */

/**
 * A snapshot of a board: its best rows, best first, and its version. Versions only go up,
 * and belong to a view: each view counts its own.
 * @typedef {Object} Board
 * @property {Row[]} topScores
 * @property {number} version
 */

/**
 * Which board. Every field is optional; `{}` (or null) is the all-time board of everyone.
 * @typedef {Object} View
 * @property {"all"|"day"|"week"} [period] all-time scores (the default), or today's or this
 *   week's (UTC)
 * @property {string} [at] with `period` "day" or "week": a past one, e.g. "2026-11-27" or
 *   "2026-W48"
 * @property {string} [region] a region code such as "DE"
 * @property {string} [group] a friend group's id: members only, so it needs the token (a
 *   stream of it is opened with a single-use ticket the token asks for, never with the
 *   token in its URL)
 */

/**
 * An action type of the service's catalog.
 * @typedef {Object} ActionType
 * @property {string} id e.g. "click"
 * @property {number} points what completing it adds
 * @property {number} minSeconds the least time between start and complete
 * @property {number} cooldownSeconds
 * @property {number|null} dailyLimit
 */

/**
 * A single-use ticket for one action, from `start`; `complete` spends it.
 * @typedef {Object} Ticket
 * @property {string} actionId
 * @property {string} actionType
 * @property {number} points
 * @property {string} notBefore ISO time: completing earlier is refused
 * @property {string} expiresAt ISO time: completing later is refused
 */

/**
 * The reply of `complete`.
 * @typedef {Object} Completed
 * @property {true} success
 * @property {string} message
 * @property {number} updatedScore the player's all-time score now
 */

/**
 * The token's player.
 * @typedef {Object} Profile
 * @property {string} userId
 * @property {string} displayName
 * @property {string|null} region
 * @property {number} score
 */

/**
 * A player's place on a view.
 * @typedef {Object} Rank
 * @property {string} userId
 * @property {string} displayName
 * @property {string|null} region
 * @property {number} score on this view
 * @property {number|null} rank null when not on this view's board
 */

/**
 * A friend group: its owner and members. Only members see it and its board.
 * @typedef {Object} Group
 * @property {string} groupId
 * @property {string} name
 * @property {string} ownerId
 * @property {{userId: string, displayName: string}[]} members the owner first, then in the
 *   order they joined
 */

/**
 * An invitation to a friend group, waiting for the invited player's answer: `join` accepts
 * it, `decline` refuses it. Only a player who joins becomes a member.
 * @typedef {Object} Invitation
 * @property {string} groupId
 * @property {string} name the group's name
 * @property {string} ownerId who invited
 * @property {string} ownerName the owner's display name
 * @property {string} userId the invited player
 * @property {string} invitedAt ISO time
 */

/**
 * How a subscription gets its boards:
 *   "connecting"   opening the stream, before it first opens;
 *   "live"         the stream is open: boards arrive as they change;
 *   "reconnecting" the stream broke (or ended) and is being reopened;
 *   "polling"      streaming failed (or is refused, or the browser has no EventSource):
 *                  the board is asked for every `pollMs`, and streaming tried again now and
 *                  then.
 * @typedef {"connecting"|"live"|"reconnecting"|"polling"} Status
 */

/**
 * @typedef {Object} Options
 * @property {string} [baseUrl] the service's address, e.g. "https://scores.example.com";
 *   "" (the default) for the origin of the page
 * @property {string|null|(() => string|null)} [token] the player's JWT, or a function giving
 *   the current one (for a token that is refreshed or signed out)
 * @property {number} [pollMs] how often to poll while streaming is unavailable
 * @property {number} [failuresBeforePolling] stream errors in a row before polling
 * @property {number} [reconnectGraceMs] longest wait for a stream to open before polling
 * @property {number} [streamRetryMs] while polling, how often to try streaming again
 * @property {number} [reconnectMs] how long to wait (plus up to half again, at random)
 *   before reopening a group's stream that ended or broke, with a fresh ticket
 */

/**
 * @typedef {Object} Scoreboard
 * @property {() => Promise<ActionType[]>} actions the catalog of action types
 * @property {(actionType: string) => Promise<Ticket>} start a ticket for one action
 * @property {(actionId: string) => Promise<Completed>} complete the ticket's action: the
 *   points go to the token's player (`POST /api/scores/update`)
 * @property {(view?: View|null) => Promise<Board>} top the view's board now
 * @property {() => Promise<Profile>} me the token's player
 * @property {(view?: View|null, userId?: string) => Promise<Rank>} rank a player's place on a
 *   view (the token's player by default)
 * @property {() => Promise<Invitation[]>} invitations the invitations waiting for the token's
 *   player, newest first
 * @property {(groupId: string, userId: string) => Promise<Invitation>} invite invite a player
 *   to a group the token's player owns (inviting again while one is pending changes nothing;
 *   a member is a 409 with `code` "already_member")
 * @property {(groupId: string) => Promise<Group>} join accept the invitation to a group: the
 *   token's player is a member now (403 without an invitation; 409 at a cap, whose name is
 *   the error's `body.code`)
 * @property {(groupId: string) => Promise<void>} decline refuse the invitation to a group
 * @property {(view: View|null, onBoard: (board: Board) => void,
 *             onStatus?: (status: Status, error?: ScoreboardError) => void) => (() => void)}
 *   subscribe follow the view's board live; returns `unsubscribe`
 */

/** The timings a subscription keeps unless `createScoreboard` is given others. */
export const TIMING_DEFAULTS = Object.freeze({
  pollMs: 5000,
  failuresBeforePolling: 3,
  reconnectGraceMs: 20000,
  streamRetryMs: 60000,
  reconnectMs: 3000,
});
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

/** What went wrong with a call: the HTTP status, 0 when there was no reply at all (offline,
 * the service down, or a browser refusing a reply that CORS does not grant), and the
 * service's JSON error `{"success": false, "error": "..."}` (null without one). */
export class ScoreboardError extends Error {
  /**
   * @param {number} status
   * @param {{success: false, error: string}|null} body
   * @param {{cause?: unknown, retryAfter?: number|null}} [more]
   */
  constructor(status, body, more = {}) {
    const reason = body && typeof body.error === "string" ? body.error
      : status ? "HTTP " + status : "The scoreboard service could not be reached.";
    super(reason, more.cause === undefined ? undefined : { cause: more.cause });
    this.name = "ScoreboardError";
    /** @type {number} */
    this.status = status;
    /** @type {{success: false, error: string}|null} */
    this.body = body;
    /** Seconds to wait before trying again (a 429 or 503 says so), else null.
     * @type {number|null} */
    this.retryAfter = more.retryAfter ?? null;
  }
}

/** The claims of a JWT, read and not verified (the service verifies), or null if `token`
 * is not shaped like one.
 * @param {string|null|undefined} token
 * @returns {Object|null} */
export function tokenClaims(token) {
  if (!token || !JWT.test(token)) return null;
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claims = JSON.parse(atob(payload));
    return claims && typeof claims === "object" ? claims : null;
  } catch (err) {
    return null;
  }
}

/** The view's parameters, as the API names them: those `view` gives, as strings.
 * @param {View|null|undefined} view
 * @returns {Object<string, string>} */
function viewParams(view) {
  const params = {};
  for (const name of ["period", "at", "region", "group"]) {
    if (view && view[name] != null && view[name] !== "") params[name] = String(view[name]);
  }
  return params;
}

/** The query string that asks the API for `view` ("" for the all-time board of everyone).
 * @param {View|null|undefined} view
 * @returns {string} */
export function viewQuery(view) {
  return new URLSearchParams(viewParams(view)).toString();
}

function withQuery(url, query) {
  return query ? url + (url.includes("?") ? "&" : "?") + query : url;
}

function isBoard(board) {
  return !!board && typeof board.version === "number" && Array.isArray(board.topScores);
}

/** The error a failed reply stands for, with the service's JSON error if it sent one. */
async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    // Not JSON (a proxy's page, say): the status says enough.
  }
  const retryAfter = Number(response.headers.get("Retry-After")) || null;
  return new ScoreboardError(response.status, body, { retryAfter });
}

/**
 * A client of the service at `baseUrl`, acting for the player whose `token` it holds.
 * @param {Options} [options]
 * @returns {Scoreboard}
 */
export function createScoreboard(options = {}) {
  const { baseUrl = "", token = null } = options;
  const timing = {};
  for (const name in TIMING_DEFAULTS) timing[name] = options[name] ?? TIMING_DEFAULTS[name];
  const base = String(baseUrl).replace(/\/+$/, "");
  const currentToken = typeof token === "function" ? token : () => token;
  // Once a stream has failed for good, new subscriptions (another view, say) start by
  // polling, and try streaming again later, rather than each waiting through its failures.
  const memory = { streamingFailed: false };

  function url(path, view) {
    return withQuery(base + path, viewQuery(view));
  }

  function authHeaders(headers) {
    const jwt = currentToken();
    if (!jwt) throw new ScoreboardError(401, { success: false, error: "No token given." });
    return Object.assign(headers, { Authorization: "Bearer " + jwt });
  }

  /** fetch, with a network failure as a ScoreboardError of status 0. */
  async function send(address, init) {
    try {
      return await fetch(address, Object.assign({ cache: "no-store" }, init));
    } catch (err) {
      throw new ScoreboardError(0, null, { cause: err });
    }
  }

  /** The JSON reply of a call, or its ScoreboardError. */
  async function call(address, { method = "GET", body, auth = false } = {}) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    // Only calls that need the token carry it: a header on a cross-origin GET costs a
    // preflight.
    if (auth) authHeaders(headers);
    const init = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    const response = await send(address, init);
    if (!response.ok) throw await errorOf(response);
    try {
      return await response.json();
    } catch (err) {
      throw new ScoreboardError(response.status, null, { cause: err });
    }
  }

  function group(groupId) {
    return base + "/api/groups/" + encodeURIComponent(groupId);
  }

  function needsToken(view) {
    return !!(view && view.group);
  }

  return {
    async actions() {
      return (await call(base + "/api/actions")).actions;
    },

    start(actionType) {
      return call(base + "/api/actions/start",
                  { method: "POST", body: { actionType }, auth: true });
    },

    complete(actionId) {
      const jwt = currentToken();
      // The update names its player, and the service checks that the name is the token's
      // subject: so it is read from the token, and nothing needs asking first.
      const claims = tokenClaims(jwt);
      if (!claims || typeof claims.sub !== "string") {
        return Promise.reject(new ScoreboardError(
          401, { success: false, error: "No token given, or it names no player." }));
      }
      return call(base + "/api/scores/update", { method: "POST",
        body: { userId: claims.sub, authToken: jwt, actionId } });
    },

    top(view) {
      return call(url("/api/scores/top", view), { auth: needsToken(view) });
    },

    me() {
      return call(base + "/api/users/me", { auth: true });
    },

    rank(view, userId) {
      const who = userId ?? (tokenClaims(currentToken()) || {}).sub;
      if (typeof who !== "string") {
        return Promise.reject(new ScoreboardError(
          401, { success: false, error: "No player named, and no token to name one." }));
      }
      return call(url("/api/scores/users/" + encodeURIComponent(who), view),
                  { auth: needsToken(view) });
    },

    async invitations() {
      return (await call(base + "/api/users/me/invitations", { auth: true })).invitations;
    },

    invite(groupId, userId) {
      return call(group(groupId) + "/members", { method: "POST", body: { userId }, auth: true });
    },

    join(groupId) {
      return call(group(groupId) + "/join", { method: "POST", auth: true });
    },

    async decline(groupId) {
      await call(base + "/api/users/me/invitations/" + encodeURIComponent(groupId),
                 { method: "DELETE", auth: true });
    },

    subscribe(view, onBoard, onStatus) {
      return follow({
        onBoard,
        onStatus: onStatus || (() => {}),
        timing,
        // EventSource sends no headers, and a token in a URL would be written to logs: a
        // view that needs the token is opened with a ticket the token asks for, fresh for
        // every connection, as each opens one stream once.
        ticketed: needsToken(view),
        async streamUrl() {
          const address = url("/api/scores/stream", view);
          if (!needsToken(view)) return address;
          const { ticket } = await call(base + "/api/streams/tickets",
                                        { method: "POST", body: viewParams(view), auth: true });
          return withQuery(address, "ticket=" + encodeURIComponent(ticket));
        },
        poll(etag) {
          const headers = { Accept: "application/json" };
          if (etag) headers["If-None-Match"] = etag;
          if (needsToken(view)) authHeaders(headers);
          return send(url("/api/scores/top", view), { headers });
        },
        memory,
      });
    },
  };
}

/** One subscription: a stream of the view's boards, else polls; every board newer than the
 * last one shown goes to `onBoard`. Returns what ends it. */
function follow(sub) {
  const { onBoard, onStatus, timing } = sub;
  const canStream = typeof EventSource !== "undefined";
  let closed = false;
  let status = null;
  let shown = -1; // the version of the last board handed on: never an older one after it
  let etag = null; // of that board, for polls to ask whether it changed

  let source = null; // the EventSource in use (or being tried while polling)
  let opening = 0; // counts tries to open one: a try overtaken meanwhile is dropped
  let failures = 0; // stream errors since it was last open
  let graceTimer = null;
  let reconnectTimer = null; // a ticketed stream's next try

  let polling = false;
  let pollTimer = null;
  let retryTimer = null;
  let inFlight = false;

  function report(next, error) {
    if (closed || (next === status && !error)) return;
    status = next;
    onStatus(next, error);
  }

  function show(board) {
    // Versions only go up; the same version is the same board. A stream reopened (the
    // browser sends Last-Event-ID itself, but not on a new EventSource) or a lagging
    // replica's answer may repeat or trail what was shown.
    if (closed || !isBoard(board) || board.version <= shown) return;
    shown = board.version;
    onBoard(board);
  }

  // ---------------------------------------------------------------- streaming

  /** Open a stream, once its address is known: a ticketed one's asks for a ticket. */
  function openStream() {
    const attempt = ++opening;
    if (!polling) armGrace();
    Promise.resolve()
      .then(() => sub.streamUrl())
      .then((address) => {
        if (!closed && attempt === opening) listen(address);
      }, (error) => {
        if (!closed && attempt === opening) streamFailed(error);
      });
  }

  function listen(address) {
    let es;
    try {
      es = new EventSource(address);
    } catch (err) {
      startPolling();
      return;
    }
    source = es;
    es.addEventListener("open", () => {
      if (es !== source) return;
      failures = 0;
      sub.memory.streamingFailed = false;
      clearTimeout(graceTimer);
      graceTimer = null;
      stopPolling();
      report("live");
    });
    es.addEventListener("scoreboard", (event) => {
      if (es !== source) return;
      let board;
      try {
        board = JSON.parse(event.data);
      } catch (err) {
        return; // a frame cut short: the next one is whole
      }
      show(board);
    });
    es.addEventListener("error", () => {
      if (es !== source) return;
      if (polling || sub.ticketed) {
        // While polling, a try at going back to streaming failed. A ticketed stream that
        // broke or ended would be reopened by the browser with the ticket it has spent:
        // this client reopens it, with a new one.
        es.close();
        source = null;
        streamFailed(null);
        return;
      }
      failures += 1;
      // CLOSED: the service refused the stream (an error status, not an event stream); the
      // browser will not retry it, so poll at once.
      if (es.readyState === EventSource.CLOSED || failures >= timing.failuresBeforePolling) {
        startPolling();
        return;
      }
      report("reconnecting");
      armGrace();
    });
  }

  /** A stream the browser does not reopen by itself failed: a try at streaming again while
   * polling, or a ticketed stream that broke or ended, or whose ticket was not given
   * (`error`; a public stream's address never fails). While polling, try again later; else
   * open it again after `reconnectMs`, or poll once it has failed `failuresBeforePolling`
   * times in a row or the service refuses the player (whose 401 or 403 the polls then pass
   * to `onStatus`). */
  function streamFailed(error) {
    if (polling) {
      scheduleStreamRetry();
      return;
    }
    failures += 1;
    const refused = !!error && error.status >= 400 && error.status < 500 && error.status !== 429;
    if (refused || failures >= timing.failuresBeforePolling) {
      startPolling();
      return;
    }
    report("reconnecting");
    armGrace();
    clearTimeout(reconnectTimer);
    // Jittered, so that the streams a deploy ended do not all come back at once.
    reconnectTimer = setTimeout(openStream, timing.reconnectMs * (1 + Math.random() / 2));
  }

  /** Poll anyway if the stream stays unopened too long: a connection attempt that hangs (a
   * proxy holding the response back, say) fires no error to count. */
  function armGrace() {
    if (graceTimer) return;
    graceTimer = setTimeout(() => {
      graceTimer = null;
      if (!polling && (!source || source.readyState !== EventSource.OPEN)) startPolling();
    }, timing.reconnectGraceMs);
  }

  function stopStreaming() {
    clearTimeout(graceTimer);
    clearTimeout(reconnectTimer);
    graceTimer = reconnectTimer = null;
    opening += 1; // a ticket on its way is for a stream no longer wanted
    if (source) {
      source.close();
      source = null;
    }
    failures = 0;
  }

  // ---------------------------------------------------------------- polling

  function startPolling() {
    stopStreaming();
    sub.memory.streamingFailed = canStream;
    polling = true;
    report("polling");
    poll();
    scheduleStreamRetry();
  }

  function stopPolling() {
    polling = false;
    clearTimeout(pollTimer);
    clearTimeout(retryTimer);
    pollTimer = retryTimer = null;
  }

  function scheduleStreamRetry() {
    if (!canStream) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      if (polling && !source) openStream();
    }, timing.streamRetryMs);
  }

  function poll() {
    clearTimeout(pollTimer);
    if (closed || !polling || inFlight) return; // an answer on its way schedules the next
    if (typeof document !== "undefined" && document.hidden) {
      // Nobody is looking: check again when the page is shown (see visibilitychange).
      pollTimer = setTimeout(poll, timing.pollMs);
      return;
    }
    inFlight = true;
    Promise.resolve()
      .then(() => sub.poll(etag))
      .then(async (response) => {
        if (response.status === 304) return; // the board shown is still the newest
        if (!response.ok) throw await errorOf(response);
        const tag = response.headers.get("ETag");
        let board;
        try {
          board = await response.json();
        } catch (err) {
          throw new ScoreboardError(response.status, null, { cause: err });
        }
        if (closed || !isBoard(board)) return;
        if (tag && board.version >= shown) etag = tag; // the ETag of the board shown
        show(board);
      })
      .catch((error) => {
        // Offline or a server error: the board stays as it is, and the next poll retries.
        report("polling", error);
      })
      .then(() => {
        inFlight = false;
        if (!closed && polling) pollTimer = setTimeout(poll, timing.pollMs);
      });
  }

  function onVisible() {
    if (typeof document !== "undefined" && !document.hidden && polling) poll();
  }

  function onOnline() {
    if (polling && !source && canStream) openStream();
  }

  if (typeof document !== "undefined") document.addEventListener("visibilitychange", onVisible);
  if (typeof window !== "undefined") window.addEventListener("online", onOnline);

  if (canStream && !sub.memory.streamingFailed) {
    report("connecting");
    openStream();
  } else {
    startPolling();
  }

  return function unsubscribe() {
    if (closed) return;
    closed = true;
    stopStreaming();
    stopPolling();
    if (typeof document !== "undefined") {
      document.removeEventListener("visibilitychange", onVisible);
    }
    if (typeof window !== "undefined") window.removeEventListener("online", onOnline);
  };
}
