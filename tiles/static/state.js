// The screen's state in the URL hash, so that a link opens the same screen:
//   #zoom/lat/lon[/bearing/pitch]&layers=a,b&by=field&v=village&c=compared&view=3d&p=period
//   &ver=layer@version,... (older versions picked; the current one is followed, never named)
// (the position part reads like MapLibre's own `hash` option).

/** The state a hash holds; missing parts are null. */
export function readHash(hash) {
  const text = (hash === undefined ? window.location.hash : hash).replace(/^#/, "");
  const state = {
    center: null, zoom: null, bearing: 0, pitch: 0,
    layers: null, by: null, village: null, compare: null, view3d: false, period: null,
    versions: {},
  };
  text.split("&").forEach((part, i) => {
    if (i === 0 && /^[-\d.]+(\/[-\d.]+){2}(\/[-\d.]+\/[-\d.]+)?$/.test(part)) {
      const [zoom, lat, lon, bearing, pitch] = part.split("/").map(Number);
      if ([zoom, lat, lon].every(Number.isFinite)) {
        state.zoom = zoom;
        state.center = [lon, lat];
        if (Number.isFinite(bearing) && Number.isFinite(pitch)) Object.assign(state, { bearing, pitch });
      }
      return;
    }
    const eq = part.indexOf("=");
    if (eq < 0) return;
    const key = part.slice(0, eq);
    let value;
    try {
      value = decodeURIComponent(part.slice(eq + 1));
    } catch (error) {
      return; // a mangled link: ignore that part, keep the rest
    }
    if (key === "layers") state.layers = value ? value.split(",") : [];
    else if (key === "by") state.by = value || null;
    else if (key === "v") state.village = value || null;
    else if (key === "c") state.compare = value || null;
    else if (key === "view") state.view3d = value === "3d";
    else if (key === "p") state.period = value || null;
    else if (key === "ver") {
      value.split(",").forEach((item) => {
        const at = item.indexOf("@"); // a layer name has no "@"
        if (at > 0 && at < item.length - 1) state.versions[item.slice(0, at)] = item.slice(at + 1);
      });
    }
  });
  return state;
}

/** The hash of a state (position rounded to what a screen can show). */
export function formatHash(state) {
  const parts = [];
  if (state.center && state.zoom !== null) {
    const digits = Math.max(0, Math.ceil(Math.log2(Math.max(state.zoom, 1))) + 1);
    const position = [state.zoom.toFixed(2), state.center[1].toFixed(digits), state.center[0].toFixed(digits)];
    if (Math.round(state.bearing || 0) || Math.round(state.pitch || 0)) {
      position.push(Math.round(state.bearing), Math.round(state.pitch)); // as MapLibre's hash
    }
    parts.push(position.join("/"));
  }
  if (state.layers) parts.push("layers=" + state.layers.map(encodeURIComponent).join(","));
  if (state.by) parts.push("by=" + encodeURIComponent(state.by));
  if (state.village) parts.push("v=" + encodeURIComponent(state.village));
  if (state.compare) parts.push("c=" + encodeURIComponent(state.compare));
  if (state.view3d) parts.push("view=3d");
  if (state.period) parts.push("p=" + encodeURIComponent(state.period));
  const versions = Object.entries(state.versions || {}).sort(([a], [b]) => (a < b ? -1 : 1));
  if (versions.length) parts.push("ver=" + versions.map(([n, v]) => encodeURIComponent(n + "@" + v)).join(","));
  return "#" + parts.join("&");
}

/** Replace the hash without adding a history entry or scrolling. */
export function writeHash(state) {
  const hash = formatHash(state);
  if (hash !== window.location.hash) {
    window.history.replaceState(window.history.state, "", window.location.pathname + window.location.search + hash);
  }
}
