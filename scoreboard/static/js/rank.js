/* The player's own line (#me): "You: <name> — rank N, score S" on the current view (GET
 * /api/scores/users/<id> with the view's parameters, again after each new snapshot but at
 * most once a second), and "Sign out". The embed has no such line, and asks for no rank. */

import { hue, initial, numberFormat } from "./format.js";
import { options } from "./options.js";
import { isMe, player, scoreboard, signOut } from "./player.js";
import { focusSwitcher } from "./switcher.js";
import { apiView, isCurrent, viewMark } from "./views.js";

const meEl = document.getElementById("me");
let rankTimer = null;
let rankSeq = 0; // only the newest answer about the rank is shown
let lastRankAt = 0;

export function watchSignOut() {
  if (!meEl) return;
  document.getElementById("sign-out").addEventListener("click", () => {
    const hadFocus = meEl.contains(document.activeElement);
    signOut();
    if (hadFocus) focusSwitcher();
  });
}

/** The line for the player now known (rank to come), or none once forgotten. */
export function showPlayer() {
  if (!meEl) return;
  const me = player();
  if (!me) {
    rankSeq += 1; // an answer still on its way is about the forgotten player
    clearTimeout(rankTimer);
    rankTimer = null;
  }
  showRank(null);
  meEl.hidden = !me;
}

/** Fetch the player's rank on the current view now, or as soon as the last fetch is a
 * second old; snapshots arriving meanwhile make one fetch. */
export function requestRank() {
  if (!meEl || !player() || rankTimer) return;
  const wait = Math.max(0, lastRankAt + options.rankEveryMs - Date.now());
  rankTimer = setTimeout(fetchRank, wait);
}

function fetchRank() {
  rankTimer = null;
  const view = apiView();
  const me = player();
  if (!me || view === null) return;
  lastRankAt = Date.now();
  const seq = ++rankSeq;
  const mark = viewMark();
  const who = me.userId;
  scoreboard.rank(view, who)
    .then((mine) => {
      if (seq !== rankSeq || !isCurrent(mark) || !isMe(who)) return;
      showRank(mine);
    })
    .catch(() => {
      // Keep the line as it is; the next snapshot asks again.
    });
}

/** The line for the current view (`mine` null: the rank is not known yet). */
export function showRank(mine) {
  const me = player();
  if (!meEl || !me) return;
  const name = mine && mine.displayName ? String(mine.displayName) : me.displayName;
  meEl.querySelector(".me-name").textContent = name;
  const avatar = meEl.querySelector(".avatar");
  avatar.textContent = initial(name);
  avatar.style.setProperty("--hue", String(hue(me.userId)));
  if (!mine) {
    meEl.querySelector(".me-rank").textContent = "…";
    meEl.setAttribute("aria-busy", "true");
    return;
  }
  meEl.removeAttribute("aria-busy");
  meEl.querySelector(".me-rank").textContent = mine.rank == null
    ? "not on this board yet"
    : "rank " + numberFormat.format(mine.rank) + ", score " +
      numberFormat.format(Number(mine.score));
}
