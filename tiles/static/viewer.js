// OneMap Twin viewer: the county dashboard. Key figures, villages coloured by a domain or
// indicator with a legend made from the same stops, a ranked and searchable village list,
// a village card, the villages over time (timeline.js), the layer switcher with raster
// legends and versions, the screen's state in the URL hash, and a PNG of the screen. Catalog text reaches the page through textContent only.
import { pickLang, translator, fieldText } from "./i18n.js";
import { makeRamp, legendNode, colourAt } from "./ramp.js";
import { saveScreen } from "./screen.js";
import { readHash, writeHash } from "./state.js";
import { villageTable, indicatorGroups, domainOf } from "./villages.js";
import { renderCard } from "./card.js";
import { inView, setView, view3dOf, ViewControl } from "./view3d.js";
import { periodStore, periodRows, periodValue, hasPeriods, trendSection, renderChanges, periodSlider } from "./timeline.js";
import { fillLayerList } from "./layerlist.js";
import { featureTables } from "./popup.js";
import { heatLayer } from "./heat.js";
import { fillFigures } from "./figures.js";
import { asOfControl, swapVersion } from "./versions.js";

const config = JSON.parse(document.getElementById("twin-config").textContent);
window.twinErrors = [];
const lang = pickLang(config);
document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
const t = translator(lang);
const spec = config.villages; // null: no villages layer, a plain layer viewer
const ft = fieldText(config, lang, spec ? spec.layer : null);
const NARROW = 700; // px: below this the panel starts collapsed and the card is a bottom sheet
const FONTS = "'Noto Sans CJK SC', 'Source Han Sans SC', 'Microsoft YaHei', 'PingFang SC', sans-serif";
const HEAT_ABOVE = 2000; // point layers with more features draw as a heatmap at low zoom
const HEAT_MAXZOOM = 12;
const VILLAGE_FILL_OPACITY = 0.78;
const LAGGING_COLOUR = "#e31a1c";
const SELECTED_COLOUR = "#00b4ff";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
const $ = (id) => document.getElementById(id);

// -- static text and the panel ------------------------------------------------------------
document.querySelectorAll("[data-t]").forEach((node) => (node.textContent = t(node.dataset.t)));
document.querySelectorAll("[data-t-placeholder]").forEach((node) => {
  node.placeholder = t(node.dataset.tPlaceholder);
});
$("title").textContent = config.title;
document.querySelector("#panel-toggle .toggle-title").textContent = config.title;
document.title = config.title;
const panel = $("panel");
const toggle = $("panel-toggle");
function setCollapsed(collapsed) {
  document.body.classList.toggle("panel-collapsed", collapsed);
  toggle.setAttribute("aria-expanded", String(!collapsed));
  toggle.title = collapsed ? t("expand") : t("collapse");
  toggle.setAttribute("aria-label", toggle.title);
}
setCollapsed(window.innerWidth < NARROW);
toggle.addEventListener("click", () => setCollapsed(!document.body.classList.contains("panel-collapsed")));

function showMessage(text) {
  const box = $("message");
  box.textContent = text;
  box.hidden = false;
}

// Key figures ("one screen shows the whole county").
if (fillFigures($("figure-list"), config.figures || [], ft)) $("figures").hidden = false;

// -- state -----------------------------------------------------------------------------------
const initial = readHash();
const layerByName = {};
config.layers.forEach((layer) => (layerByName[layer.name] = layer));
const state = {
  layers: new Set(
    initial.layers
      ? initial.layers.filter((name) => name in layerByName)
      : config.layers.filter((layer) => layer.visible !== false).map((layer) => layer.name)
  ),
  by: null,
  village: initial.village,
  compare: initial.compare,
  tab: null,
  view3d: initial.view3d,
  period: null, // the villages' period shown (the latest: the layer as built)
  // layer -> the version picked (none: the current one); a link's older versions still served
  versions: Object.fromEntries(
    Object.entries(initial.versions).filter(([name, version]) =>
      ((layerByName[name] && layerByName[name].versions) || []).slice(1).some((v) => v.version === version)
    )
  ),
};
let table = null; // the villages' attributes, once fetched (in the period shown)
let villagesData = null; // /viewer/villages.json as fetched (the latest period)
let periodData = null; // /viewer/periods.json of the period shown
let history = null; // the scores in every period (the card's trends)
const periods = spec && spec.periods && spec.periods.length > 1 ? periodStore(spec, fetchJson) : null;
let ramp = null; // the villages' current colours
let map = null;
let styleLoaded = false; // the map holds the prepared style's layers
let styleLayers = []; // [{id, type, name, view}] of the style, with helper layers added
let view3d = { terrain: null, any: false }, viewControl = null; // what the style offers in 3D
const baseOpacity = {}; // fill layer id -> its opacity in the served style

function label(field, layer) {
  if (layer || ft.has(field)) return ft.label(field, layer);
  if (field === "score_total") return t("composite");
  if (spec && field.startsWith("score_") && spec.domains.includes(field.slice(6))) return t(field.slice(6));
  return ft.label(field);
}
const domainName = (key) => t(key); // the five domains, "scores", "other"
/** A layer's title in the page's language (the config's `titles`), else the catalog's. */
function titleOf(layer) {
  const titles = config.titles || {};
  return typeof titles[layer.name] === "string" ? titles[layer.name] : layer.title;
}
const groups = spec ? indicatorGroups(spec) : [];
if (spec) {
  const fields = groups.flatMap((g) => g.fields);
  const wanted = [initial.by, "score_total", spec.property, fields[0]];
  state.by = wanted.find((f) => f && fields.includes(f)) || null;
}

function saveState() {
  if (!map) return;
  const center = map.getCenter();
  writeHash({
    center: [center.lng, center.lat],
    zoom: map.getZoom(),
    ...{ bearing: map.getBearing(), pitch: map.getPitch(), view3d: state.view3d },
    layers: config.layers.filter((layer) => state.layers.has(layer.name)).map((layer) => layer.name),
    by: state.by,
    village: state.village,
    compare: state.compare,
    period: periods && state.period !== periods.latest ? state.period : null,
    versions: state.versions,
  });
}

/** Room the map keeps free for the panel (and the card) when it frames something. */
function viewPadding() {
  const pad = { top: 20, bottom: 30, left: 20, right: 20 };
  if (window.innerWidth < NARROW) {
    const card = $("card");
    if (!card.hidden) pad.bottom += card.getBoundingClientRect().height;
    return pad;
  }
  if (!document.body.classList.contains("panel-collapsed")) {
    pad.left += panel.getBoundingClientRect().right;
  }
  const card = $("card");
  if (!card.hidden) pad.right += window.innerWidth - card.getBoundingClientRect().left;
  return pad;
}

// -- the style, as operations on layers --------------------------------------------------------
// Each operation is [layer id, "paint" | "layout" | "filter", property, value]; the same list
// edits the style before the map exists and the live map after, so there is one code path.
function apply(ops, style) {
  ops.forEach(([id, kind, prop, value]) => {
    if (style) {
      const layer = style.layers.find((l) => l.id === id);
      if (!layer) return;
      if (kind === "filter") layer.filter = value;
      else layer[kind] = Object.assign({}, layer[kind], { [prop]: value });
    } else if (map.getLayer(id)) {
      if (kind === "paint") map.setPaintProperty(id, prop, value);
      else if (kind === "layout") map.setLayoutProperty(id, prop, value);
      else map.setFilter(id, value);
    }
  });
}
const idsOf = (name, type) =>
  styleLayers.filter((l) => l.name === name && (!type || l.type === type)).map((l) => l.id);
const rasterShown = () => config.layers.some((l) => l.kind === "raster" && state.layers.has(l.name));

function visibilityOps() {
  const shown = (l) => state.layers.has(l.name) && inView(l.view, state.view3d);
  return styleLayers.map((l) => [l.id, "layout", "visibility", shown(l) ? "visible" : "none"]);
}

/** Fills: one choropleth at a time, never a translucent fill over a raster with a legend. */
function fillOps() {
  const raster = rasterShown();
  const ops = [];
  styleLayers
    .filter((l) => l.type === "fill")
    .forEach((l) => {
      const role = layerByName[l.name].role;
      let opacity = baseOpacity[l.id];
      if (raster || role === "boundary") opacity = 0;
      else if (role === "villages" && ramp) opacity = VILLAGE_FILL_OPACITY;
      ops.push([l.id, "paint", "fill-opacity", opacity]);
    });
  if (spec) {
    idsOf(spec.layer, "line")
      .filter((id) => id === spec.layer + "-outline")
      .forEach((id) => ops.push([id, "paint", "line-color", raster ? "#444444" : "#ffffff"]));
  }
  $("fill-note").hidden = !raster || !spec;
  // the villages' legend speaks of fills that are not drawn: dim it
  $("village-legend").classList.toggle("inactive", raster);
  return ops;
}

function keyExpression() {
  return spec.id ? ["to-string", ["get", spec.id]] : ["to-string", ["id"]];
}

function villageOps() {
  if (!spec) return [];
  const ops = [];
  if (ramp) ops.push([spec.layer + "-fill", "paint", "fill-color", ramp.expression]);
  const chosen = [state.village, state.compare].filter(Boolean);
  ops.push([spec.layer + "-selected", "filter", null, ["in", keyExpression(), ["literal", chosen]]]);
  if (spec.lagging) {
    // a past period's flags are not in the tiles: the villages the list outlines, by key
    const keys = pastPeriod() && table ? table.records.filter(outlined).map((r) => r.key) : null;
    const filter = keys ? ["in", keyExpression(), ["literal", keys]] : laggingFilter();
    ops.push([spec.layer + "-lagging", "filter", null, filter]);
  }
  return ops;
}

/** Which villages are outlined as lagging for the selected indicator. */
function laggingFilter() {
  const flags = ["to-string", ["get", spec.lagging]];
  const domain = state.by ? domainOf(spec, state.by) : null;
  if (domain) return ["in", domain, flags];
  if (state.by === "score_total" && spec.lagThreshold !== null) {
    const total = ["get", "score_total"];
    return ["all", ["==", ["typeof", total], "number"], ["<", ["to-number", total], spec.lagThreshold]];
  }
  return ["==", 1, 0];
}

/** Whether a village is outlined as lagging (the same rule as laggingFilter's). */
function outlined(record) {
  if (!spec.lagging) return false;
  const domain = state.by ? domainOf(spec, state.by) : null;
  if (domain) return record.lagging.includes(domain);
  const total = record.values.score_total;
  return state.by === "score_total" && spec.lagThreshold !== null && typeof total === "number" &&
    total < spec.lagThreshold;
}

function laggingNote() {
  const note = $("lagging-note");
  if (!spec || !spec.lagging || !table) {
    note.hidden = true;
    return;
  }
  const domain = state.by ? domainOf(spec, state.by) : null;
  const composite = state.by === "score_total" && spec.lagThreshold !== null;
  const lagging = table.records.filter(outlined);
  note.hidden = !(domain || composite);
  const text = domain
    ? t("laggingOutline", { domain: t(domain) })
    : t("laggingOutlineTotal", { score: ft.number(spec.lagThreshold) });
  note.replaceChildren(
    el("i", "outline-swatch"),
    document.createTextNode(text + " (" + t("laggingCount", { n: lagging.length }) + ")")
  );
}

/** Copy the served style, add the dashboard's helper layers, and set the opening state. */
function prepareStyle(style) {
  const layers = [];
  style.layers.forEach((layer) => {
    const name = layer.metadata && layer.metadata["twin:layer"];
    const entry = name && layerByName[name];
    if (entry && layer.type === "circle" && (entry.count || 0) > HEAT_ABOVE) {
      // many points: a density surface at low zoom, the points themselves when zoomed in
      layers.push(heatLayer(layer, name, HEAT_MAXZOOM));
      layer.minzoom = Math.max(layer.minzoom || 0, HEAT_MAXZOOM - 1);
    }
    layers.push(layer);
    if (layer.type === "fill") baseOpacity[layer.id] = (layer.paint || {})["fill-opacity"] ?? 1;
    if (spec && layer.id === spec.layer + "-outline") {
      const base = { source: layer.source, "source-layer": layer["source-layer"], metadata: layer.metadata };
      if (spec.lagging) {
        layers.push(Object.assign({ id: spec.layer + "-lagging", type: "line" }, base, {
          filter: ["==", 1, 0],
          paint: { "line-color": LAGGING_COLOUR, "line-width": 2.2 },
        }));
      }
      layers.push(Object.assign({ id: spec.layer + "-selected", type: "line" }, base, {
        filter: ["==", 1, 0],
        paint: { "line-color": SELECTED_COLOUR, "line-width": 4 },
      }));
    }
    if (entry && entry.role === "roads" && layer.type === "line") {
      // roads under the villages' colours: present, not shouting
      layer.paint = Object.assign({}, layer.paint, { "line-opacity": 0.6 });
    }
    if (entry && entry.role === "boundary" && layer.type === "line") {
      layer.paint = Object.assign({}, layer.paint, {
        "line-color": "#333333",
        "line-width": entry.count === 1 ? 2.4 : 1.4,
      });
    }
  });
  style.layers = layers;
  styleLayers = layers
    .filter((l) => l.metadata && l.metadata["twin:layer"] in layerByName)
    .map((l) => ({ id: l.id, type: l.type, name: l.metadata["twin:layer"], view: l.metadata["twin:view"] }));
  view3d = view3dOf(style);
  state.view3d = state.view3d && view3d.any;
  apply([...visibilityOps(), ...villageOps(), ...fillOps()], style);
  return style;
}

// -- the indicator selector, legend and ranked list ----------------------------------------------
function fillSelector() {
  const select = $("indicator");
  groups.forEach((group) => {
    const optgroup = el("optgroup");
    optgroup.label = domainName(group.key);
    group.fields.forEach((field) => {
      const option = el("option", null, label(field));
      option.value = field;
      option.selected = field === state.by;
      optgroup.appendChild(option);
    });
    select.appendChild(optgroup);
  });
  select.addEventListener("change", () => setIndicator(select.value));
}

const pastPeriod = () => Boolean(periods && periodData && state.period !== periods.latest);

function setIndicator(field) {
  state.by = field;
  if (table) {
    // one ramp for every period (its range over all of them), so that colours compare
    const range = hasPeriods(periodData, field) ? periodData.range[field] : [];
    const value = pastPeriod() && hasPeriods(periodData, field)
      ? periodValue(keyExpression(), periodData, field, state.period) : undefined;
    ramp = makeRamp(field, [...table.values(field), ...range], value);
  } else ramp = null;
  const legend = $("village-legend");
  legend.replaceChildren();
  if (ramp) {
    const unit = ft.unit(field);
    legend.appendChild(el("div", "legend-title", label(field) + (unit ? " (" + unit + ")" : "")));
    legend.appendChild(legendNode(ramp, (v) => ft.plain(field, v), t("noData")));
  }
  if (styleLoaded) apply([...villageOps(), ...fillOps()]);
  laggingNote();
  renderList();
  renderChangeList();
  if (state.village) openCard(false);
  saveState();
}

// -- the periods: slider, changes since the previous period -----------------------------------
/** Show the villages in `period`: its table, colours, ranks, lagging flags and changes. */
function setPeriod(period) {
  state.period = period;
  return periods.period(period).then((data) => {
    if (state.period !== period) return; // the slider moved on meanwhile
    periodData = data;
    table = villageTable(period === periods.latest ? villagesData : periodRows(villagesData, spec, data, period), spec);
    setIndicator(state.by);
    $("timeline").dataset.shown = period; // the period the map, list and card now show
  }).catch((error) => showMessage(t("periodsError", { error: error.message })));
}

function renderChangeList() {
  const box = $("changes");
  const previous = periods && periods.previous(state.period);
  box.hidden = !(periods && periodData && table);
  if (box.hidden) return;
  const field = hasPeriods(periodData, state.by) ? state.by : "score_total";
  if (!previous || !hasPeriods(periodData, field)) {
    $("change-list").replaceChildren(document.createTextNode(t("noEarlierPeriod")));
    return;
  }
  renderChanges($("change-list"), {
    t, ft, label, table, field, previous, data: periodData, period: state.period,
    onPick: (key) => selectVillage(key, true),
  });
}

function renderList() {
  const list = $("village-list");
  list.replaceChildren();
  if (!table || !state.by) return;
  const query = $("village-search").value;
  const { order, rank } = table.ranked(state.by);
  const shown = order.filter((r) => table.matches(r, query)).slice(0, 500);
  if (!shown.length) list.appendChild(el("li", "empty", t("noMatch")));
  const values = order.map((r) => r.values[state.by]).filter((v) => typeof v === "number");
  const top = Math.max(...values.map(Math.abs), 0) || 1;
  shown.forEach((record) => {
    const item = el("li");
    const button = el("button", "village");
    button.type = "button";
    button.dataset.key = record.key;
    if (record.key === state.village) button.setAttribute("aria-current", "true");
    button.appendChild(el("span", "rank", rank.get(record.key) || "—"));
    const name = el("span", "name", record.name);
    if (record.town) name.appendChild(el("small", null, " " + record.town));
    button.appendChild(name);
    button.appendChild(el("span", "value", ft.value(state.by, record.values[state.by])));
    const bar = el("span", "bar");
    const value = record.values[state.by];
    bar.style.width = typeof value === "number" ? (100 * Math.abs(value)) / top + "%" : "0";
    bar.style.backgroundColor = ramp ? colourAt(ramp, value) : "#999";
    button.appendChild(bar);
    if (outlined(record)) button.classList.add("has-lagging");
    button.addEventListener("click", () => selectVillage(record.key, true));
    item.appendChild(button);
    list.appendChild(item);
  });
}

// -- the village card ---------------------------------------------------------------------------
function openCard(fly) {
  const village = table && table.get(state.village);
  const card = $("card");
  if (!village) {
    card.hidden = true;
    return;
  }
  const compare = state.compare ? table.get(state.compare) : null;
  const scores = ["score_total", ...spec.domains.map((d) => "score_" + d)];
  const trend = history ? trendSection(history, scores, village, state.period, { t, ft, label }) : null;
  state.tab = renderCard(card, {
    trend,
    table, t, ft, label, domainName, village, compare, groups,
    tab: state.tab || (state.by && domainOf(spec, state.by) && !state.by.startsWith("score_")
      ? domainOf(spec, state.by) : "scores"),
    onTab: (key) => {
      state.tab = key;
      openCard(false);
    },
    onCompare: (key) => {
      state.compare = key;
      openCard(false);
      apply(villageOps());
      saveState();
    },
    onClose: () => selectVillage(null, false),
  });
  if (fly && village.bbox && map) {
    const [w, s, e, n] = village.bbox;
    map.fitBounds([[w, s], [e, n]], { padding: viewPadding(), maxZoom: 12.5, duration: 700 });
  }
}

function selectVillage(key, fly) {
  state.village = key;
  state.compare = null;
  state.tab = null;
  if (key === null) $("card").hidden = true;
  else openCard(fly);
  if (styleLoaded) apply(villageOps());
  renderList();
  if (key && window.innerWidth < NARROW) setCollapsed(true);
  saveState();
}

// -- layers ---------------------------------------------------------------------------------
function layerList() {
  const pickers = fillLayerList($("layer-list"), {
    layers: config.layers, t, ft, title: titleOf,
    shown: (name) => state.layers.has(name),
    heat: (layer) => (layer.count || 0) > HEAT_ABOVE && (layer.geometry || "").includes("point"),
    date: (iso) => new Date(iso).toLocaleString(ft.locale, { dateStyle: "medium", timeStyle: "short" }),
    onToggle: (name, on) => {
      if (on) state.layers.add(name);
      else state.layers.delete(name);
      if (styleLoaded) apply([...visibilityOps(), ...fillOps()]);
      saveState();
    },
    onVersion: setVersion,
  });
  Object.entries(state.versions).forEach(([name, version]) => (pickers[name].value = version));
  asOfControl({
    t, layers: config.layers, root: $("as-of"), title: titleOf,
    onPick: (name, version) => {
      pickers[name].value = version || "";
      setVersion(name, version);
    },
  });
}

/** Show `version` of layer `name` (null: the current one). */
function setVersion(name, version) {
  if (version) state.versions[name] = version;
  else delete state.versions[name];
  if (styleLoaded) swapVersion(map, config.tilesUrl, name, version);
  saveState();
}

// -- a PNG of the screen ------------------------------------------------------------------------
function savePng() {
  const unit = ramp ? ft.unit(state.by) : "";
  saveScreen(map, {
    title: config.title,
    fonts: FONTS,
    ramp,
    legendTitle: ramp ? label(state.by) + (unit ? " (" + unit + ")" : "") : "",
    format: (v) => ft.plain(state.by, v),
  });
}

// -- the map ----------------------------------------------------------------------------------
function createMap() {
  const options = {
    container: "map",
    attributionControl: { compact: true },
    localIdeographFontFamily: FONTS,
    canvasContextAttributes: { preserveDrawingBuffer: true },
  };
  if (initial.center) {
    options.center = initial.center;
    options.zoom = initial.zoom;
    Object.assign(options, { bearing: initial.bearing, pitch: initial.pitch });
  } else if (config.bounds) {
    options.bounds = config.bounds;
    options.fitBoundsOptions = { padding: viewPadding() };
  }
  map = new maplibregl.Map(options);
  window.map = map;
  // the served style, with the dashboard's layers and opening state, before any tile is asked for
  map.setStyle(config.styleUrl, { transformStyle: (previous, next) => prepareStyle(next) });
  map.on("style.load", () => {
    styleLoaded = true;
    Object.entries(state.versions).forEach(([name, v]) => swapVersion(map, config.tilesUrl, name, v));
    apply([...visibilityOps(), ...villageOps(), ...fillOps()]);
    if (state.view3d) setView(map, view3d, true, false);
    viewControl.update(view3d.any, state.view3d);
  });
  viewControl = new ViewControl(t, toggleView);
  map.addControl(viewControl, "bottom-right");
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), "bottom-right");
  map.addControl(new maplibregl.ScaleControl(), "bottom-right");
  map.on("error", (event) => {
    const message = event && event.error && event.error.message ? event.error.message : String(event);
    window.twinErrors.push(message);
  });
  map.on("moveend", saveState);
  map.on("click", onClick);
  map.on("mousemove", (event) => {
    const hit = map.queryRenderedFeatures(event.point).some((f) => f.source in layerByName);
    map.getCanvas().style.cursor = hit ? "pointer" : "";
  });
  $("save-png").addEventListener("click", savePng);
  $("save-png").disabled = false;
}

/** Between 2D and 3D: pitch and terrain, buildings standing up or drawn flat. */
function toggleView() {
  state.view3d = !state.view3d && view3d.any;
  apply(visibilityOps());
  setView(map, view3d, state.view3d, true);
  viewControl.update(view3d.any, state.view3d);
  saveState();
}

function onClick(event) {
  const features = map.queryRenderedFeatures(event.point).filter((f) => f.source in layerByName);
  if (!features.length) return;
  const village = spec && table && features.find((f) => f.source === spec.layer);
  if (village) {
    const key = spec.id ? village.properties[spec.id] : village.id;
    if (table.get(key)) {
      selectVillage(String(key), false);
      return;
    }
  }
  // any other feature: a short table of its properties
  const content = featureTables(features.slice(0, 3), { layerByName, titleOf, label, ft });
  new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(event.lngLat).setDOMContent(content).addTo(map);
}

function fetchJson(url) {
  return fetch(url).then((response) => {
    if (!response.ok) throw new Error(url + ": HTTP " + response.status);
    return response.json();
  });
}

layerList();
$("layers").open = !spec; // a plain layer viewer is its layer list
if (spec) {
  fillSelector();
  $("dashboard").hidden = false;
  $("village-search").addEventListener("input", renderList);
}
createMap();
const villages = spec
  ? fetchJson(spec.url).catch((error) => {
      showMessage(t("villagesError", { error: error.message }));
      return null;
    })
  : Promise.resolve(null);
villages.then((data) => {
  villagesData = data;
  if (data) table = villageTable(data, spec);
  if (!data || !periods) return;
  // the period slider, and the scores' history for the cards
  const asked = periods.periods.includes(initial.period) ? initial.period : periods.latest;
  const slider = periodSlider($("timeline"), periods.periods, asked, t, (p) => setPeriod(p));
  const trends = periods.history().then((h) => (history = h)).catch((error) => {
    showMessage(t("periodsError", { error: error.message }));
  });
  return Promise.all([setPeriod(asked).then(() => slider.set(state.period)), trends]);
}).then(() => {
  if (spec && state.by) setIndicator(state.by);
  if (state.village) openCard(false);
  window.twinReady = true;
});
