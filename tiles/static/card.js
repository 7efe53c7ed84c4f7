// The village card: a village's indicators by domain (one tab each), with label, unit and
// county rank, its lagging domains, and a second village side by side when compared.
// Every text goes in through textContent.

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/**
 * Render the card into `root`.
 * ctx: {table, groups, t, ft, label(field), domainName(domain), village, compare, tab,
 *       onTab(key), onCompare(key|null), onClose(), trend (a node, or none)}
 */
export function renderCard(root, ctx) {
  const { table, t, ft, village, compare } = ctx;
  root.replaceChildren();
  root.hidden = false;
  root.classList.toggle("comparing", Boolean(compare));
  const shown = compare ? [village, compare] : [village];

  const head = el("header", "card-head");
  const titles = el("div", "card-titles");
  shown.forEach((v) => {
    const title = el("div", "card-title");
    title.appendChild(el("h2", null, v.name));
    const sub = [v.town, v.code !== v.name ? v.code : ""].filter(Boolean).join(" · ");
    if (sub) title.appendChild(el("div", "card-sub", sub));
    titles.appendChild(title);
  });
  head.appendChild(titles);
  const close = el("button", "card-close", "×");
  close.type = "button";
  close.title = t("close");
  close.setAttribute("aria-label", t("close"));
  close.addEventListener("click", ctx.onClose);
  head.appendChild(close);
  root.appendChild(head);

  // compare with a second village
  const picker = el("select", "card-compare");
  picker.setAttribute("aria-label", t("compareWith"));
  const none = el("option", null, compare ? t("compareNone") : t("compareWith"));
  none.value = "";
  picker.appendChild(none);
  table.records
    .filter((r) => r.key !== village.key)
    .slice()
    .sort((a, b) => a.name.localeCompare(b.name, ft.locale))
    .forEach((r) => {
      const option = el("option", null, r.town ? r.name + " (" + r.town + ")" : r.name);
      option.value = r.key;
      option.selected = compare && compare.key === r.key;
      picker.appendChild(option);
    });
  picker.addEventListener("change", () => ctx.onCompare(picker.value || null));
  root.appendChild(picker);

  // lagging domains
  const flags = el("div", "card-flags");
  shown.forEach((v) => {
    const cell = el("div", "flag-cell");
    if (v.lagging.length) {
      cell.appendChild(el("span", "flag-label", t("lagging") + ":"));
      v.lagging.forEach((d) => cell.appendChild(el("span", "flag", ctx.domainName(d))));
    } else {
      cell.appendChild(el("span", "flag-none", t("laggingNone")));
    }
    flags.appendChild(cell);
  });
  root.appendChild(flags);
  if (ctx.trend) root.appendChild(ctx.trend); // the scores over the periods

  // tabs: one per group of indicators
  const groups = ctx.groups;
  const active = groups.some((g) => g.key === ctx.tab) ? ctx.tab : groups.length ? groups[0].key : null;
  const tabs = el("nav", "card-tabs");
  tabs.setAttribute("role", "tablist");
  groups.forEach((group) => {
    const tab = el("button", "card-tab", ctx.domainName(group.key));
    tab.type = "button";
    tab.setAttribute("role", "tab");
    tab.dataset.tab = group.key;
    tab.setAttribute("aria-selected", String(group.key === active));
    tab.addEventListener("click", () => ctx.onTab(group.key));
    tabs.appendChild(tab);
  });
  root.appendChild(tabs);

  const body = el("div", "card-body");
  const group = groups.find((g) => g.key === active);
  if (group) {
    const grid = el("table", "card-table");
    const header = el("tr");
    header.appendChild(el("th", null, ""));
    shown.forEach((v) => {
      const th = el("th", "num", compare ? v.name : t("value"));
      th.title = t("rankHint");
      header.appendChild(th);
    });
    grid.appendChild(header);
    group.fields.forEach((field) => {
      const row = el("tr");
      row.dataset.field = field;
      row.appendChild(el("th", null, ctx.label(field)));
      const n = table.ranked(field).n;
      shown.forEach((v) => {
        const cell = el("td", "num", ft.value(field, v.values[field]));
        const rank = table.rankOf(field, v.key);
        const small = el("small", "rank", rank ? t("rankOf", { rank, n }) : "—");
        small.title = t("rankHint");
        cell.appendChild(small);
        row.appendChild(cell);
      });
      grid.appendChild(row);
    });
    body.appendChild(grid);
  }
  root.appendChild(body);
  return active;
}
