/* The page's timings, and the addresses of the API it reads (written on <body> by the
 * template). Tests may override timings before the page's modules run, e.g.
 *   window.SCOREBOARD_OPTIONS = { pollMs: 500, streamRetryMs: 1000 };
 */

const DEFAULTS = {
  pollMs: 5000, // how often to poll while streaming is unavailable
  failuresBeforePolling: 3, // stream errors in a row (without an open) before polling
  reconnectGraceMs: 20000, // longest "reconnecting" before polling anyway
  streamRetryMs: 60000, // while polling, how often to try streaming again
  highlightMs: 1800, // how long a changed row stays highlighted
  rankEveryMs: 1000, // at most one request for the player's rank per this interval
  profileWaitMs: 5000, // longest wait for the player's region before showing another view
  maxRows: 10,
};

export const options = Object.assign({}, DEFAULTS, window.SCOREBOARD_OPTIONS || {});

const data = document.body.dataset;
export const urls = {
  stream: data.streamUrl || "/api/scores/stream",
  top: data.topUrl || "/api/scores/top",
  me: data.meUrl || "/api/users/me",
  rank: data.rankUrl || "/api/scores/users/USER_ID",
};

export function withQuery(url, query) {
  return query ? url + (url.indexOf("?") < 0 ? "?" : "&") + query : url;
}
