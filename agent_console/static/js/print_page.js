// A page with a print button: the browser's own print dialog (the page's print style hides the
// navigation and the download links).
for (const button of document.querySelectorAll("[data-print]")) {
  button.addEventListener("click", () => window.print());
}
