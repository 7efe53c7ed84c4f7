// The popup of a feature that is no village: a short table of its properties per feature.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** The property naming a feature (its layer's label fields, the first with a value). */
function featureName(layer, properties) {
  for (const key of layer.label || []) {
    const value = properties[key];
    if (value !== undefined && value !== null && String(value).trim() !== "") return String(value);
  }
  return null;
}

/** Tables of the features' properties; `ctx`: {layerByName, titleOf(layer), label(field, layer), ft}. */
export function featureTables(features, ctx) {
  const { layerByName, titleOf, label, ft } = ctx;
  const content = el("div", "popup");
  features.forEach((feature) => {
    const layer = layerByName[feature.source];
    const table = el("table", "popup-table");
    const name = featureName(layer, feature.properties);
    const title = titleOf(layer);
    table.appendChild(el("caption", null, name ? title + ": " + name : title));
    Object.keys(feature.properties).forEach((key) => {
      const row = el("tr");
      row.appendChild(el("th", null, label(key, layer.name)));
      row.appendChild(el("td", null, ft.value(key, feature.properties[key], layer.name)));
      table.appendChild(row);
    });
    content.appendChild(table);
  });
  return content;
}
