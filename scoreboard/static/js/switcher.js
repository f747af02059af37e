/* The view switcher: radio buttons in #views (the arrow keys move between them natively).
 * The embed has none: its view comes from its URL alone. */

import { regionName } from "./format.js";
import { player } from "./player.js";
import { currentView, setView } from "./views.js";

const viewsEl = document.getElementById("views");

export function watchSwitcher() {
  if (!viewsEl) return;
  viewsEl.addEventListener("change", (event) => {
    if (event.target.name === "view" && event.target.checked) setView(event.target.value);
  });
}

/** The radio buttons and "My region" as the current view and player have them. */
export function syncSwitcher() {
  if (!viewsEl) return;
  const me = player();
  const view = currentView();
  const known = !!(me && me.region);
  // While the region is on its way, "My region" stays chosen (and choosable).
  const regionInput = viewsEl.querySelector('input[value="region"]');
  regionInput.disabled = !known && view !== "region";
  const label = viewsEl.querySelector('label[for="view-region"]');
  label.title = known ? "Players in " + regionName(me.region)
    : me ? "Your profile names no region"
    : "Needs to know who you are: open the board with your sign-in link";
  const checked = viewsEl.querySelector('input[value="' + view + '"]');
  if (checked && !checked.checked) checked.checked = true;
}

export function focusSwitcher() {
  viewsEl.querySelector("input:checked").focus();
}
