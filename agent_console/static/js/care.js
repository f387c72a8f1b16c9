// The care office's pages: an ID number shown in clear on a deliberate click (audited).
import { api, showError } from "./common.js";

for (const button of document.querySelectorAll("[data-reveal]")) {
  button.addEventListener("click", async () => {
    const elderId = button.dataset.reveal;
    try {
      const res = await api("POST", `/api/elders/${elderId}/reveal`, { field: "id_number" });
      const target = document.querySelector(`[data-reveal-value="${elderId}"]`);
      if (target) target.textContent = res.value;
      button.hidden = true;
    } catch (err) {
      showError(err);
    }
  });
}
