// One order on the staff member's phone: what to do next, with position, photo and confirmation.
// Live: a step of this order taken elsewhere (a colleague's phone, the hotline, dispatch) shows
// at once; a (re)connect reads the order again.
import { connect, el, showError } from "/static/js/common.js";
import { api, position, pt, toast, uploadPhoto, when } from "/static/js/provider_common.js";

const root = document.getElementById("portal");
const orderId = root.dataset.orderId;
const progress = document.getElementById("progress");
const $ = (id) => document.getElementById(id);

function busy(text) { progress.textContent = text; progress.hidden = !text; }

async function step(name, url, body) {
  try {
    const out = await api("POST", `/api/provider/orders/${orderId}/${url}`, body);
    toast(pt("act.done"));
    return out;
  } catch (err) { showError(err); throw err; } finally { busy(""); await load(); }
}

async function locate() {
  busy(pt("act.locating"));
  try {
    const where = await position();
    busy(pt("act.located", { m: Math.round(where.accuracy) }));
    return where;
  } catch (err) {
    busy("");
    showError(new Error(pt("act.no_location", { error: err.message })));
    throw err;
  }
}

async function photoFrom(input, kind, where) {
  const file = input.files && input.files[0];
  if (!file) return undefined;
  busy(pt("act.uploading"));
  return uploadPhoto(orderId, file, kind, where);
}

function render(o) {
  $("order-no").textContent = o.order_no;
  $("order-status").textContent = o.status_label;
  $("service").textContent = o.service;
  $("urgency").hidden = o.urgency === "normal";
  $("urgency").textContent = o.urgency_label;
  $("elder-name").textContent = o.elder_name;
  $("address").textContent = o.address;
  $("phone").href = o.elder_phone ? `tel:${o.elder_phone}` : "#";
  $("phone").textContent = o.elder_phone ? `${pt("call")} ${o.elder_phone}` : "—";
  $("notes").textContent = o.notes || "—";
  $("due-response").textContent = when(o.accept_by || o.response_due_at);
  $("due-arrival").textContent = when(o.arrival_due_at);
  for (const select of document.querySelectorAll("select.staff")) {
    select.replaceChildren(...o.staff.map((s) => el("option", { value: s.id, selected: s.id === o.staff_id }, s.name)));
  }
  const next = new Set(o.next);
  // complete without coordinates is for a phone that cannot get a fix: check-out comes first
  if (next.has("check_out")) next.delete("complete");
  for (const block of document.querySelectorAll("[data-step]")) block.hidden = !next.has(block.dataset.step);
  $("nothing").hidden = next.size > 0;
  const code = o.confirmation_code;
  $("code-status").textContent = code ? pt("confirm.code_status", { to: code.sent_to || "—", n: code.tries_left }) : "";
  $("history").replaceChildren(...o.history.map((h) =>
    el("li", {}, `${when(h.at)} ${h.label} → ${h.status_label} (${h.by})${h.reason ? `: ${h.reason}` : ""}`)));
  $("photos").replaceChildren(...o.photos.map((p) =>
    el("figure", {}, el("img", { src: `/api/provider/photos/${p.id}`, alt: p.label }), el("figcaption", {}, p.label))));
}

async function load() {
  try { render(await api("GET", `/api/provider/orders/${orderId}`)); } catch (err) { showError(err); }
}

$("btn-accept").addEventListener("click", () => step("accept", "accept", { staff_id: Number($("accept-staff").value) || null }));
$("btn-reject").addEventListener("click", () => step("reject", "reject", { reason: $("reject-reason").value }));
$("btn-assign").addEventListener("click", () => step("assign", "assign-staff", { staff_id: Number($("assign-staff").value) || null }));
$("btn-travel").addEventListener("click", () => step("travel", "start-travel", {}));
$("btn-checkin").addEventListener("click", async () => {
  const where = await locate();
  const photo_id = await photoFrom($("checkin-photo"), "check_in", where);
  await step("check_in", "check-in", { latitude: where.latitude, longitude: where.longitude, photo_id });
});
$("btn-checkout").addEventListener("click", async () => {
  const where = await locate();
  const photo_id = await photoFrom($("checkout-photo"), "check_out", where);
  await step("check_out", "check-out", { latitude: where.latitude, longitude: where.longitude, photo_id, report: $("checkout-report").value });
});
$("btn-confirm-code").addEventListener("click", () => step("confirm", "confirm", { code: $("confirm-code").value.trim() }));
$("btn-resend").addEventListener("click", async () => {
  try { const out = await api("POST", `/api/provider/orders/${orderId}/resend-code`, {}); toast(pt("confirm.resent", { to: out.sent_to })); }
  catch (err) { showError(err); }
  await load();
});

// The elder signs with a finger; the drawing goes up as a PNG photo of kind "signature".
const pad = $("signature");
const ctx = pad.getContext("2d");
let drawing = false, drawn = false;
function at(e) { const r = pad.getBoundingClientRect(); return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height]; }
pad.addEventListener("pointerdown", (e) => { drawing = true; drawn = true; ctx.lineWidth = 4; ctx.lineCap = "round"; ctx.beginPath(); ctx.moveTo(...at(e)); pad.setPointerCapture(e.pointerId); });
pad.addEventListener("pointermove", (e) => { if (drawing) { ctx.lineTo(...at(e)); ctx.stroke(); } });
pad.addEventListener("pointerup", () => { drawing = false; });
$("btn-clear").addEventListener("click", () => { ctx.clearRect(0, 0, pad.width, pad.height); drawn = false; });
$("btn-confirm-sign").addEventListener("click", async () => {
  if (!drawn) { showError(new Error(pt("confirm.signature_empty"))); return; }
  try {
    const blob = await new Promise((resolve) => pad.toBlob(resolve, "image/png"));
    const photo_id = await uploadPhoto(orderId, blob, "signature");
    await step("confirm", "confirm", { photo_id, confirmed_by: $("signer").value });
  } catch (err) { showError(err); }
});

// read at once (a phone whose socket cannot connect still works), and again on every (re)connect
load();
connect("/provider", {
  onSnapshot: load,
  on: { order_changed: (o) => { if (String(o.id) === String(orderId)) load(); } },
});
