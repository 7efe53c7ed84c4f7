// Every string the viewer shows, in both languages, and the helpers that pick and format them.
// Catalog text (titles, names, figure labels) is data, not here; field labels and units come
// from the config (`labels`, `units`), with the raw field name as the fallback.

export const STRINGS = {
  en: {
    figures: "Key figures",
    layers: "Layers",
    indicator: "Colour villages by",
    composite: "Composite score",
    business: "Business",
    services: "Services",
    supervision: "Supervision",
    governance: "Governance",
    infrastructure: "Infrastructure",
    scores: "Scores",
    other: "Other indicators",
    overview: "Overview",
    villages: "Villages",
    ranking: "Ranking",
    search: "Search name, pinyin or code",
    noMatch: "No village matches",
    rank: "Rank",
    rankOf: "{rank} of {n}",
    rankHint: "county rank: 1 is the best value, the highest, or the lowest where less is better",
    value: "Value",
    code: "Code",
    town: "Township",
    lagging: "Lagging in",
    laggingNone: "No lagging domain",
    laggingOutline: "Red outline: lagging in {domain}",
    laggingOutlineTotal: "Red outline: composite score below {score}",
    laggingCount: "{n} villages",
    compareWith: "Compare with…",
    compareNone: "(none)",
    close: "Close",
    collapse: "Hide panel",
    expand: "Show panel",
    savePng: "Save PNG",
    noData: "no data",
    fillOff: "Village fills are off while a raster layer is shown (outlines stay).",
    villagesError: "Village data could not be loaded: {error}",
    mapError: "The map could not load: {error}",
    heat: "density",
    view3d: "3D",
    view2d: "2D",
    view3dHint: "Show in 3D: terrain and buildings",
    view2dHint: "Back to the flat map",
    period: "Period",
    periodsError: "Indicators over time could not be loaded: {error}",
    changedMost: "Changed most",
    changedSince: "{indicator}, change since {period}",
    drops: "Largest drops",
    gains: "Largest gains",
    noChange: "none",
    noEarlierPeriod: "No earlier period to compare with.",
    trend: "Scores {from} – {to}",
    version: "Version",
    versionCurrent: "Current ({date})",
    asOf: "Map as of",
    notYetPublished: "Not yet published then (shown as now): {layers}",
  },
  zh: {
    figures: "关键指标",
    layers: "图层",
    indicator: "村庄着色指标",
    composite: "综合得分",
    business: "经营",
    services: "服务",
    supervision: "监管",
    governance: "治理",
    infrastructure: "基础设施",
    scores: "得分",
    other: "其他指标",
    overview: "概览",
    villages: "村庄",
    ranking: "排名",
    search: "搜索村名、拼音或代码",
    noMatch: "没有匹配的村庄",
    rank: "排名",
    rankOf: "第 {rank} / {n}",
    rankHint: "全县排名：第 1 为最好，数值最高；越低越好的指标（如距离）为最低",
    value: "数值",
    code: "代码",
    town: "乡镇",
    lagging: "短板领域",
    laggingNone: "无短板领域",
    laggingOutline: "红色边框：{domain}领域落后",
    laggingOutlineTotal: "红色边框：综合得分低于 {score}",
    laggingCount: "{n} 个村",
    compareWith: "对比村庄…",
    compareNone: "（无）",
    close: "关闭",
    collapse: "收起面板",
    expand: "展开面板",
    savePng: "保存图片",
    noData: "无数据",
    fillOff: "显示栅格图层时，村庄只显示边界。",
    villagesError: "无法加载村庄数据：{error}",
    mapError: "地图无法加载：{error}",
    heat: "密度",
    view3d: "三维",
    view2d: "二维",
    view3dHint: "三维显示：地形和建筑",
    view2dHint: "返回二维地图",
    period: "统计期",
    periodsError: "无法加载历史指标：{error}",
    changedMost: "变化最大",
    changedSince: "{indicator}：较 {period} 的变化",
    drops: "降幅最大",
    gains: "增幅最大",
    noChange: "无",
    noEarlierPeriod: "没有可比较的上一期。",
    trend: "得分走势 {from} – {to}",
    version: "版本",
    versionCurrent: "当前版本（{date}）",
    asOf: "地图日期",
    notYetPublished: "当时尚未发布（显示当前版本）：{layers}",
  },
};

// Units as the builders write them (English) -> how a Chinese page shows them.
const UNITS_ZH = {
  people: "人",
  households: "户",
  count: "个",
  "10k CNY": "万元",
  m: "米",
  km: "公里",
  "km²": "平方公里",
  "km/km²": "公里/平方公里",
  "per 1000 people": "每千人",
};
// A share stored as 0-1 is shown as a percentage.
export const SHARE_UNIT = "share 0-1";

/** The page's language: `?lang=`, else the config's, else `<html lang>`; "zh" or "en". */
export function pickLang(config) {
  const query = new URLSearchParams(window.location.search).get("lang");
  const raw = query || config.lang || document.documentElement.lang || "en";
  return raw.toLowerCase().startsWith("zh") ? "zh" : "en";
}

/** A translator for `lang`: t(key, {name: value}) with `{name}` placeholders. */
export function translator(lang) {
  const table = STRINGS[lang] || STRINGS.en;
  return function t(key, vars) {
    let text = key in table ? table[key] : STRINGS.en[key] || key;
    if (vars) {
      Object.keys(vars).forEach((name) => {
        text = text.split("{" + name + "}").join(String(vars[name]));
      });
    }
    return text;
  };
}

/**
 * Field labels, units and number formats in one language, for the fields of `layer` (the
 * default of every call). The config names fields per layer (`labels[layer][field]`: a
 * string in the page's language or {zh, en}; `units[layer][field]`; `scales[layer][field]`,
 * the factor to read a value in its unit) or, flat, per field (`labels[field] = {zh, en}`,
 * `units[field]`). A field it does not name shows its own name.
 */
export function fieldText(config, lang, layer) {
  const labels = config.labels || {};
  const units = config.units || {};
  const scales = config.scales || {};
  const locale = lang === "zh" ? "zh-CN" : "en";
  const inLang = (v) => (typeof v === "string" ? v : v && typeof v === "object" ? v[lang] || v.en || v.zh : undefined);
  const isText = (v) => typeof v === "string" || (v && typeof v === "object" && ("zh" in v || "en" in v));
  const ofLayer = (table, name, field) => {
    const inner = table[name || layer];
    return inner && typeof inner === "object" ? inner[field] : undefined;
  };
  function rawUnit(field, name) {
    const unit = ofLayer(units, name, field);
    if (typeof unit === "string") return unit;
    return typeof units[field] === "string" ? units[field] : "";
  }
  function scale(field, name) {
    const factor = ofLayer(scales, name, field);
    if (typeof factor === "number") return factor;
    return rawUnit(field, name) === SHARE_UNIT ? 100 : 1;
  }
  function unitOf(field, name) {
    const unit = rawUnit(field, name);
    if (unit === SHARE_UNIT) return "%";
    return lang === "zh" && UNITS_ZH[unit] ? UNITS_ZH[unit] : unit;
  }
  function number(value, digits) {
    return value.toLocaleString(locale, { maximumFractionDigits: digits === undefined ? 2 : digits });
  }
  return {
    /** Whether the config names `field` (else callers may know a better name). */
    has(field, name) {
      return isText(ofLayer(labels, name, field)) || isText(labels[field]);
    },
    label(field, name) {
      const own = ofLayer(labels, name, field);
      return (isText(own) && inLang(own)) || (isText(labels[field]) && inLang(labels[field])) || field;
    },
    unit: unitOf,
    number,
    /** A field's number as shown, without its unit (shares as percentages). */
    plain(field, value, name) {
      const shown = value * scale(field, name);
      return number(shown, Math.abs(shown) >= 100 ? 0 : 2);
    },
    /** A field's value with its unit ("—" where missing); shares as percentages. */
    value(field, value, name) {
      if (value === null || value === undefined || value === "") return "—";
      if (typeof value !== "number") return String(value);
      const unit = unitOf(field, name);
      return this.plain(field, value, name) + (unit ? " " + unit : "");
    },
    /** A catalog value that may carry both languages ({zh, en}) or be one string. */
    pick(text, both) {
      return (both && (both[lang] || both.en)) || text;
    },
    locale,
  };
}
