// llmctl view: vendored with the package. Progressive enhancement only: every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // keyboard: "/" focuses the search box
  var search = document.querySelector("input[name=q]");
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "/" && search && document.activeElement !== search) { ev.preventDefault(); search.focus(); }
  });
  document.body.setAttribute("data-viewer-ready", "1");
});
