// The monthly allowance run's progress, live: the /care namespace sends the latest runs on every
// (re)connect, then each batch's progress as it commits.
import { connect } from "./common.js";

const STATUS = { queued: "排队中", running: "进行中", done: "已完成", failed: "失败" };
const box = document.getElementById("runs");

// A run of the month on screen that finishes while the page is open brings the list up to date.
const unfinished = new Set();

function render(run) {
  let row = box.querySelector(`[data-run="${run.id}"]`);
  if (run.status === "queued" || run.status === "running") unfinished.add(run.id);
  else if (unfinished.delete(run.id) && run.month === box.dataset.month) {
    window.location.replace(window.location.href);
  }
  if (!row) {
    row = document.createElement("p");
    row.dataset.run = run.id;
    const bar = document.createElement("progress");
    bar.className = "progress";
    row.append(document.createTextNode(""), document.createElement("span"), bar, document.createElement("span"));
    row.children[0].className = "run-status";
    row.children[2].className = "run-counts";
    box.prepend(row);
  }
  row.dataset.status = run.status;
  row.firstChild.textContent = `批处理 ${run.id} · ${run.month} · `;
  row.querySelector(".run-status").textContent = STATUS[run.status] || run.status;
  const bar = row.querySelector("progress");
  bar.max = run.total || 1;
  bar.value = run.done;
  row.querySelector(".run-counts").textContent =
    `${run.done} / ${run.total}, 开立 ${run.opened}, 扣减工单 ${run.charged}, 退回 ${run.released}` +
    (run.error ? ` (${run.error})` : "");
}

for (const row of box.querySelectorAll("[data-run]")) {
  if (row.dataset.status === "queued" || row.dataset.status === "running") unfinished.add(Number(row.dataset.run));
  const status = row.querySelector(".run-status");
  status.textContent = STATUS[status.textContent] || status.textContent;
}

connect("/care", {
  onSnapshot: (snap) => (snap.runs || []).slice().reverse().forEach(render),
  on: { allowance_run: (env) => render({ id: env.data.run_id, ...env.data }) },
});
