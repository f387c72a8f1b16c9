// The provider's inbox: one tab per stage, most urgent first, refreshed every 30 seconds.
import { el, showError } from "/static/js/common.js";
import { api, pt, when } from "/static/js/provider_common.js";

// the first tab of this login (a practitioner has no "new" tab: their provider takes orders)
let view = document.querySelector(".tab")?.dataset.view || "new";
const list = document.getElementById("orders");
const empty = document.getElementById("empty");

function card(o) {
  const due = view === "new" ? `${pt("due.accept")} ${when(o.accept_by || o.response_due_at)}`
    : o.arrival_due_at ? `${pt("due.arrival")} ${when(o.arrival_due_at)}` : "";
  return el("li", {}, el("a", { href: `/provider/orders/${o.id}`, "data-testid": `order-${o.order_no}` },
    el("div", { class: "line1" }, el("span", {}, o.service), o.urgency !== "normal" ? el("span", { class: "urgent" }, o.urgency_label) : ""),
    el("div", {}, `${o.elder_name} · ${o.address}`),
    el("div", { class: "hint" }, `${o.order_no} · ${o.status_label}`),
    due ? el("div", { class: "due" }, due) : "",
    o.requested_at ? el("div", {}, `${pt("requested")} ${when(o.requested_at)}`) : ""));
}

async function load() {
  try {
    const data = await api("GET", `/api/provider/orders?view=${view}`);
    list.replaceChildren(...data.orders.map(card));
    empty.hidden = data.orders.length > 0;
    for (const [code, n] of Object.entries(data.counts)) {
      const badge = document.querySelector(`[data-count="${code}"]`);
      if (badge) badge.textContent = n;
    }
  } catch (err) { showError(err); }
}

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    view = tab.dataset.view;
    for (const t of document.querySelectorAll(".tab")) t.setAttribute("aria-selected", String(t === tab));
    load();
  });
}
document.getElementById("refresh").addEventListener("click", load);
load();
setInterval(load, 30000);
