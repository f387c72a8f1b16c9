// An import batch's page follows its job: poll the progress until the batch is finished, then
// reload once so the counts and each row's problems show.
const section = document.getElementById("import-batch");
if (section && section.dataset.finished !== "1") {
  const id = section.dataset.batch;
  const status = document.querySelector("[data-testid=batch-status]");
  const bar = document.querySelector("[data-testid=batch-progress]");
  const done = document.querySelector("[data-testid=batch-done]");
  const poll = async () => {
    try {
      const resp = await fetch(`/api/registry/imports/${id}`, { headers: { Accept: "application/json" } });
      if (resp.ok) {
        const b = await resp.json();
        status.textContent = b.status_label;
        bar.value = b.percent;
        done.textContent = b.done;
        if (b.finished) {
          window.location.reload();
          return;
        }
      }
    } catch (err) {
      // the network dropped for a moment: the next poll tries again
    }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 500);
}
