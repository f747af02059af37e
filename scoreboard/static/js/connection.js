/* The board's connection, through the client's subscribe (the stream, else polling), for
 * the current view. States, shown in #status[data-state]:
 *   live          the stream is open;
 *   reconnecting  it failed and is being reopened (the first "Connecting…" looks the same);
 *   polling       streaming failed repeatedly (or is refused, or EventSource is missing).
 */

import { render } from "./board.js";
import { options } from "./options.js";
import { scoreboard } from "./player.js";
import { apiView, waitForRegion } from "./views.js";

const statusEl = document.getElementById("status");
const LABELS = {
  live: "Live",
  reconnecting: "Reconnecting…",
  polling: "Polling every " + Number((options.pollMs / 1000).toFixed(1)) + " s",
};

function setState(next) {
  // "connecting": the page says "Connecting…" until the first stream opens, and the board
  // of the last view shown stays live meanwhile on a switch.
  const label = LABELS[next];
  if (!label) return;
  const text = statusEl.querySelector(".status-text");
  // Touch the live region only when something changed: it announces changes, not updates.
  if (statusEl.getAttribute("data-state") !== next) statusEl.setAttribute("data-state", next);
  if (text.textContent !== label) text.textContent = label;
}

let unsubscribe = null; // the "region" view subscribes once the region is known

export function isConnected() {
  return unsubscribe !== null;
}

/** (Re)subscribe to the current view's board. */
export function connect() {
  const view = apiView();
  if (view === null) {
    waitForRegion();
    return;
  }
  if (unsubscribe) unsubscribe(); // an answer still on its way is for the old view: dropped
  unsubscribe = scoreboard.subscribe(view, render, setState);
}
