// The provider's inbox: one tab per stage, most urgent first. Live: each step of one of the
// provider's orders (taken on a staff phone, by the hotline or by dispatch) reloads the tab shown;
// a (re)connect brings the counts and reads the tab again.
import { connect, el, showError } from "/static/js/common.js";
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

function showCounts(counts) {
  for (const [code, n] of Object.entries(counts || {})) {
    const badge = document.querySelector(`[data-count="${code}"]`);
    if (badge) badge.textContent = n;
  }
}

async function load() {
  try {
    const data = await api("GET", `/api/provider/orders?view=${view}`);
    list.replaceChildren(...data.orders.map(card));
    empty.hidden = data.orders.length > 0;
    showCounts(data.counts);
  } catch (err) { showError(err); }
}

// A burst of steps (dispatch, accept, assign) reads the list once.
let pending = null;
function soon() { if (!pending) pending = setTimeout(() => { pending = null; load(); }, 300); }

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    view = tab.dataset.view;
    for (const t of document.querySelectorAll(".tab")) t.setAttribute("aria-selected", String(t === tab));
    load();
  });
}
document.getElementById("refresh").addEventListener("click", load);
// read at once (a phone whose socket cannot connect still works), and again on every (re)connect
load();
connect("/provider", {
  onSnapshot: (snap) => { if (snap && !snap.error) showCounts(snap.counts); load(); },
  on: { order_changed: soon },
});
