// 大屏: today's figures for the bureau's wall, refreshed every few seconds, drilling on the map.
import { api, el, pct, showError, t } from "./common.js";
import { drawTiles, levelOf } from "./region_tiles.js";

const REFRESH_MS = 5000;
let region = new URLSearchParams(window.location.search).get("region") || "";
const charts = {};
const text = (id, value) => { document.getElementById(id).textContent = value; };
const dark = { textStyle: { color: "#fff", fontSize: 18 } };

function chart(id) {
  return charts[id] || (charts[id] = window.echarts.init(document.getElementById(id), null, { renderer: "canvas" }));
}

function drill(code) {
  region = code;
  window.history.replaceState(null, "", `?region=${code}`);
  refresh();
}

function render(data) {
  const calls = data.calls.total[0] || {};
  const alarms = data.alarms.total[0] || {};
  const orders = data.orders.total[0] || {};
  const subsidy = data.subsidies.total[0] || {};
  const cover = data.coverage.total[0] || {};
  text("k-offered", String(calls.offered ?? 0));
  text("k-answer-rate", pct(calls.answer_rate));
  text("k-service-level", pct(calls.service_level));
  text("k-alarms", String(alarms.counted ?? 0));
  text("k-within60", pct(alarms.share_60));
  text("k-within180", pct(alarms.share_180));
  text("k-orders", String(orders.opened ?? 0));
  text("k-breached", String(orders.breached ?? 0));
  text("k-subsidy", `¥${Math.round(subsidy.subsidy ?? 0).toLocaleString("zh-CN")}`);
  text("k-elders", String(cover.elders ?? 0));
  const info = data.calls.region;
  const crumbs = document.getElementById("crumbs");
  crumbs.replaceChildren(...info.path.map((p, i) => (i === info.path.length - 1 ? el("span", {}, p.name)
    : el("a", { href: "#", onclick: (e) => { e.preventDefault(); drill(p.code); } }, p.name))).flatMap((n, i) => (i ? [" › ", n] : [n])));
  const byCode = Object.fromEntries((data.calls.regions || []).map((r) => [r.key, r]));
  const targets = data.calls.targets;
  const children = info.children.length ? info.children : [{ code: info.code, name: info.name }];
  drawTiles(document.getElementById("tilemap"), children.map((c) => {
    const r = byCode[c.code];
    return { code: c.code, name: c.name, label: r ? `${pct(r.answer_rate)} · ${r.offered}` : "—", level: levelOf(r ? r.answer_rate : null, targets.answer_rate, targets.answer_rate_amber) };
  }), { onPick: info.drills ? drill : null, leagues: info.level === 1 });
  const lag = data.calls.warehouse.lag_s;
  text("lag", lag === null ? t("sv.lag.never") : t("sv.lag.seconds", { s: Math.round(lag) }));
  if (!window.echarts) return;
  const hours = data.calls.series;
  chart("chart-calls").setOption({
    ...dark, tooltip: { trigger: "axis" }, legend: { textStyle: dark.textStyle },
    xAxis: { type: "category", data: hours.map((r) => r.key.slice(11)), axisLabel: { color: "#fff", fontSize: 16 } },
    yAxis: { type: "value", axisLabel: { color: "#fff", fontSize: 16 } },
    series: [{ name: t("sv.col.offered"), type: "bar", data: hours.map((r) => r.offered) },
      { name: t("sv.col.answered"), type: "bar", data: hours.map((r) => r.answered) }],
  }, true);
  const programmes = data.orders.by_programme || [];
  chart("chart-orders").setOption({
    ...dark, tooltip: {},
    series: [{ type: "pie", radius: ["35%", "70%"], label: { color: "#fff", fontSize: 18 },
      data: programmes.map((p) => ({ name: p.name, value: p.opened })) }],
  }, true);
}

async function refresh() {
  try {
    render(await api("GET", `/api/supervision/screen${region ? `?region=${region}` : ""}`));
  } catch (err) { showError(err); }
}

function tick() {
  document.getElementById("clock").textContent = new Intl.DateTimeFormat("zh-CN", {
    timeZone: JSON.parse(document.getElementById("page-config").textContent).timezone,
    dateStyle: "medium", timeStyle: "medium",
  }).format(new Date());
}

document.getElementById("fullscreen").addEventListener("click", () => document.documentElement.requestFullscreen?.());
window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
tick();
setInterval(tick, 1000);
refresh();
setInterval(refresh, REFRESH_MS);
