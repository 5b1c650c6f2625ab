// The pages' own behaviour, here rather than inline in the templates, so that the
// Content-Security-Policy can be script-src 'self' (web/headers.py). Listeners sit on the
// document, so parts that htmx swaps in work too. No build step, no dependency.
"use strict";

document.addEventListener("click", function (event) {
  const target = event.target instanceof Element ? event.target : null;
  if (target === null) {
    return;
  }
  // <input type="checkbox" data-tick-all>: ticks or unticks every box of its table's body.
  const all = target.closest("input[data-tick-all]");
  if (all !== null) {
    const table = all.closest("table");
    for (const box of table ? table.querySelectorAll("tbody input[name=id]") : []) {
      box.checked = all.checked;
    }
    return;
  }
  // <button data-confirm="Remove this user?">: goes ahead only when confirmed.
  const asking = target.closest("[data-confirm]");
  if (asking !== null && !window.confirm(asking.getAttribute("data-confirm"))) {
    event.preventDefault();
    return;
  }
  // <button data-print>: the browser's print dialog.
  if (target.closest("[data-print]") !== null) {
    window.print();
  }
});
