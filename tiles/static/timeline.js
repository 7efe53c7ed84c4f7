// The villages over time: the period slider's data (/viewer/periods.json), a period's table
// as the dashboard reads it, the fill values of a period as a style expression, trend lines
// for the card and the villages that changed most since the previous period.

const SVG = "http://www.w3.org/2000/svg";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/**
 * The periods of the villages layer, fetched as needed: one request per period shown (every
 * indicator of it) and one for the history of the scores (the trend lines).
 * `spec`: the config's villages ({periods, periodsUrl, domains}); `fetchJson(url)`.
 */
export function periodStore(spec, fetchJson) {
  const periods = spec.periods || [];
  const byPeriod = new Map();
  let history = null;
  const url = (params) => spec.periodsUrl + "?" + params.toString();
  return {
    periods,
    latest: periods[periods.length - 1] || null,
    /** The period before `period` in the list, or null. */
    previous(period) {
      const i = periods.indexOf(period);
      return i > 0 ? periods[i - 1] : null;
    },
    /** Every indicator of `period` (a promise, fetched once). */
    period(period) {
      if (!byPeriod.has(period)) {
        const data = fetchJson(url(new URLSearchParams({ period }))).then(indexed);
        byPeriod.set(period, data);
        data.catch(() => byPeriod.delete(period)); // a failed fetch may be tried again
      }
      return byPeriod.get(period);
    },
    /** The composite and domain scores in every period (a promise, fetched once). */
    history() {
      if (!history) {
        const params = new URLSearchParams();
        ["score_total", ...spec.domains.map((d) => "score_" + d)].forEach((f) => params.append("indicator", f));
        history = fetchJson(url(params))
          .catch(() => fetchJson(spec.periodsUrl)) // a layer without some score: every indicator
          .then(indexed);
      }
      return history;
    },
  };
}

/** The JSON with a code -> position map added. */
function indexed(data) {
  data.position = new Map(data.codes.map((code, i) => [code, i]));
  return data;
}

/**
 * The villages JSON as it reads in `period`: every indicator with periods at that period's
 * value (null where the village has no row then), lagging flags of that period; fields
 * without periods (from points, roads, coverage) keep their values, as the build holds them.
 */
export function periodRows(villages, spec, data, period) {
  const col = {};
  villages.columns.forEach((name, i) => (col[name] = i));
  const keyCol = spec.id ? col[spec.id] : -1;
  const rows = villages.rows.map((row, i) => {
    const out = row.slice();
    const key = String(keyCol >= 0 ? row[keyCol] : i);
    const at = data.position.get(key);
    data.indicators.forEach((field) => {
      if (field in col && data.value[field]) {
        out[col[field]] = at === undefined ? null : data.value[field][period][at];
      }
    });
    if (spec.lagging && spec.lagging in col) {
      out[col[spec.lagging]] = at === undefined ? "" : data.lagging[period][at] || "";
    }
    if ("period" in col) out[col.period] = period;
    return out;
  });
  return Object.assign({}, villages, { rows });
}

/** Whether `field` changes with the period. */
export function hasPeriods(data, field) {
  return Boolean(data && field && data.indicators.includes(field));
}

/**
 * The value of `field` for each village in `period` as a style expression: the villages'
 * values as a literal object looked up by the feature's key (null where there is none).
 */
export function periodValue(keyExpression, data, field, period) {
  const values = {};
  data.codes.forEach((code, i) => {
    const value = data.value[field][period][i];
    if (value !== null) values[code] = value;
  });
  return ["get", keyExpression, ["literal", values]];
}

/** The largest drops and gains of `field` in `period` (since the previous one), `n` each. */
export function changedMost(data, field, period, n) {
  const change = data.change[field] && data.change[field][period];
  if (!change) return { drops: [], gains: [] };
  const moved = data.codes
    .map((code, i) => ({ code, change: change[i] }))
    .filter((c) => typeof c.change === "number" && c.change !== 0);
  const drops = moved.filter((c) => c.change < 0).sort((a, b) => a.change - b.change || a.code.localeCompare(b.code));
  const gains = moved.filter((c) => c.change > 0).sort((a, b) => b.change - a.change || a.code.localeCompare(b.code));
  return { drops: drops.slice(0, n), gains: gains.slice(0, n) };
}

/**
 * A small trend line of one village's `field` over the periods: a polyline through the
 * periods with a value and a dot per period (the selected one larger), no axes.
 */
export function sparkline(history, field, key, selected, opts) {
  const width = opts.width || 120;
  const height = opts.height || 26;
  const pad = 3;
  const at = history.position.get(String(key));
  const periods = history.periods;
  const grid = history.value[field] || {};
  const values = periods.map((p) => (at === undefined || !grid[p] ? null : grid[p][at]));
  const [lo, hi] = history.range[field] || [0, 1];
  const span = hi > lo ? hi - lo : 1;
  const x = (i) => pad + (periods.length > 1 ? (i * (width - 2 * pad)) / (periods.length - 1) : (width - 2 * pad) / 2);
  const y = (v) => height - pad - ((v - lo) * (height - 2 * pad)) / span;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.dataset.field = field;
  // a line per run of periods with values: a gap stays a gap
  let run = [];
  const runs = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (run.length) runs.push(run);
      run = [];
    } else run.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`);
  });
  if (run.length) runs.push(run);
  runs.forEach((points) => {
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.appendChild(line);
  });
  values.forEach((v, i) => {
    if (v === null) return;
    const dot = document.createElementNS(SVG, "circle");
    dot.setAttribute("cx", x(i).toFixed(1));
    dot.setAttribute("cy", y(v).toFixed(1));
    dot.setAttribute("r", periods[i] === selected ? "2.8" : "1.6");
    dot.dataset.period = periods[i];
    dot.dataset.value = String(v);
    if (periods[i] === selected) dot.setAttribute("class", "selected");
    const title = document.createElementNS(SVG, "title");
    title.textContent = periods[i] + ": " + opts.format(v);
    dot.appendChild(title);
    svg.appendChild(dot);
  });
  const shown = values.filter((v) => v !== null);
  svg.setAttribute("aria-label", opts.label + ": " + shown.map(opts.format).join(", "));
  return svg;
}

/** The card's trend section: one row per score with its sparkline and the latest change. */
export function trendSection(history, fields, village, selected, ctx) {
  const box = el("section", "card-trends");
  box.appendChild(el("h3", null, ctx.t("trend", { from: history.periods[0], to: history.periods[history.periods.length - 1] })));
  const grid = el("table", "trend-table");
  fields
    .filter((field) => history.value[field])
    .forEach((field) => {
      const row = el("tr");
      row.dataset.field = field;
      row.appendChild(el("th", null, ctx.label(field)));
      const cell = el("td");
      const format = (v) => ctx.ft.plain(field, v);
      cell.appendChild(sparkline(history, field, village.key, selected, { format, label: ctx.label(field) }));
      row.appendChild(cell);
      const at = history.position.get(village.key);
      const change = at === undefined || !history.change[field][selected] ? null : history.change[field][selected][at];
      const delta = el("td", "num delta", typeof change === "number" ? (change > 0 ? "+" : "") + format(change) : "");
      if (typeof change === "number") delta.classList.add(change < 0 ? "down" : change > 0 ? "up" : "flat");
      row.appendChild(delta);
      grid.appendChild(row);
    });
  box.appendChild(grid);
  return box;
}

/** The "changed most" lists into `root`: drops, then gains; `onPick(key)` on a click. */
export function renderChanges(root, ctx) {
  const { t, data, field, period, previous, table } = ctx;
  root.replaceChildren();
  root.appendChild(el("div", "changes-title", t("changedSince", { indicator: ctx.label(field), period: previous })));
  const { drops, gains } = changedMost(data, field, period, ctx.n || 5);
  [["drops", drops], ["gains", gains]].forEach(([kind, items]) => {
    const head = el("div", "changes-head " + kind, t(kind));
    root.appendChild(head);
    const list = el("ol", "changes " + kind);
    if (!items.length) list.appendChild(el("li", "empty", t("noChange")));
    items.forEach((item) => {
      const record = table.get(item.code);
      const button = el("button", "village-change");
      button.type = "button";
      button.dataset.key = item.code;
      button.dataset.change = String(item.change);
      button.appendChild(el("span", "name", record ? record.name : item.code));
      const sign = item.change > 0 ? "+" : "";
      button.appendChild(el("span", "value", sign + ctx.ft.plain(field, item.change)));
      button.addEventListener("click", () => ctx.onPick(item.code));
      const li = el("li");
      li.appendChild(button);
      list.appendChild(li);
    });
    root.appendChild(list);
  });
}

/** The slider over the periods in `root` (an <input type=range> and its label). */
export function periodSlider(root, periods, selected, t, onChange) {
  const input = root.querySelector("input");
  const output = root.querySelector("output");
  input.min = "0";
  input.max = String(periods.length - 1);
  input.step = "1";
  input.value = String(Math.max(0, periods.indexOf(selected)));
  const show = () => {
    const period = periods[Number(input.value)];
    output.textContent = period;
    input.setAttribute("aria-valuetext", period);
    return period;
  };
  show();
  input.addEventListener("input", () => onChange(show()));
  root.hidden = periods.length < 2;
  const ends = root.querySelector(".period-ends");
  if (ends) ends.replaceChildren(el("span", null, periods[0]), el("span", null, periods[periods.length - 1]));
  return {
    set(period) {
      input.value = String(Math.max(0, periods.indexOf(period)));
      show();
    },
  };
}
