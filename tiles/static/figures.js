// The key figures at the top of the panel ("one screen shows the whole county").

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** One tile per figure (label over value and unit) into `list`; whether there were any. */
export function fillFigures(list, figures, ft) {
  figures.forEach((figure) => {
    const tile = el("div", "figure");
    tile.appendChild(el("dt", null, ft.pick(figure.label, figure.labels)));
    const value = typeof figure.value === "number" ? ft.number(figure.value) : String(figure.value);
    const dd = el("dd", null, value);
    const unit = ft.pick(figure.unit, figure.units);
    if (unit) dd.appendChild(el("small", null, " " + unit));
    tile.appendChild(dd);
    if (typeof figure.value !== "number") tile.classList.add("wide");
    list.appendChild(tile);
  });
  return figures.length > 0;
}
