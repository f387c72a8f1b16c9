// Quick registration of an unknown caller from the screen pop: the region picked from the
// dictionary, birth date, age, sex and the county read from the ID number as it is typed.
import { api, showError, t } from "./common.js";
import { regionPicker } from "./region_picker.js";

const $ = (id) => document.getElementById(id);
const form = $("register-form");
const picker = regionPicker($("register-region"), form.elements.region_code);
let idSeq = 0;

function clearIdFacts() {
  $("register-birth").textContent = "—";
  $("register-sex").textContent = "—";
  $("register-id-note").textContent = "";
}

async function readIdNumber() {
  const value = form.elements.id_number.value.trim();
  const seq = ++idSeq;
  if (![15, 18].includes(value.length)) { clearIdFacts(); return; }
  try {
    const facts = await api("POST", "/api/elders/id-number", { id_number: value });
    if (seq !== idSeq) return;
    $("register-birth").textContent = t("register.birth_age", { date: facts.birth_date, age: facts.age });
    $("register-sex").textContent = t(`sex.${facts.sex}`);
    $("register-id-note").textContent = facts.warnings.join(" ");
    $("register-id-note").className = facts.warnings.length ? "hint warn" : "hint";
    if (facts.region && picker.deepestLevel() < 3) await picker.preset(facts.region.path);
  } catch (err) {
    if (seq !== idSeq) return;
    clearIdFacts();
    $("register-id-note").textContent = err.message;
    $("register-id-note").className = "hint warn";
  }
}

export function showRegister(number) {
  form.reset();
  clearIdFacts();
  form.elements.phone.value = number || "";
  form.hidden = false;
  picker.reset();
}

export function initRegister(onRegistered) {
  form.elements.id_number.addEventListener("input", readIdNumber);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (picker.deepestLevel() < 3) { showError({ message: t("register.region_needed") }); return; }
    try {
      const res = await api("POST", "/api/elders", Object.fromEntries(new FormData(form)));
      onRegistered(res.elder_id);
    } catch (err) { showError(err); }
  });
}
