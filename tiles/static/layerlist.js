// The layer switcher: a checkbox per layer with its swatch or raster legend, and for a layer
// with older versions a picker of its version (versions.js).
import { hasVersions, versionPicker } from "./versions.js";

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/**
 * Fill `list` with the layers. `ctx`: {layers, shown(name), onToggle(name, on), title(layer),
 * heat(layer) (drawn as a density), t, ft, date(iso), onVersion(name, version | null)}.
 * Returns name -> its version select (for the "map as of" date).
 */
export function fillLayerList(list, ctx) {
  const { t, ft } = ctx;
  const pickers = {};
  ctx.layers.forEach((layer) => {
    const item = el("li");
    const row = el("label");
    const box = el("input");
    box.type = "checkbox";
    box.checked = ctx.shown(layer.name);
    box.dataset.layer = layer.name;
    box.addEventListener("change", () => ctx.onToggle(layer.name, box.checked));
    row.appendChild(box);
    if (layer.color) {
      const swatch = el("span", "swatch");
      swatch.style.backgroundColor = layer.color;
      row.appendChild(swatch);
    }
    row.appendChild(el("span", null, ctx.title(layer)));
    if (ctx.heat(layer)) row.appendChild(el("small", "hint", " · " + t("heat")));
    item.appendChild(row);
    if (hasVersions(layer)) {
      const picker = versionPicker(layer, {
        t,
        title: ctx.title(layer),
        date: ctx.date,
        onPick: (version) => ctx.onVersion(layer.name, version),
      });
      pickers[layer.name] = picker;
      item.appendChild(picker);
    }
    if (layer.legend) {
      const legend = el("div", "legend");
      const bar = el("div", "ramp");
      bar.style.background = "linear-gradient(to right, " + layer.legend.colors.join(", ") + ")";
      const labels = el("div", "labels");
      const unit = layer.legend.unit ? " " + layer.legend.unit : "";
      labels.appendChild(el("span", null, ft.number(layer.legend.min) + unit));
      labels.appendChild(el("span", null, ft.number(layer.legend.max) + unit));
      legend.append(bar, labels);
      item.appendChild(legend);
    }
    list.appendChild(item);
  });
  return pickers;
}
