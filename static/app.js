// hookgate: the little script there is. Served as a file (the CSP forbids inline script).
"use strict";

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (button) {
    const source = document.getElementById(button.dataset.copy);
    const text = source ? source.textContent.trim() : "";
    try {
      await navigator.clipboard.writeText(text);
    } catch (_) {
      // Older browsers or no clipboard permission: select the text and use execCommand.
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    button.dataset.copied = "true";
    return;
  }
  const back = event.target.closest("[data-back]");
  if (back) {
    event.preventDefault();
    history.back();
  }
});

document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
