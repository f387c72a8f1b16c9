// A care-call campaign, live: on every (re)connect the page asks for the campaign as it stands
// (its counts and the rows it shows), then each attempt, outcome and escalation arrives as an
// event and the page reads the campaign again.
import { connect } from "./common.js";

const box = document.getElementById("campaign");
const campaignId = Number(box.dataset.campaign);
const shown = () => [...document.querySelectorAll("[data-call]")].map((row) => Number(row.dataset.call));
let socket = null;
let pending = null;

function apply(state) {
  document.querySelector("[data-testid=campaign-status]").textContent = state.status_label;
  for (const [status, n] of Object.entries(state.summary)) {
    const cell = document.querySelector(`[data-count="${status}"]`);
    if (cell) cell.textContent = n;
  }
  for (const row of state.rows) {
    const tr = document.querySelector(`[data-call="${row.care_call_id}"]`);
    if (!tr) continue;
    for (const field of ["status_label", "attempts", "last_result", "notice", "visit_order"]) {
      const cell = tr.querySelector(`[data-field="${field}"]`);
      if (cell) cell.textContent = row[field];
    }
  }
}

function follow() {
  socket.emit("follow_campaign", { campaign_id: campaignId, care_call_ids: shown() }, (ack) => {
    if (ack && ack.ok) apply(ack);
  });
}

// a burst of events (a campaign's attempts finishing together) is read back once
function soon() {
  clearTimeout(pending);
  pending = setTimeout(follow, 150);
}

socket = connect("/care", { onSnapshot: follow, on: { campaign_event: soon } });
socket.on("connect", follow);
