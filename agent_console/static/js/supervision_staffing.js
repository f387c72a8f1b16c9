// 排班预测: the week ahead, half hour by half hour: forecast calls, the agents needed by Erlang C
// and Erlang A to hold 接通率 and the service level, against those logged in a week earlier.
import { api, el, pct, showError, t } from "./common.js";

const fmtTime = new Intl.DateTimeFormat("zh-CN", {
  timeZone: JSON.parse(document.getElementById("page-config").textContent).timezone,
  month: "2-digit", day: "2-digit", weekday: "short", hour: "2-digit", minute: "2-digit",
});

async function load() {
  try {
    // the user's region, or a 盟市 / 旗县区 within it named in the page's address
    const q = new URLSearchParams({ days: "7" });
    const region = new URLSearchParams(window.location.search).get("region");
    if (region) q.set("region", region);
    const plan = await api("GET", `/api/supervision/staffing?${q}`);
    document.getElementById("staffing-region").textContent = plan.region_name;
    document.getElementById("staffing-basis").textContent = t("sv.st.basis", {
      weeks: plan.history_weeks,
      patience: plan.patience_s === null ? "—" : Math.round(plan.patience_s),
      abandons: plan.abandons_measured,
      ar: pct(plan.targets.answer_rate), sl: pct(plan.targets.service_level), s: plan.targets.service_level_s,
    });
    const rows = plan.intervals;
    document.querySelector("#staffing-table tbody").replaceChildren(...rows.map((r) => {
      const a = r.erlang_a || {};
      const c = r.erlang_c || {};
      const short = a.agents !== undefined && r.logged_in_week_before < a.agents;
      return el("tr", { class: short ? "level-amber" : "" },
        el("th", { scope: "row" }, fmtTime.format(new Date(r.start))),
        el("td", {}, r.offered.toFixed(1)), el("td", {}, r.aht_s === null ? "—" : String(Math.round(r.aht_s))),
        el("td", {}, c.agents ?? 0), el("td", {}, a.agents ?? 0),
        el("td", {}, a.answer_rate === undefined ? "—" : pct(a.answer_rate)),
        el("td", {}, a.service_level === undefined ? "—" : pct(a.service_level)),
        el("td", {}, r.logged_in_week_before.toFixed(1)));
    }));
    if (!window.echarts) return;
    const chart = window.echarts.init(document.getElementById("staffing-chart"));
    chart.setOption({
      tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { top: 48, bottom: 72 },
      xAxis: { type: "category", data: rows.map((r) => fmtTime.format(new Date(r.start))) },
      yAxis: [{ type: "value", name: t("sv.st.agents") }, { type: "value", name: t("sv.st.offered") }],
      dataZoom: [{ type: "slider", start: 0, end: 30 }],
      series: [
        { name: t("sv.st.erlang_a"), type: "line", step: "end", data: rows.map((r) => r.erlang_a?.agents ?? 0) },
        { name: t("sv.st.erlang_c"), type: "line", step: "end", data: rows.map((r) => r.erlang_c?.agents ?? 0) },
        { name: t("sv.st.logged_in"), type: "line", step: "end", data: rows.map((r) => r.logged_in_week_before) },
        { name: t("sv.st.offered"), type: "bar", yAxisIndex: 1, data: rows.map((r) => r.offered) },
      ],
    });
  } catch (err) { showError(err); }
}

load();
