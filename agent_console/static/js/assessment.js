// The GB/T 42195-2022 form: totals add up as items are chosen; the grade (with the standard's
// adjustments) comes from the server's scoring once every item has a score; saving records it.
import { api, showError, t, toast } from "./common.js";

const $ = (id) => document.getElementById(id);
const form = $("assess-form");
const standard = JSON.parse($("assess-standard").textContent);
const items = [...form.querySelectorAll("fieldset.assess-item")];
let scoring = null;
let asked = 0;

function chosen() {
  const out = {};
  for (const f of items) {
    const checked = f.querySelector("input:checked");
    if (checked) out[f.dataset.item] = Number(checked.value);
  }
  return out;
}

function facts() {
  return {
    coma: form.coma.checked,
    diagnoses: form.diagnoses.value.trim(),
    risk_events: Number(form.risk_events.value || 0),
  };
}

function showGrade(result) {
  $("assess-preliminary").textContent = result ? result.preliminary_grade.label : "—";
  $("assess-final").textContent = result ? result.final_grade.label : "—";
  $("assess-adjustments").textContent = result
    ? result.adjustments.map((a) => a.reason.split(" / ")[0]).join("; ")
    : "";
}

function update() {
  const scores = chosen();
  let total = 0;
  for (const d of standard.dimensions) {
    const sum = d.items.reduce((acc, i) => acc + (scores[i.code] ?? 0), 0);
    form.querySelector(`strong[data-dimension="${d.code}"]`).textContent = String(sum);
    total += sum;
  }
  for (const f of items) f.classList.toggle("missing", !(f.dataset.item in scores));
  $("assess-total").textContent = String(total);
  const missing = items.length - Object.keys(scores).length;
  $("assess-missing").textContent = missing ? t("assess.missing", { n: missing }) : "";
  clearTimeout(scoring);
  if (missing) { showGrade(null); return; }
  // the grade and its adjustments are the standard's rules: the server applies them
  scoring = setTimeout(async () => {
    const mine = ++asked;
    try {
      const result = await api("POST", "/api/assessments/score", { items: scores, ...facts() });
      if (mine === asked) showGrade(result);
    } catch (err) {
      if (mine === asked) { showGrade(null); showError(err); }
    }
  }, 150);
}

form.addEventListener("change", update);
form.diagnoses.addEventListener("input", update);
form.risk_events.addEventListener("input", update);
form.reason.addEventListener("change", () => { $("disputed-field").hidden = form.reason.value !== "dispute"; });

// Keying in a paper form: on an item, the digit of a score chooses it and moves to the next item.
form.addEventListener("keydown", (e) => {
  const field = e.target.closest && e.target.closest("fieldset.assess-item");
  if (!field || !/^[0-9]$/.test(e.key)) return;
  const option = field.querySelector(`input[value="${e.key}"]`);
  if (!option) return;
  e.preventDefault();
  option.checked = true;
  update();
  const next = items[items.indexOf(field) + 1];
  const target = next ? (next.querySelector("input:checked") || next.querySelector("input")) : form.coma;
  target.focus();
});

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = {
    items: chosen(),
    ...facts(),
    assessed_on: form.assessed_on.value,
    reason: form.reason.value,
    assessors: [form.assessor_1.value.trim(), form.assessor_2.value.trim()],
    agency: form.agency.value.trim(),
  };
  if (form.reason.value === "dispute" && form.disputed_assessment_id.value) {
    body.disputed_assessment_id = Number(form.disputed_assessment_id.value);
  }
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  try {
    const res = await api("POST", `/api/elders/${form.dataset.elder}/assessments`, body);
    toast(t("assess.saved", { grade: res.assessment.grade_label }));
    $("assess-final").textContent = res.assessment.grade_label;
    const pdf = $("assess-pdf");
    pdf.href = res.assessment.report_url;
    pdf.hidden = false;
    pdf.focus();
  } catch (err) {
    submit.disabled = false;
    showError(err);
    const first = items.find((f) => f.classList.contains("missing"));
    if (first) first.querySelector("input").focus();
  }
});

update();
