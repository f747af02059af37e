/* How numbers, times, names and regions are written on the page. */

export const numberFormat = new Intl.NumberFormat();
export const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: "numeric", minute: "2-digit", second: "2-digit",
});

let regionNames = null;
try {
  regionNames = new Intl.DisplayNames([document.documentElement.lang || "en"],
                                      { type: "region" });
} catch (err) {
  // An older browser: show the region's code.
}

export function regionName(code) {
  try {
    return (regionNames && regionNames.of(code)) || code;
  } catch (err) {
    return code; // not a region Intl knows (a configured REGIONS name, say)
  }
}

/** The letter on a player's avatar. */
export function initial(name) {
  const first = Array.from(name.trim())[0];
  return first ? first.toLocaleUpperCase() : "?";
}

/** The avatar's colour: the same for a player everywhere, from their id. */
export function hue(id) {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 360;
}
