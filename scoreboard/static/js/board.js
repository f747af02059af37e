/* The board: a snapshot ({"topScores": [...], "version": V}) becomes rows, which keep their
 * element from one snapshot to the next so that they can glide and flash. The client's
 * subscription hands over only snapshots newer than the one shown of the current view. */

import { glide, positions, replay } from "./animation.js";
import { hue, initial, numberFormat, timeFormat } from "./format.js";
import { options } from "./options.js";
import { isMe } from "./player.js";
import { requestRank } from "./rank.js";
import { describe } from "./views.js";

const cardEl = document.querySelector("main.card");
const captionEl = document.querySelector(".board caption");
const rowsEl = document.getElementById("board-rows");
let fresh = true; // no snapshot of the current view shown yet
let rows = new Map(); // userId -> <tr>

export function render(snapshot) {
  const firstRender = fresh; // of this view: no animation, no highlights
  fresh = false;

  const entries = snapshot.topScores
    .filter((e) => e && e.userId != null)
    .sort((a, b) => a.rank - b.rank)
    .slice(0, options.maxRows);

  if (firstRender) {
    // Another view's rows (or the loading placeholder) make way for this view's.
    rowsEl.textContent = "";
    rows = new Map();
    cardEl.removeAttribute("aria-busy");
    cardEl.classList.remove("switching");
  }
  const before = positions(rows);
  rowsEl.querySelectorAll("tr.placeholder").forEach((row) => row.remove());

  const next = new Map();
  entries.forEach((entry, index) => {
    const id = String(entry.userId);
    let row = rows.get(id);
    const isNew = !row;
    if (isNew) row = createRow(id);
    fillRow(row, entry, isNew, firstRender);
    next.set(id, row);
    if (rowsEl.children[index] !== row) {
      rowsEl.insertBefore(row, rowsEl.children[index] || null);
    }
  });
  rows.forEach((row, id) => {
    if (!next.has(id)) row.remove();
  });
  rows = next;

  if (!entries.length) rowsEl.appendChild(emptyRow());
  if (!firstRender) glide(rows, before, rowsEl);
  showMeta(snapshot.version);
  requestRank(); // the player's rank on this view may have changed with it
}

/** Another view is on its way: its first snapshot replaces these rows. */
export function switchingView() {
  fresh = true;
  cardEl.setAttribute("aria-busy", "true");
  cardEl.classList.add("switching");
}

export function showCaption() {
  captionEl.textContent = describe().caption;
}

/** The player's own row stands out (and says "You"). */
export function markMine() {
  rows.forEach(markRow);
}

function markRow(row) {
  row.classList.toggle("mine", isMe(row.getAttribute("data-user-id")));
}

function el(tag, className, decorative) {
  const node = document.createElement(tag);
  node.className = className;
  if (decorative) node.setAttribute("aria-hidden", "true");
  return node;
}

function createRow(id) {
  const row = document.createElement("tr");
  row.setAttribute("data-user-id", id);

  const rank = el("td", "rank");
  rank.append(el("span", "rank-badge"), el("span", "move", true));

  const player = el("th", "player");
  player.scope = "row";
  const wrap = el("span", "player-cell");
  const avatar = el("span", "avatar", true);
  avatar.style.setProperty("--hue", String(hue(id)));
  const you = el("span", "you-tag");
  you.textContent = "You";
  wrap.append(avatar, el("span", "name"), you);
  player.append(wrap);

  const score = el("td", "score");
  score.append(el("span", "score-value"), el("span", "delta", true));

  row.append(rank, player, score);
  markRow(row);
  return row;
}

function fillRow(row, entry, isNew, firstRender) {
  const rank = Number(entry.rank);
  const score = Number(entry.score);
  const name = String(entry.displayName || entry.userId);
  const oldRank = Number(row.getAttribute("data-rank"));
  const oldScore = Number(row.getAttribute("data-score"));

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
    const delta = row.querySelector(".delta");
    const diff = score - oldScore;
    delta.textContent = (diff > 0 ? "+" : "−") + numberFormat.format(Math.abs(diff));
    replay(delta, "show");
    replay(row, "changed");
  }
  if (rank !== oldRank) {
    const move = row.querySelector(".move");
    const up = rank < oldRank;
    move.textContent = (up ? "▲" : "▼") + Math.abs(oldRank - rank);
    move.classList.remove("up", "down");
    move.classList.add(up ? "up" : "down");
    replay(move, "show");
  }
}

function emptyRow() {
  const row = document.createElement("tr");
  row.className = "placeholder empty";
  const cell = document.createElement("td");
  cell.colSpan = 3;
  const title = document.createElement("strong");
  title.textContent = describe().empty;
  const hint = document.createElement("span");
  hint.textContent = "The first points scored will show up here.";
  cell.append(title, hint);
  row.append(cell);
  return row;
}

/** "Board version N · updated <time>", under the board. */
function showMeta(version) {
  const metaEl = document.getElementById("board-meta");
  const now = new Date();
  document.getElementById("board-version").textContent = numberFormat.format(version);
  const updatedEl = document.getElementById("board-updated");
  updatedEl.textContent = timeFormat.format(now);
  updatedEl.dateTime = now.toISOString();
  metaEl.hidden = false;
}
