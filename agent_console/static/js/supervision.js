// 监管大数据: every figure for one region and period, drilling region -> 盟市 -> 旗县区 on the
// tile map or the tables, each exportable to Excel. Numbers come from the warehouse (ClickHouse).
import { api, el, hotlineDate, pct, showError, t } from "./common.js";
import { drawTiles, levelOf } from "./region_tiles.js";

const form = document.getElementById("sv-form");
const params = new URLSearchParams(window.location.search);
const today = hotlineDate();
form.start.value = params.get("start") || today;
form.end.value = params.get("end") || today;
form.grain.value = params.get("grain") || "day";
let region = params.get("region") || "";
const charts = {};

// what each figure charts over time and lists per region
const FIGURES = {
  calls: { series: ["offered", "answered"], rate: "answer_rate", cols: ["offered", "answered", "abandoned", "answer_rate", "service_level", "abandon_rate", "asa_s"] },
  alarms: { series: ["raised", "counted"], rate: "share_60", cols: ["raised", "counted", "waiting", "share_60", "share_180"] },
  orders: { series: ["opened", "completed"], rate: "breach_rate", cols: ["opened", "completed", "cancelled", "breached", "breach_rate", "complaints"] },
  subsidies: { series: ["subsidy"], cols: ["orders", "subsidy", "self_pay"] },
  providers: { cols: ["name", "grade", "orders", "quality", "complaints", "complaint_rate", "on_time_rate"] },
  coverage: { cols: ["elders", "assessed_rate", "with_device_rate", "served_rate", "care_bed_rate"] },
  devices: { series: ["devices_beating"], cols: ["devices_beating", "heartbeats"] },
};
const RATE = (c) => c.endsWith("_rate") || c.startsWith("share_") || c === "service_level";

function fmt(col, v) {
  if (v === null || v === undefined) return "—";
  if (RATE(col)) return pct(v);
  if (typeof v === "number" && !Number.isInteger(v)) return v.toFixed(col === "subsidy" || col === "self_pay" ? 2 : 1);
  return String(v);
}

function query(extra = {}) {
  const q = new URLSearchParams({ start: form.start.value, end: form.end.value, grain: form.grain.value, ...extra });
  if (region) q.set("region", region);
  return q;
}

function drill(code) {
  region = code;
  load();
}

function renderCrumbs(info) {
  const crumbs = document.getElementById("crumbs");
  crumbs.replaceChildren(...info.path.map((p, i) => {
    const last = i === info.path.length - 1;
    return last ? el("span", { "aria-current": "page" }, p.name)
      : el("a", { href: "#", "data-code": p.code, onclick: (e) => { e.preventDefault(); drill(p.code); } }, p.name);
  }).flatMap((node, i) => (i ? [" › ", node] : [node])));
}

function renderMap(calls) {
  const byCode = Object.fromEntries((calls.regions || []).map((r) => [r.key, r]));
  const targets = calls.targets || { answer_rate: 0.95, answer_rate_amber: 0.9 };
  const children = calls.region.children.length ? calls.region.children : [{ code: calls.region.code, name: calls.region.name }];
  drawTiles(document.getElementById("tilemap"), children.map((c) => {
    const r = byCode[c.code];
    const rate = r ? r.answer_rate : null;
    return { code: c.code, name: c.name, label: r ? `${pct(rate)} · ${r.offered}` : "—", level: levelOf(rate, targets.answer_rate, targets.answer_rate_amber), drills: calls.region.drills };
  }), { onPick: calls.region.drills ? drill : null, leagues: calls.region.level === 1 });
}

function renderFigure(name, data) {
  const spec = FIGURES[name];
  const section = document.getElementById(`fig-${name}`);
  section.querySelector(".export").href = `/supervision/export.xlsx?${query({ figure: name })}`;
  if (name === "subsidies") renderBudgets(section, data);
  const rows = name === "providers" ? data.ranking : data.regions || [];
  const keyHead = name === "providers" ? t("sv.col.rank") : t("sv.col.region");
  const table = section.querySelector("table.regions");
  table.tHead.replaceChildren(el("tr", {}, el("th", {}, keyHead), spec.cols.map((c) => el("th", {}, t(`sv.col.${c}`)))));
  const body = rows.map((r, i) => el("tr", { "data-key": r.key },
    el("th", { scope: "row" }, name === "providers" ? String(i + 1)
      : data.region.drills ? el("a", { href: "#", "data-code": r.key, onclick: (e) => { e.preventDefault(); drill(r.key); } }, r.name) : r.name),
    spec.cols.map((c) => el("td", {}, fmt(c, r[c])))));
  const total = (data.total || [])[0];
  if (total && name !== "providers") body.push(el("tr", { class: "total" }, el("th", { scope: "row" }, t("sv.col.total")), spec.cols.map((c) => el("td", {}, fmt(c, total[c])))));
  table.tBodies[0].replaceChildren(...body);
  drawChart(name, section.querySelector(".chart"), data, spec);
}

// Each care programme's budget of the year against what it spent and committed, per 盟市.
function renderBudgets(section, data) {
  const box = section.querySelector(".budgets");
  const lines = data.budgets || [];
  const year = lines.length ? lines[0].year : "";
  const cols = ["programme_name", "budget", "spent", "committed", "used_share"];
  box.replaceChildren(el("h3", {}, t("sv.budgets", { year })),
    lines.some((l) => l.budget !== null) ? "" : el("p", { class: "hint" }, t("sv.budgets.none")),
    el("table", { "data-testid": "budget-lines" },
      el("thead", {}, el("tr", {}, el("th", {}, t("sv.col.region")), cols.map((c) => el("th", {}, t(`sv.col.${c}`))))),
      el("tbody", {}, lines.map((l) => el("tr", { class: l.warning ? "level-red" : "" }, el("th", { scope: "row" }, l.name),
        cols.map((c) => el("td", {}, c === "used_share" ? pct(l[c]) : fmt(c === "programme_name" ? "name" : "subsidy", l[c]))))))));
}

function drawChart(name, box, data, spec) {
  if (!window.echarts) return;
  const chart = charts[name] || (charts[name] = window.echarts.init(box, null, { renderer: "canvas" }));
  let option;
  if (spec.series && data.series) {
    const keys = data.series.map((r) => r.key);
    option = {
      tooltip: { trigger: "axis" }, legend: { data: spec.series.map((s) => t(`sv.col.${s}`)) },
      xAxis: { type: "category", data: keys }, yAxis: [{ type: "value" }, { type: "value", max: 1, show: Boolean(spec.rate) }],
      series: [
        ...spec.series.map((s) => ({ name: t(`sv.col.${s}`), type: "bar", data: data.series.map((r) => r[s]) })),
        ...(spec.rate ? [{ name: t(`sv.col.${spec.rate}`), type: "line", yAxisIndex: 1, data: data.series.map((r) => r[spec.rate]) }] : []),
      ],
    };
  } else {
    const rows = name === "providers" ? data.ranking.slice(0, 10) : data.regions || [];
    const col = name === "providers" ? "quality" : "served_rate";
    option = {
      tooltip: {}, xAxis: { type: "category", data: rows.map((r) => r.name) }, yAxis: { type: "value" },
      series: [{ name: t(`sv.col.${col}`), type: "bar", data: rows.map((r) => r[col]) }],
    };
  }
  chart.setOption(option, true);
}

async function load(e) {
  if (e) e.preventDefault();
  const q = query();
  window.history.replaceState(null, "", `?${q}`);
  try {
    const results = await Promise.all(Object.keys(FIGURES).map((name) => api("GET", `/api/supervision/figures/${name}?${q}`)));
    const byName = Object.fromEntries(Object.keys(FIGURES).map((n, i) => [n, results[i]]));
    region = byName.calls.region.code;
    renderCrumbs(byName.calls.region);
    renderMap(byName.calls);
    for (const [name, data] of Object.entries(byName)) renderFigure(name, data);
    const lag = byName.calls.warehouse.lag_s;
    document.getElementById("lag").textContent = lag === null ? t("sv.lag.never") : t("sv.lag.seconds", { s: Math.round(lag) });
  } catch (err) { showError(err); }
}

form.addEventListener("submit", load);
load();
