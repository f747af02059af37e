/* The board's connection: GET /api/scores/stream (Server-Sent Events, `event: scoreboard`,
 * `id: <version>`, a snapshot as data) for the current view, else polling GET
 * /api/scores/top with If-None-Match. States, shown in #status[data-state]:
 *   live          the EventSource is open;
 *   reconnecting  it failed and the browser is reconnecting by itself (also the first
 *                 "Connecting…" before it opens);
 *   polling       streaming failed repeatedly (or is refused, or EventSource is missing):
 *                 poll, and try streaming again now and then.
 */

import { render } from "./board.js";
import { options, urls, withQuery } from "./options.js";
import { viewGen, viewQuery, waitForRegion } from "./views.js";

const statusEl = document.getElementById("status");
const LABELS = {
  live: "Live",
  reconnecting: "Reconnecting…",
  polling: "Polling every " + Number((options.pollMs / 1000).toFixed(1)) + " s",
};

function setState(next) {
  const label = LABELS[next];
  const text = statusEl.querySelector(".status-text");
  // Touch the live region only when something changed: it announces changes, not updates.
  if (statusEl.getAttribute("data-state") !== next) statusEl.setAttribute("data-state", next);
  if (text.textContent !== label) text.textContent = label;
}

let connected = false; // whether connect() has run: the "region" view waits for a region

export function isConnected() {
  return connected;
}

/** (Re)connect for the current view: a stream, or the next poll while polling. */
export function connect() {
  if (viewQuery() === null) {
    waitForRegion();
    return;
  }
  connected = true;
  etag = null; // of the view connected for; the board's versions differ from view to view
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

// ---------------------------------------------------------------- streaming

let source = null; // the EventSource in use (or being tried while polling)
let failures = 0; // stream errors since it was last open
let graceTimer = null;

function openStream() {
  let es;
  try {
    es = new EventSource(withQuery(urls.stream, viewQuery()));
  } catch (err) {
    startPolling();
    return;
  }
  source = es;
  if (!polling) armGrace();
  es.addEventListener("open", () => {
    if (es !== source) return;
    failures = 0;
    clearTimeout(graceTimer);
    graceTimer = null;
    stopPolling();
    setState("live");
  });
  es.addEventListener("scoreboard", (event) => {
    if (es !== source) return;
    let snapshot;
    try {
      snapshot = JSON.parse(event.data);
    } catch (err) {
      return;
    }
    render(snapshot);
  });
  es.addEventListener("error", () => {
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
  graceTimer = setTimeout(() => {
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

// ---------------------------------------------------------------- polling

let polling = false;
let pollTimer = null;
let retryTimer = null;
let inFlight = false;
let etag = null;

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
  retryTimer = setTimeout(() => {
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
  const gen = viewGen;
  const headers = { Accept: "application/json" };
  if (etag) headers["If-None-Match"] = etag;
  fetch(withQuery(urls.top, viewQuery()),
        { headers: headers, cache: "no-store", credentials: "same-origin" })
    .then((response) => {
      if (response.status === 304) return null;
      if (!response.ok) throw new Error("HTTP " + response.status);
      const tag = response.headers.get("ETag");
      return response.json().then((snapshot) => {
        if (tag && gen === viewGen) etag = tag;
        return snapshot;
      });
    })
    .then((snapshot) => {
      if (snapshot && gen === viewGen) render(snapshot);
    })
    .catch(() => {
      // Offline or a server error: keep the board as it is and try again next time.
    })
    .then(() => {
      if (gen !== viewGen) return; // the switch started the new view's polls
      inFlight = false;
      if (polling) pollTimer = setTimeout(poll, options.pollMs);
    });
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && polling) poll();
});
window.addEventListener("online", () => {
  if (polling && !source && connected && "EventSource" in window) openStream();
});
