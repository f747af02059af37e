/* How the board moves: rows glide to their new places (FLIP), changes flash for a moment.
 * Transforms are set through the CSSOM, which the page's Content-Security-Policy allows
 * (style attributes in markup it would not). */

import { options } from "./options.js";

const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

/** FLIP, First: where every row is now (including any transform still running). */
export function positions(rows) {
  const tops = new Map();
  rows.forEach((row) => tops.set(row, row.getBoundingClientRect().top));
  return tops;
}

/** FLIP, Last + Invert + Play: move each row back to where it was, then let it glide. */
export function glide(rows, before, container) {
  if (reducedMotion.matches) return;
  const moved = [];
  rows.forEach((row) => {
    if (!before.has(row)) return;
    const dy = before.get(row) - row.getBoundingClientRect().top;
    if (Math.abs(dy) < 1) return;
    row.style.transition = "none";
    row.style.transform = "translateY(" + dy + "px)";
    // A row climbing past others is drawn above them; the ones it passes slide under.
    row.classList.remove("rising", "sinking");
    row.classList.add("moving", dy > 0 ? "rising" : "sinking");
    moved.push(row);
  });
  if (!moved.length) return;
  void container.offsetHeight; // commit the inverted positions before playing
  moved.forEach((row) => {
    row.style.transition = "";
    row.style.transform = "";
    settle(row);
  });
}

/** Drop the "moving" layer once a row's transform transition has ended. */
function settle(row) {
  clearTimeout(row._moving);
  row._moving = setTimeout(() => {
    row.classList.remove("moving", "rising", "sinking");
  }, 800);
}

/** Restart a one-shot CSS animation class on an element, and drop it afterwards. */
export function replay(el, cls, ms) {
  el.classList.remove(cls);
  void el.offsetWidth;
  el.classList.add(cls);
  clearTimeout(el["_" + cls]);
  el["_" + cls] = setTimeout(() => {
    el.classList.remove(cls);
  }, ms || options.highlightMs);
}
