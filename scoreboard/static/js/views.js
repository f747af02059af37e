/* Which view of the board is shown: all players, the player's region, this week or today.
 * Each has its own stream and versions. The view is kept in the page's URL
 * (?view=region|week|day; none for the global board), so a reload shows the same one. */

import { regionName } from "./format.js";
import { options } from "./options.js";
import { hasToken, knownRegion } from "./player.js";

const VIEWS = ["global", "region", "week", "day"];
// This module alone changes these two; others read them through the functions below.
let view = initialView(); // the view shown (or, for "region", waiting for the region)
let generation = 0; // bumped on every switch: answers for an earlier view are ignored
let regionWait = null;
let switched = () => {};

function initialView() {
  const asked = new URLSearchParams(location.search).get("view");
  if (asked === "region" && !hasToken()) return "global"; // nobody to take a region from
  return VIEWS.indexOf(asked) >= 0 ? asked : "global";
}

/** The view shown: "global", "region", "week" or "day". */
export function currentView() {
  return view;
}

/** A mark of the view shown now, for `isCurrent` to check once an answer arrives. */
export function viewMark() {
  return generation;
}

/** Whether the view shown is still the one `mark` (from `viewMark`) was taken on. */
export function isCurrent(mark) {
  return mark === generation;
}

/** `listener()` runs after every switch to another view. */
export function onSwitch(listener) {
  switched = listener;
}

/** The current view as the client names it (see View in scoreboard-client.js), or null
 * while the player's region is unknown. */
export function apiView() {
  if (view === "week" || view === "day") return { period: view };
  if (view === "region") {
    const region = knownRegion();
    return region ? { region } : null;
  }
  return {};
}

/** The board's caption and what it says while empty. */
export function describe() {
  const region = knownRegion();
  if (view === "region" && region) {
    const place = regionName(region);
    return { caption: "Top 10 players in " + place, empty: "No scores in " + place + " yet" };
  }
  if (view === "week") return { caption: "Top 10 players this week",
                                empty: "No scores this week yet" };
  if (view === "day") return { caption: "Top 10 players today", empty: "No scores today yet" };
  return { caption: "Top 10 players", empty: "No scores yet" };
}

/** Show another view (the listener reconnects for it). */
export function setView(name) {
  if (VIEWS.indexOf(name) < 0 || name === view) return;
  view = name;
  generation += 1;
  clearTimeout(regionWait);
  writeUrl();
  switched();
}

/** "My region" before the region is known: wait for it, but not for ever. */
export function waitForRegion() {
  clearTimeout(regionWait);
  regionWait = setTimeout(() => {
    if (apiView() === null) setView("global");
  }, options.profileWaitMs);
}

export function writeUrl() {
  const params = new URLSearchParams(location.search);
  if (view === "global") params.delete("view");
  else params.set("view", view);
  const query = params.toString();
  const url = location.pathname + (query ? "?" + query : "") + location.hash;
  if (url !== location.pathname + location.search + location.hash) {
    history.replaceState(history.state, "", url);
  }
}
