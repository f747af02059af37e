/* The player's token. A player may open the page as /#token=<jwt>: the fragment never
 * reaches the server (nor its logs); the token is moved to localStorage and taken out of the
 * address bar at once. It is only ever sent in an Authorization header, never in a URL. */

import { tokenClaims } from "../scoreboard-client.js";

const TOKEN_KEY = "scoreboard.token";

function readStored() {
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch (err) {
    return null; // storage disabled: the token lasts as long as the page
  }
}

function writeStored(value) {
  try {
    if (value) window.localStorage.setItem(TOKEN_KEY, value);
    else window.localStorage.removeItem(TOKEN_KEY);
  } catch (err) {
    // storage disabled or full
  }
}

/** The token from #token=… (stored for next time, and taken out of the address bar so it
 * is neither bookmarked nor shared), else the stored one. */
export function takeToken() {
  let given = null;
  if (location.hash.length > 1) {
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.has("token")) {
      given = params.get("token");
      params.delete("token");
      const rest = params.toString();
      history.replaceState(history.state, "",
                           location.pathname + location.search + (rest ? "#" + rest : ""));
    }
  }
  if (usable(given)) {
    writeStored(given);
    return given;
  }
  const stored = readStored();
  if (usable(stored)) return stored;
  if (stored) writeStored(null);
  return null;
}

export function forgetToken() {
  writeStored(null);
}

/** A token worth sending: shaped like a JWT and not long expired by its own `exp` (read,
 * not verified: the server decides; this only spares a request bound to be refused). */
export function usable(jwt) {
  const claims = tokenClaims(jwt);
  // A margin for a client clock running ahead of the server's.
  return !!claims && !(typeof claims.exp === "number" && claims.exp * 1000 < Date.now() - 300000);
}

/** Calls `changed(stored token or null)` when another tab signs in or out. */
export function watchToken(changed) {
  window.addEventListener("storage", (event) => {
    if (event.key === TOKEN_KEY || event.key === null) changed(readStored());
  });
}
