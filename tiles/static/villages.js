// The villages' attributes as the dashboard uses them: one record per village, ranks per
// indicator, search by name, pinyin or code, and the indicators grouped by domain.

/** Records from /viewer/villages.json, keyed as the map's filter keys them. */
export function villageTable(data, spec) {
  const col = {};
  data.columns.forEach((name, i) => (col[name] = i));
  const get = (row, field) => (field && field in col ? row[col[field]] : null);
  const records = data.rows.map((row, i) => {
    const values = {};
    data.columns.forEach((name, j) => (values[name] = row[j]));
    const key = spec.id ? get(row, spec.id) : i;
    const name = get(row, spec.name);
    return {
      index: i,
      key: String(key),
      code: spec.id ? String(key) : "", // a row number is no code to show
      name: name === null || name === "" ? String(key) : String(name),
      pinyin: get(row, spec.pinyin) || "",
      town: get(row, spec.town) || "",
      lagging: (get(row, spec.lagging) || "").split(",").filter(Boolean),
      values,
      point: data.points[i],
      bbox: data.bboxes[i],
    };
  });
  const byKey = new Map(records.map((r) => [r.key, r]));
  const ranks = {};

  const lowerBetter = new Set(spec.lowerBetter || []);
  /**
   * Villages ordered by `field`, best first: highest, or lowest where the spec says lower is
   * better (a distance to the clinic); those without a value last.
   */
  function ranked(field) {
    if (!ranks[field]) {
      const withValue = records.filter((r) => typeof r.values[field] === "number");
      const sign = lowerBetter.has(field) ? -1 : 1;
      withValue.sort((a, b) => sign * (b.values[field] - a.values[field]) || a.name.localeCompare(b.name));
      const rank = new Map();
      withValue.forEach((r, i) => {
        // ties share the better rank
        const prev = withValue[i - 1];
        rank.set(r.key, prev && prev.values[field] === r.values[field] ? rank.get(prev.key) : i + 1);
      });
      const rest = records.filter((r) => typeof r.values[field] !== "number");
      ranks[field] = { order: withValue.concat(rest), rank, n: withValue.length };
    }
    return ranks[field];
  }

  const folded = (text) => String(text).toLowerCase().replace(/[\s'-]/g, "");
  /** Whether a village matches a search: name, pinyin (with or without spaces) or code. */
  function matches(record, query) {
    const q = folded(query);
    if (!q) return true;
    return [record.name, record.pinyin, record.code].some((text) => folded(text).includes(q));
  }

  return {
    records,
    get: (key) => byKey.get(String(key)) || null,
    ranked,
    rankOf: (field, key) => ranked(field).rank.get(String(key)) || null,
    matches,
    values: (field) => records.map((r) => r.values[field]),
  };
}

/**
 * The indicators the dashboard shows, grouped: "scores" (the composite and one per domain),
 * then one group per domain (its columns by prefix), then "other" numeric fields.
 */
export function indicatorGroups(spec) {
  const numeric = spec.numeric || [];
  const used = new Set();
  const groups = [];
  const scores = ["score_total", ...spec.domains.map((d) => "score_" + d)].filter((f) => numeric.includes(f));
  scores.forEach((f) => used.add(f));
  if (scores.length) groups.push({ key: "scores", fields: scores });
  spec.domains.forEach((domain) => {
    const prefix = spec.prefixes[domain] + "_";
    const fields = numeric.filter((f) => f.startsWith(prefix) && !used.has(f));
    fields.forEach((f) => used.add(f));
    if (fields.length) groups.push({ key: domain, fields });
  });
  const rest = numeric.filter((f) => !used.has(f));
  if (rest.length) groups.push({ key: "other", fields: rest });
  return groups;
}

/** The domain a field belongs to (by its prefix or its score column), or null. */
export function domainOf(spec, field) {
  for (const domain of spec.domains) {
    if (field === "score_" + domain || field.startsWith(spec.prefixes[domain] + "_")) return domain;
  }
  return null;
}
