// A cascading region picker: 盟市 -> 旗县区 -> 苏木乡镇 -> 嘎查村 from the region dictionary,
// within the user's region (a level above it offers only the way down, and is fixed). The
// deepest chosen region goes into the form's hidden input.
import { api, el, t } from "./common.js";

const LEVELS = [2, 3, 4, 5];

export function regionPicker(root, hidden) {
  const selects = new Map(LEVELS.map((level) => [level, root.querySelector(`select[data-level="${level}"]`)]));
  let loading = Promise.resolve();

  function deepest() {
    for (const level of [...LEVELS].reverse()) {
      const value = selects.get(level).value;
      if (value) return { level, code: value };
    }
    return null;
  }

  function update() {
    const chosen = deepest();
    hidden.value = chosen && chosen.level >= 3 ? chosen.code : "";
  }

  function clearBelow(level) {
    for (const l of LEVELS.filter((x) => x > level)) {
      const select = selects.get(l);
      select.replaceChildren(el("option", { value: "" }, t(`region.choose.${l}`)));
      select.disabled = true;
    }
  }

  async function load(level, parent) {
    const select = selects.get(level);
    if (!select) return;
    const data = await api("GET", `/api/regions/picker${parent ? `?parent=${parent}` : ""}`);
    select.replaceChildren(el("option", { value: "" }, t(data.options.length ? `region.choose.${level}` : "region.none_below")),
      ...data.options.map((o) => el("option", { value: o.code }, o.name)));
    select.disabled = !data.options.length || (data.fixed && data.options.length === 1);
    if (data.fixed && data.options.length === 1) {
      select.value = data.options[0].code;
      await load(level + 1, select.value);
    }
    update();
  }

  for (const level of LEVELS) {
    selects.get(level).addEventListener("change", () => {
      clearBelow(level);
      const value = selects.get(level).value;
      loading = value ? load(level + 1, value) : Promise.resolve();
      update();
    });
  }

  return {
    reset() { clearBelow(1); loading = load(2, null); return loading; },
    // preset the path [league, county, ...] (from an ID number's area code); the agent may change it
    async preset(path) {
      await loading;
      for (const [i, code] of path.entries()) {
        const level = LEVELS[i];
        const select = selects.get(level);
        if (![...select.options].some((o) => o.value === code)) break;
        if (select.value !== code) {
          select.value = code;
          clearBelow(level);
          await load(level + 1, code);
        }
      }
      update();
    },
    deepestLevel() { const d = deepest(); return d ? d.level : 0; },
  };
}
