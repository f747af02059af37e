/* Live Scoreboard page (and its embed): native modules, no build step, no dependencies.
 * It is the first user of ../scoreboard-client.js, the client any game page can use: every
 * call to the service, the stream and the polling fallback are the client's.
 *
 *   views.js       which view is shown (all, region, week, day), kept in the URL
 *   switcher.js    the radio buttons that choose it (not in the embed)
 *   board.js       snapshots become rows; animation.js makes them glide and flash
 *   connection.js  the client's subscription to the view, and its state on the page
 *   token.js       the player's token; player.js who they are, and the client acting for them
 *   rank.js        the player's own rank, and "Sign out" (not in the embed)
 *
 * This module says what follows from what, and starts the page. */

import { markMine, showCaption, switchingView } from "./board.js";
import { connect, isConnected } from "./connection.js";
import { knownRegion, onPlayer, startPlayer } from "./player.js";
import { requestRank, showPlayer, showRank, watchSignOut } from "./rank.js";
import { syncSwitcher, watchSwitcher } from "./switcher.js";
import { currentView, onSwitch, setView, writeUrl } from "./views.js";

onSwitch(() => {
  syncSwitcher();
  showCaption();
  showRank(null);
  switchingView();
  connect();
});

onPlayer(() => {
  syncSwitcher();
  showCaption();
  markMine();
  showPlayer();
  if (currentView() === "region" && !knownRegion()) {
    setView("global"); // asked for, but this player has no region (or none is known)
  } else if (!isConnected()) {
    connect(); // the region view was waiting for the region
  }
  requestRank();
});

watchSwitcher();
watchSignOut();
syncSwitcher();
showCaption();
writeUrl();
startPlayer();
connect(); // waits for the player when the view is "region"
