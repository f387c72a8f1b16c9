// The wallboard's staffing tile: this half hour's agents needed (Erlang A and C, from the
// forecast) against the agents logged in now; red when fewer are logged in than needed.
import { api, t } from "./common.js";

const REFRESH_MS = 30000;

async function refresh() {
  try {
    const now = await api("GET", "/api/supervision/staffing/now");
    const need = now.erlang_a ? now.erlang_a.agents : 0;
    const needC = now.erlang_c ? now.erlang_c.agents : 0;
    document.getElementById("staffing-logged-in").textContent = t("wall.staffing.logged_in", { n: now.logged_in });
    document.getElementById("staffing-need").textContent = t("wall.staffing.need", { a: need, c: needC });
    const tile = document.getElementById("tile-staffing");
    tile.classList.remove("level-green", "level-amber", "level-red");
    tile.classList.add(now.logged_in >= need ? "level-green" : "level-red");
  } catch {
    document.getElementById("staffing-need").textContent = "—";
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
