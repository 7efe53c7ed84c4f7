// Older versions of a layer on the map: a picker per layer with more than one servable version
// (the config's `versions`, newest first, as /catalog lists them), and a date that picks, for
// every layer, the version in force then (the newest published at or before it, as the
// server's `@date` does). Picking swaps the layer's sources to `/tiles/{layer}@{version}/...`.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** Whether a layer has older versions to pick. */
export const hasVersions = (layer) => (layer.versions || []).length > 1;

/** The instant a date input means: a date alone is the end of that day (UTC). */
export function instantOf(text) {
  if (!text) return null;
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? text + "T23:59:59.999Z" : text;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : null;
}

/** The version of `layer` in force at `instant` (ms), or null when none was published yet. */
export function inForce(layer, instant) {
  for (const v of layer.versions || []) {
    const published = v.published ? Date.parse(v.published) : NaN;
    if (!Number.isFinite(published)) return null; // older than this is not known for sure
    if (published <= instant) return v.version;
  }
  return null;
}

/**
 * Point every source of layer `name` at `version` (null: the current one, following rebuilds):
 * its TileJSON URL gets `@version` after the layer name, for the terrain source too.
 */
export function swapVersion(map, tilesUrl, name, version) {
  const style = map.getStyle();
  const prefix = tilesUrl + "/" + name;
  Object.entries(style.sources).forEach(([id, source]) => {
    if (typeof source.url !== "string" || !source.url.startsWith(prefix)) return;
    const rest = source.url.slice(prefix.length);
    const m = rest.match(/^(@[^/]*)?(\/tilejson\.json.*)$/);
    if (!m) return; // another layer whose name starts with this one's
    const url = prefix + (version ? "@" + encodeURIComponent(version) : "") + m[2];
    if (url !== source.url) map.getSource(id).setUrl(url);
  });
}

/**
 * The version picker of one layer: a select of its versions, newest (current) first.
 * `onPick(version | null)` when the official picks one.
 */
export function versionPicker(layer, ctx) {
  const select = el("select", "layer-version");
  select.dataset.layer = layer.name;
  select.setAttribute("aria-label", ctx.t("version") + ": " + ctx.title);
  layer.versions.forEach((v, i) => {
    const when = v.published ? ctx.date(v.published) : v.version;
    const option = el("option", null, i === 0 ? ctx.t("versionCurrent", { date: when }) : when);
    option.value = i === 0 ? "" : v.version;
    option.title = v.version;
    select.appendChild(option);
  });
  select.addEventListener("change", () => ctx.onPick(select.value || null));
  return select;
}

/**
 * The "map as of" date: for every layer with versions, the one in force then.
 * `ctx`: {t, layers, root (holds input and a note), onPick(name, version | null)}.
 */
export function asOfControl(ctx) {
  const input = ctx.root.querySelector("input");
  const note = ctx.root.querySelector(".note");
  ctx.root.hidden = !ctx.layers.some(hasVersions);
  input.addEventListener("change", () => {
    const instant = instantOf(input.value);
    const missing = [];
    ctx.layers.filter(hasVersions).forEach((layer) => {
      const version = instant === null ? null : inForce(layer, instant);
      if (instant !== null && version === null) missing.push(ctx.title(layer));
      // the current version is followed, not pinned
      ctx.onPick(layer.name, version === layer.versions[0].version ? null : version);
    });
    note.hidden = !missing.length;
    note.textContent = missing.length ? ctx.t("notYetPublished", { layers: missing.join(", ") }) : "";
  });
}
