/* Live Scoreboard page: plain JavaScript, no build step, no dependencies.
 *
 * Data: GET /api/scores/stream (Server-Sent Events, `event: scoreboard`, `id: <version>`,
 * `data: {"topScores": [...], "version": V}`) and GET /api/scores/top (the same JSON, with an
 * ETag), both for one view of the board: all players (no parameters), the player's region
 * (?region=DE), this week (?period=week) or today (?period=day). Each view has versions of
 * its own, which only go up: a snapshot older than the one shown of that view is ignored.
 *
 * The view is chosen with the radio buttons in #views and kept in the page's URL
 * (?view=region|week|day; none for the global board), so a reload shows the same one.
 *
 * A player may open the page as /#token=<jwt>: the fragment never reaches the server (nor its
 * logs); the token is moved to localStorage and taken out of the address bar at once. With a
 * token the page shows the player's own rank on the current view (GET /api/users/me, then
 * GET /api/scores/users/<id> with the view's parameters, again after each new snapshot but at
 * most once a second), highlights the player's row, and offers "My region". "Sign out"
 * forgets the token (it is not revoked: the game may still use it). The token is only ever
 * sent in an Authorization header, never in a URL.
 *
 * Connection states, shown in #status[data-state]:
 *   live          the EventSource is open;
 *   reconnecting  it failed and the browser is reconnecting by itself (also the first
 *                 "Connecting…" before it opens);
 *   polling       streaming failed repeatedly (or is refused, or EventSource is missing):
 *                 poll /api/scores/top with If-None-Match, and try streaming again now and
 *                 then.
 *
 * Timings can be overridden before this script runs (tests do), e.g.
 *   window.SCOREBOARD_OPTIONS = { pollMs: 500, streamRetryMs: 1000 };
 */
(function () {
  "use strict";

  var DEFAULTS = {
    pollMs: 5000, // how often to poll while streaming is unavailable
    failuresBeforePolling: 3, // stream errors in a row (without an open) before polling
    reconnectGraceMs: 20000, // longest "reconnecting" before polling anyway
    streamRetryMs: 60000, // while polling, how often to try streaming again
    highlightMs: 1800, // how long a changed row stays highlighted
    rankEveryMs: 1000, // at most one request for the player's rank per this interval
    profileWaitMs: 5000, // longest wait for the player's region before showing another view
    maxRows: 10,
  };
  var options = Object.assign({}, DEFAULTS, window.SCOREBOARD_OPTIONS || {});

  var body = document.body;
  var STREAM_URL = body.getAttribute("data-stream-url") || "/api/scores/stream";
  var TOP_URL = body.getAttribute("data-top-url") || "/api/scores/top";
  var ME_URL = body.getAttribute("data-me-url") || "/api/users/me";
  var RANK_URL = body.getAttribute("data-rank-url") || "/api/scores/users/USER_ID";
  var TOKEN_KEY = "scoreboard.token";
  var JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;

  var cardEl = document.querySelector("main.card");
  var captionEl = document.querySelector(".board caption");
  var rowsEl = document.getElementById("board-rows");
  var statusEl = document.getElementById("status");
  var statusText = statusEl.querySelector(".status-text");
  var metaEl = document.getElementById("board-meta");
  var versionEl = document.getElementById("board-version");
  var updatedEl = document.getElementById("board-updated");
  var viewsEl = document.getElementById("views");
  var regionInput = document.getElementById("view-region");
  var meEl = document.getElementById("me");
  var meAvatar = meEl.querySelector(".avatar");
  var meName = meEl.querySelector(".me-name");
  var meRank = meEl.querySelector(".me-rank");
  var signOutEl = document.getElementById("sign-out");

  var numberFormat = new Intl.NumberFormat();
  var timeFormat = new Intl.DateTimeFormat(undefined, {
    hour: "numeric", minute: "2-digit", second: "2-digit",
  });
  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  var regionNames = null;
  try {
    regionNames = new Intl.DisplayNames([document.documentElement.lang || "en"],
                                        { type: "region" });
  } catch (err) {
    // An older browser: show the region's code.
  }

  var shownVersion = -1; // of the current view
  var rows = new Map(); // userId -> <tr>

  // ---------------------------------------------------------------- views

  var VIEWS = ["global", "region", "week", "day"];
  var view = initialView(); // the view shown (or, for "region", waiting for the region)
  var viewGen = 0; // bumped on every switch: answers for an earlier view are ignored

  function initialView() {
    var asked = new URLSearchParams(location.search).get("view");
    return VIEWS.indexOf(asked) >= 0 ? asked : "global";
  }

  /** The view's query string for the API, "" for the whole board, or null while the
   * player's region is unknown. */
  function viewQuery(name) {
    if (name === "week" || name === "day") return "period=" + name;
    if (name === "region") {
      return me && me.region ? "region=" + encodeURIComponent(me.region) : null;
    }
    return "";
  }

  function withQuery(url, query) {
    return query ? url + (url.indexOf("?") < 0 ? "?" : "&") + query : url;
  }

  function regionName(code) {
    try {
      return (regionNames && regionNames.of(code)) || code;
    } catch (err) {
      return code; // not a region Intl knows (a configured REGIONS name, say)
    }
  }

  function describe(name) {
    if (name === "region" && me && me.region) {
      var place = regionName(me.region);
      return { caption: "Top 10 players in " + place, empty: "No scores in " + place + " yet" };
    }
    if (name === "week") return { caption: "Top 10 players this week",
                                  empty: "No scores this week yet" };
    if (name === "day") return { caption: "Top 10 players today", empty: "No scores today yet" };
    return { caption: "Top 10 players", empty: "No scores yet" };
  }

  /** Show another view: forget the old one's version and ETag, reconnect for the new one. */
  function setView(name) {
    if (VIEWS.indexOf(name) < 0 || name === view) return;
    view = name;
    viewGen += 1;
    shownVersion = -1;
    etag = null;
    clearTimeout(profileTimer);
    syncControls();
    writeUrl();
    if (me) showRank(null);
    cardEl.setAttribute("aria-busy", "true");
    cardEl.classList.add("switching");
    connect();
  }

  /** The radio buttons, the caption and "My region" as the current state has them. */
  function syncControls() {
    var known = !!(me && me.region);
    // While the region is on its way, "My region" stays chosen (and choosable).
    regionInput.disabled = !known && view !== "region";
    var label = viewsEl.querySelector('label[for="view-region"]');
    label.title = known ? "Players in " + regionName(me.region)
      : me ? "Your profile names no region"
      : "Needs to know who you are: open the board with your sign-in link";
    var checked = viewsEl.querySelector('input[value="' + view + '"]');
    if (checked && !checked.checked) checked.checked = true;
    captionEl.textContent = describe(view).caption;
  }

  function writeUrl() {
    var params = new URLSearchParams(location.search);
    if (view === "global") params.delete("view");
    else params.set("view", view);
    var query = params.toString();
    var url = location.pathname + (query ? "?" + query : "") + location.hash;
    if (url !== location.pathname + location.search + location.hash) {
      history.replaceState(history.state, "", url);
    }
  }

  viewsEl.addEventListener("change", function (event) {
    if (event.target.name === "view" && event.target.checked) setView(event.target.value);
  });

  // ---------------------------------------------------------------- the board

  function render(snapshot) {
    if (!snapshot || typeof snapshot.version !== "number" ||
        !Array.isArray(snapshot.topScores)) {
      return;
    }
    // Versions only go up; the same version is the same board.
    if (snapshot.version <= shownVersion) return;
    var firstRender = shownVersion < 0; // of this view: no animation, no highlights
    shownVersion = snapshot.version;

    var entries = snapshot.topScores
      .filter(function (e) { return e && e.userId != null; })
      .sort(function (a, b) { return a.rank - b.rank; })
      .slice(0, options.maxRows);
    var animate = !firstRender && !reducedMotion.matches;

    if (firstRender) {
      // Another view's rows (or the loading placeholder) make way for this view's.
      rowsEl.textContent = "";
      rows = new Map();
      cardEl.removeAttribute("aria-busy");
      cardEl.classList.remove("switching");
    }

    // FLIP, First: where every row is now (including any transform still running).
    var before = new Map();
    rows.forEach(function (row) { before.set(row, row.getBoundingClientRect().top); });

    Array.prototype.slice.call(rowsEl.querySelectorAll("tr.placeholder"))
      .forEach(function (row) { row.remove(); });

    var next = new Map();
    entries.forEach(function (entry, index) {
      var id = String(entry.userId);
      var row = rows.get(id);
      var isNew = !row;
      if (isNew) row = createRow(id);
      fillRow(row, entry, isNew, firstRender);
      next.set(id, row);
      if (rowsEl.children[index] !== row) {
        rowsEl.insertBefore(row, rowsEl.children[index] || null);
      }
    });
    rows.forEach(function (row, id) {
      if (!next.has(id)) row.remove();
    });
    rows = next;

    if (!entries.length) rowsEl.appendChild(emptyRow());

    // FLIP, Last + Invert + Play: move each row back to where it was, then let it glide.
    if (animate) {
      var moved = [];
      rows.forEach(function (row) {
        if (!before.has(row)) return;
        var dy = before.get(row) - row.getBoundingClientRect().top;
        if (Math.abs(dy) < 1) return;
        row.style.transition = "none";
        row.style.transform = "translateY(" + dy + "px)";
        // A row climbing past others is drawn above them; the ones it passes slide under.
        row.classList.remove("rising", "sinking");
        row.classList.add("moving", dy > 0 ? "rising" : "sinking");
        moved.push(row);
      });
      if (moved.length) {
        void rowsEl.offsetHeight; // commit the inverted positions before playing
        moved.forEach(function (row) {
          row.style.transition = "";
          row.style.transform = "";
          settle(row);
        });
      }
    }
    showMeta(snapshot.version);
    requestRank(); // the player's rank on this view may have changed with it
  }

  function el(tag, className, decorative) {
    var node = document.createElement(tag);
    node.className = className;
    if (decorative) node.setAttribute("aria-hidden", "true");
    return node;
  }

  function createRow(id) {
    var row = document.createElement("tr");
    row.setAttribute("data-user-id", id);

    var rank = el("td", "rank");
    rank.append(el("span", "rank-badge"), el("span", "move", true));

    var player = el("th", "player");
    player.scope = "row";
    var wrap = el("span", "player-cell");
    var avatar = el("span", "avatar", true);
    avatar.style.setProperty("--hue", String(hue(id)));
    var you = el("span", "you-tag");
    you.textContent = "You";
    wrap.append(avatar, el("span", "name"), you);
    player.append(wrap);

    var score = el("td", "score");
    score.append(el("span", "score-value"), el("span", "delta", true));

    row.append(rank, player, score);
    markMine(row);
    return row;
  }

  function fillRow(row, entry, isNew, firstRender) {
    var rank = Number(entry.rank);
    var score = Number(entry.score);
    var name = String(entry.displayName || entry.userId);
    var oldRank = Number(row.getAttribute("data-rank"));
    var oldScore = Number(row.getAttribute("data-score"));

    row.setAttribute("data-rank", String(rank));
    row.setAttribute("data-score", String(score));
    // Names come from users: always textContent, never HTML.
    row.querySelector(".rank-badge").textContent = String(rank);
    row.querySelector(".name").textContent = name;
    row.querySelector(".name").title = name;
    row.querySelector(".avatar").textContent = initial(name);
    row.querySelector(".score-value").textContent = numberFormat.format(score);

    if (firstRender) return;
    if (isNew) {
      replay(row, "entering", 600); // short: moving a row in the DOM restarts its animations
      replay(row, "changed");
      return;
    }
    if (score !== oldScore) {
      var delta = row.querySelector(".delta");
      var diff = score - oldScore;
      delta.textContent = (diff > 0 ? "+" : "−") + numberFormat.format(Math.abs(diff));
      replay(delta, "show");
      replay(row, "changed");
    }
    if (rank !== oldRank) {
      var move = row.querySelector(".move");
      var up = rank < oldRank;
      move.textContent = (up ? "▲" : "▼") + Math.abs(oldRank - rank);
      move.classList.remove("up", "down");
      move.classList.add(up ? "up" : "down");
      replay(move, "show");
    }
  }

  /** The player's own row stands out (and says "You"). */
  function markMine(row) {
    row.classList.toggle("mine", !!me && row.getAttribute("data-user-id") === me.userId);
  }

  function emptyRow() {
    var row = document.createElement("tr");
    row.className = "placeholder empty";
    var cell = document.createElement("td");
    cell.colSpan = 3;
    var title = document.createElement("strong");
    title.textContent = describe(view).empty;
    var hint = document.createElement("span");
    hint.textContent = "The first points scored will show up here.";
    cell.append(title, hint);
    row.append(cell);
    return row;
  }

  /** Restart a one-shot CSS animation class on an element, and drop it afterwards. */
  function replay(el, cls, ms) {
    el.classList.remove(cls);
    void el.offsetWidth;
    el.classList.add(cls);
    clearTimeout(el["_" + cls]);
    el["_" + cls] = setTimeout(function () {
      el.classList.remove(cls);
    }, ms || options.highlightMs);
  }

  /** Drop the "moving" layer once a row's transform transition has ended. */
  function settle(row) {
    clearTimeout(row._moving);
    row._moving = setTimeout(function () {
      row.classList.remove("moving", "rising", "sinking");
    }, 800);
  }

  function initial(name) {
    var first = Array.from(name.trim())[0];
    return first ? first.toLocaleUpperCase() : "?";
  }

  function hue(id) {
    var h = 0;
    for (var i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
    return h % 360;
  }

  function showMeta(version) {
    var now = new Date();
    versionEl.textContent = numberFormat.format(version);
    updatedEl.textContent = timeFormat.format(now);
    updatedEl.dateTime = now.toISOString();
    metaEl.hidden = false;
  }

  // ---------------------------------------------------------------- the player

  var token = takeToken();
  var me = null; // {userId, displayName, region} from /api/users/me
  var profileTimer = null; // gives up waiting for the region (see connect)
  var profileRetry = null;
  var profileDelay = 2000;
  var rankTimer = null;
  var rankSeq = 0; // only the newest answer about the rank is shown
  var lastRankAt = 0;

  function readStored() {
    try {
      return window.localStorage.getItem(TOKEN_KEY);
    } catch (err) {
      return null; // storage disabled: the token lasts as long as the page
    }
  }

  function writeStored(value) {
    try {
      if (value) window.localStorage.setItem(TOKEN_KEY, value);
      else window.localStorage.removeItem(TOKEN_KEY);
    } catch (err) {
      // storage disabled or full
    }
  }

  /** The token from #token=… (stored for next time, and taken out of the address bar so it
   * is neither bookmarked nor shared), else the stored one. */
  function takeToken() {
    var given = null;
    if (location.hash.length > 1) {
      var params = new URLSearchParams(location.hash.slice(1));
      if (params.has("token")) {
        given = params.get("token");
        params.delete("token");
        var rest = params.toString();
        history.replaceState(history.state, "",
                             location.pathname + location.search + (rest ? "#" + rest : ""));
      }
    }
    if (usable(given)) {
      writeStored(given);
      return given;
    }
    var stored = readStored();
    if (usable(stored)) return stored;
    if (stored) writeStored(null);
    return null;
  }

  /** A token worth sending: shaped like a JWT and not long expired by its own `exp` (read,
   * not verified: the server decides; this only spares a request bound to be refused). */
  function usable(jwt) {
    if (!jwt || !JWT.test(jwt)) return false;
    try {
      var claims = JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      // A margin for a client clock running ahead of the server's.
      return !(typeof claims.exp === "number" && claims.exp * 1000 < Date.now() - 300000);
    } catch (err) {
      return true;
    }
  }

  function authorized() {
    return { Accept: "application/json", Authorization: "Bearer " + token };
  }

  function loadProfile() {
    clearTimeout(profileRetry);
    if (!token) return;
    var asked = token;
    fetch(ME_URL, { headers: authorized(), cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (asked !== token) return null;
        if (response.status === 401 || response.status === 403) {
          // Expired, revoked or not ours: forget it; the page works without.
          signOut(false);
          return null;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (profile) {
        if (!profile || asked !== token || typeof profile.userId !== "string") return;
        me = {
          userId: profile.userId,
          displayName: String(profile.displayName || profile.userId),
          region: typeof profile.region === "string" && profile.region ? profile.region : null,
        };
        profileDelay = 2000;
        clearTimeout(profileTimer);
        syncControls();
        rows.forEach(markMine);
        showRank(null);
        meEl.hidden = false;
        if (view === "region" && !me.region) {
          setView("global"); // asked for by the URL, but this player has no region
        } else if (!connected) {
          connect(); // the region view was waiting for the region
        }
        requestRank();
      })
      .catch(function () {
        if (asked !== token) return;
        // Offline or a server error: try again later, and show a board meanwhile.
        if (view === "region" && !me) setView("global");
        profileRetry = setTimeout(loadProfile, profileDelay);
        profileDelay = Math.min(profileDelay * 2, 60000);
      });
  }

  /** Fetch the player's rank on the current view now, or as soon as the last fetch is a
   * second old; snapshots arriving meanwhile make one fetch. */
  function requestRank() {
    if (!me || rankTimer) return;
    var wait = Math.max(0, lastRankAt + options.rankEveryMs - Date.now());
    rankTimer = setTimeout(fetchRank, wait);
  }

  function fetchRank() {
    rankTimer = null;
    var query = viewQuery(view);
    if (!me || query === null) return;
    lastRankAt = Date.now();
    var seq = ++rankSeq;
    var gen = viewGen;
    var who = me.userId;
    var url = withQuery(RANK_URL.replace("USER_ID", encodeURIComponent(who)), query);
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store",
                 credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (mine) {
        if (!mine || seq !== rankSeq || gen !== viewGen || !me || me.userId !== who) return;
        showRank(mine);
      })
      .catch(function () {
        // Keep the line as it is; the next snapshot asks again.
      });
  }

  /** "You: <name> — rank N, score S" for the current view (null: not known yet). */
  function showRank(mine) {
    if (!me) return;
    var name = mine && mine.displayName ? String(mine.displayName) : me.displayName;
    meName.textContent = name;
    meAvatar.textContent = initial(name);
    meAvatar.style.setProperty("--hue", String(hue(me.userId)));
    if (!mine) {
      meRank.textContent = "…";
      meEl.setAttribute("aria-busy", "true");
      return;
    }
    meEl.removeAttribute("aria-busy");
    meRank.textContent = mine.rank == null
      ? "not on this board yet"
      : "rank " + numberFormat.format(mine.rank) + ", score " +
        numberFormat.format(Number(mine.score));
  }

  /** Forget the token (here and in storage) and everything known about its player. */
  function signOut(moveFocus) {
    var hadFocus = moveFocus && meEl.contains(document.activeElement);
    token = null;
    me = null;
    writeStored(null);
    rankSeq += 1;
    clearTimeout(rankTimer);
    clearTimeout(profileRetry);
    rankTimer = null;
    meEl.hidden = true;
    rows.forEach(markMine);
    if (view === "region") setView("global");
    else syncControls();
    if (!connected) connect();
    if (hadFocus) viewsEl.querySelector("input:checked").focus();
  }

  signOutEl.addEventListener("click", function () { signOut(true); });

  // Signed out (or in) in another tab.
  window.addEventListener("storage", function (event) {
    if (event.key !== TOKEN_KEY && event.key !== null) return;
    var stored = readStored();
    if (stored === token) return;
    if (!usable(stored)) {
      signOut(false);
      return;
    }
    token = stored;
    me = null;
    loadProfile();
  });

  // ---------------------------------------------------------------- connection

  var LABELS = {
    live: "Live",
    reconnecting: "Reconnecting…",
    polling: "Polling every " + Number((options.pollMs / 1000).toFixed(1)) + " s",
  };
  var state = null;
  var source = null; // the EventSource in use (or being tried while polling)
  var connected = false; // whether connect() has run: the "region" view waits for a region
  var failures = 0; // stream errors since it was last open
  var graceTimer = null;
  var pollTimer = null;
  var retryTimer = null;
  var polling = false;
  var inFlight = false;
  var etag = null; // of the current view

  function setState(next, label) {
    label = label || LABELS[next];
    state = next;
    // Touch the live region only when something changed: it announces changes, not updates.
    if (statusEl.getAttribute("data-state") !== next) statusEl.setAttribute("data-state", next);
    if (statusText.textContent !== label) statusText.textContent = label;
  }

  /** (Re)connect for the current view: a stream, or the next poll while polling. */
  function connect() {
    if (viewQuery(view) === null) {
      // "My region" before the region is known: wait for it, but not for ever.
      clearTimeout(profileTimer);
      profileTimer = setTimeout(function () {
        if (viewQuery(view) === null) setView("global");
      }, options.profileWaitMs);
      return;
    }
    connected = true;
    stopStreaming();
    if (polling) {
      inFlight = false; // an answer still on its way is for the old view: ignored
      poll();
      scheduleStreamRetry(); // a try at streaming that was closed above starts again later
    } else if ("EventSource" in window) {
      openStream();
    } else {
      startPolling();
    }
  }

  function openStream() {
    var es;
    try {
      es = new EventSource(withQuery(STREAM_URL, viewQuery(view)));
    } catch (err) {
      startPolling();
      return;
    }
    source = es;
    if (!polling) armGrace();
    es.addEventListener("open", function () {
      if (es !== source) return;
      failures = 0;
      clearTimeout(graceTimer);
      graceTimer = null;
      stopPolling();
      setState("live");
    });
    es.addEventListener("scoreboard", function (event) {
      if (es !== source) return;
      var snapshot;
      try {
        snapshot = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      render(snapshot);
    });
    es.addEventListener("error", function () {
      if (es !== source) return;
      if (polling) {
        // A try at going back to streaming failed: keep polling, try again later.
        es.close();
        source = null;
        scheduleStreamRetry();
        return;
      }
      failures += 1;
      // CLOSED: the server refused the stream (an error status, not an event stream);
      // the browser will not retry it, so poll at once.
      if (es.readyState === EventSource.CLOSED || failures >= options.failuresBeforePolling) {
        startPolling();
        return;
      }
      setState("reconnecting");
      armGrace();
    });
  }

  /** Poll anyway if the stream stays unopened too long: a connection attempt that hangs
   * (a proxy holding the response back, say) fires no error to count. */
  function armGrace() {
    if (graceTimer) return;
    graceTimer = setTimeout(function () {
      graceTimer = null;
      if (!polling && (!source || source.readyState !== EventSource.OPEN)) startPolling();
    }, options.reconnectGraceMs);
  }

  /** Close the stream (if any) and forget its failures and grace timer. */
  function stopStreaming() {
    clearTimeout(graceTimer);
    graceTimer = null;
    if (source) {
      source.close();
      source = null;
    }
    failures = 0;
  }

  function startPolling() {
    stopStreaming();
    polling = true;
    setState("polling");
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
    if (!("EventSource" in window)) return;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(function () {
      if (polling && !source) openStream();
    }, options.streamRetryMs);
  }

  function poll() {
    clearTimeout(pollTimer);
    if (!polling || inFlight) return; // an answer on its way schedules the next poll
    if (document.hidden) {
      // Nobody is looking: check again when the page is shown (see visibilitychange).
      pollTimer = setTimeout(poll, options.pollMs);
      return;
    }
    inFlight = true;
    var gen = viewGen;
    var headers = { Accept: "application/json" };
    if (etag) headers["If-None-Match"] = etag;
    fetch(withQuery(TOP_URL, viewQuery(view)),
          { headers: headers, cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 304) return null;
        if (!response.ok) throw new Error("HTTP " + response.status);
        var tag = response.headers.get("ETag");
        return response.json().then(function (snapshot) {
          if (tag && gen === viewGen) etag = tag;
          return snapshot;
        });
      })
      .then(function (snapshot) {
        if (snapshot && gen === viewGen) render(snapshot);
      })
      .catch(function () {
        // Offline or a server error: keep the board as it is and try again next time.
      })
      .then(function () {
        if (gen !== viewGen) return; // the switch started the new view's polls
        inFlight = false;
        if (polling) pollTimer = setTimeout(poll, options.pollMs);
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && polling) poll();
  });
  window.addEventListener("online", function () {
    if (polling && !source && connected && "EventSource" in window) openStream();
  });

  // ---------------------------------------------------------------- start

  state = statusEl.getAttribute("data-state"); // "Connecting…" until the stream opens
  if (view === "region" && !token) view = "global"; // nobody to take a region from
  syncControls();
  writeUrl();
  loadProfile();
  connect(); // waits for the profile when the view is "region"
})();
