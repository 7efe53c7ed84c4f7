// The villages' colours: one function makes the ramp's stops, the style expression from them
// and the legend from the same stops, so the map and its legend cannot disagree.

// viridis (the style's numeric ramp): readable in grey and for colour-blind readers
export const RAMP = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];
export const NO_DATA = "#cfcfcf";
const NICE = [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]; // steps between stops (× a power of ten)

function niceStep(raw) {
  if (!(raw > 0)) return 1;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  for (const m of NICE) {
    if (m * power >= raw) return m * power;
  }
  return 10 * power;
}

/** Evenly spaced round stop values covering [lo, hi], one per ramp colour. */
export function stopValues(lo, hi, count) {
  const gaps = count - 1;
  if (!(hi > lo)) hi = lo + 1;
  let step = niceStep((hi - lo) / gaps);
  let start = Math.floor(lo / step) * step;
  while (start + gaps * step < hi) {
    step = niceStep(step * 1.01);
    start = Math.floor(lo / step) * step;
  }
  // round away float noise (0.1 * 3 = 0.30000000000000004)
  return Array.from({ length: count }, (_, i) => Number((start + i * step).toPrecision(12)));
}

/**
 * The ramp of `field` over `values`: its stops ([value, colour] pairs, round values spanning
 * the data) and the MapLibre fill-color expression built from them. `value` is the expression
 * of a feature's value (default: its property `field`; a period's values come from elsewhere).
 */
export function makeRamp(field, values, value) {
  const finite = values.filter((v) => typeof v === "number" && Number.isFinite(v));
  const lo = finite.length ? Math.min(...finite) : 0;
  const hi = finite.length ? Math.max(...finite) : 1;
  const stops = stopValues(lo, hi, RAMP.length).map((v, i) => [v, RAMP[i]]);
  const input = value || ["get", field];
  const interpolate = ["interpolate", ["linear"], input];
  stops.forEach(([v, colour]) => interpolate.push(v, colour));
  const expression = ["case", ["==", ["typeof", input], "number"], interpolate, NO_DATA];
  return { field, stops, expression };
}

/** The [value, colour] stops inside a fill-color expression made by makeRamp. */
export function stopsOf(expression) {
  const interpolate = expression[2];
  const stops = [];
  for (let i = 3; i < interpolate.length; i += 2) stops.push([interpolate[i], interpolate[i + 1]]);
  return stops;
}

/** The legend of a ramp: a gradient bar and, under it, one labelled swatch per stop. */
export function legendNode(ramp, format, noDataText) {
  const box = document.createElement("div");
  box.className = "ramp-legend";
  box.dataset.field = ramp.field;
  const bar = document.createElement("div");
  bar.className = "ramp";
  bar.style.background = "linear-gradient(to right, " + ramp.stops.map((s) => s[1]).join(", ") + ")";
  box.appendChild(bar);
  const row = document.createElement("div");
  row.className = "stops";
  ramp.stops.forEach(([value, colour]) => {
    const stop = document.createElement("span");
    stop.className = "stop";
    stop.dataset.value = String(value);
    stop.dataset.color = colour;
    const swatch = document.createElement("i");
    swatch.style.backgroundColor = colour;
    stop.appendChild(swatch);
    stop.appendChild(document.createTextNode(format(value)));
    row.appendChild(stop);
  });
  const missing = document.createElement("span");
  missing.className = "stop no-data";
  const swatch = document.createElement("i");
  swatch.style.backgroundColor = NO_DATA;
  missing.appendChild(swatch);
  missing.appendChild(document.createTextNode(noDataText));
  row.appendChild(missing);
  box.appendChild(row);
  return box;
}

/** Draw a ramp's legend on a 2D canvas context at (x, y); returns the height used. */
export function drawLegend(ctx, ramp, x, y, width, title, format, fonts) {
  ctx.fillStyle = "#222";
  ctx.font = "600 14px " + fonts;
  ctx.fillText(title, x, y + 14);
  const gradient = ctx.createLinearGradient(x, 0, x + width, 0);
  ramp.stops.forEach(([, colour], i) => gradient.addColorStop(i / (ramp.stops.length - 1), colour));
  ctx.fillStyle = gradient;
  ctx.fillRect(x, y + 22, width, 12);
  ctx.fillStyle = "#444";
  ctx.font = "12px " + fonts;
  ramp.stops.forEach(([value], i) => {
    const label = format(value);
    const px = x + (width * i) / (ramp.stops.length - 1);
    const w = ctx.measureText(label).width;
    ctx.fillText(label, Math.min(Math.max(px - w / 2, x), x + width - w), y + 50);
  });
  return 56;
}

function rgb(hex) {
  const h = hex.replace("#", "");
  const full = h.length === 3 ? h.split("").map((c) => c + c).join("") : h;
  return [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16));
}

/** The colour the ramp gives `value` (linear in RGB, as MapLibre interpolates). */
export function colourAt(ramp, value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return NO_DATA;
  const stops = ramp.stops;
  if (value <= stops[0][0]) return stops[0][1];
  for (let i = 1; i < stops.length; i++) {
    if (value <= stops[i][0]) {
      const f = (value - stops[i - 1][0]) / (stops[i][0] - stops[i - 1][0]);
      const a = rgb(stops[i - 1][1]);
      const b = rgb(stops[i][1]);
      return "rgb(" + a.map((c, k) => Math.round(c + (b[k] - c) * f)).join(", ") + ")";
    }
  }
  return stops[stops.length - 1][1];
}
