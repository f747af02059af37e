/* The page's timings, and the address of the service (written on <body> by the template).
 * Tests may override timings, the client's among them, before the page's modules run, e.g.
 *   window.SCOREBOARD_OPTIONS = { pollMs: 500, streamRetryMs: 1000 };
 */

import { TIMING_DEFAULTS } from "../scoreboard-client.js";

const DEFAULTS = {
  highlightMs: 1800, // how long a changed row stays highlighted
  rankEveryMs: 1000, // at most one request for the player's rank per this interval
  profileWaitMs: 5000, // longest wait for the player's region before showing another view
  maxRows: 10,
};

export const options = Object.assign({}, TIMING_DEFAULTS, DEFAULTS,
                                     window.SCOREBOARD_OPTIONS || {});

// "" unless the service is mounted under a path of its own.
export const baseUrl = document.body.dataset.baseUrl || "";
