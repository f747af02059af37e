/* Who the player is, from their token: GET /api/users/me. Without a token (or with one the
 * server refuses) the page shows the board for everyone. "Sign out" forgets the token; it is
 * not revoked: the game may still use it. */

import { createScoreboard } from "../scoreboard-client.js";
import { baseUrl, options } from "./options.js";
import { forgetToken, takeToken, usable, watchToken } from "./token.js";

let token = takeToken();
/** The service's client, acting for whoever the token names now. */
export const scoreboard = createScoreboard({ ...options, baseUrl, token: () => token });
// Set here alone, and frozen: other modules read it through player() and isMe().
let me = null; // {userId, displayName, region} from /api/users/me
let profileRetry = null;
let profileDelay = 2000;
let changed = () => {};

/** `listener()` runs whenever the player becomes known, is forgotten, or could not be
 * loaded for now. */
export function onPlayer(listener) {
  changed = listener;
}

/** The player, {userId, displayName, region} (read-only), or null while unknown. */
export function player() {
  return me;
}

/** Whether `userId` names the player. */
export function isMe(userId) {
  return me !== null && me.userId === userId;
}

export function hasToken() {
  return token !== null;
}

export function knownRegion() {
  return me && me.region;
}

/** Load the player, and follow signing in and out in other tabs. */
export function startPlayer() {
  watchToken((stored) => {
    if (stored === token) return;
    if (!usable(stored)) {
      signOut();
      return;
    }
    token = stored;
    me = null;
    loadProfile();
  });
  loadProfile();
}

function loadProfile() {
  clearTimeout(profileRetry);
  if (!token) return;
  const asked = token;
  scoreboard.me()
    .then((profile) => {
      if (asked !== token || typeof profile.userId !== "string") return;
      me = Object.freeze({
        userId: profile.userId,
        displayName: String(profile.displayName || profile.userId),
        region: typeof profile.region === "string" && profile.region ? profile.region : null,
      });
      profileDelay = 2000;
      changed();
    })
    .catch((error) => {
      if (asked !== token) return;
      if (error.status === 401 || error.status === 403) {
        // Expired, revoked or not ours: forget it; the page works without.
        signOut();
        return;
      }
      // Offline or a server error: try again later, and show a board meanwhile.
      changed();
      profileRetry = setTimeout(loadProfile, profileDelay);
      profileDelay = Math.min(profileDelay * 2, 60000);
    });
}

/** Forget the token (here and in storage) and everything known about its player. */
export function signOut() {
  token = null;
  me = null;
  forgetToken();
  clearTimeout(profileRetry);
  changed();
}
