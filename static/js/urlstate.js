// The place on the page lives in the address bar: on an example (/?example=...) or a shared link (/p/<id>),
// the run's position (step), the packet's run (run), the verifier walk's event (walk) and the stepper's
// breakpoints (break, as "3,7"; breakpoints.js announces changes) are written into
// the query string as they change (history.replaceState: no history entry per step), so a reload or a
// copied link opens at the same place; the server reads them (playground.with_view_args). Once the editor
// runs a program that differs from the one the URL names, the URL no longer describes the page: it becomes
// "/" again. The same place goes with a share: when Share is pressed, its hidden view_* fields (page.html,
// setups.VIEW_FORM_FIELDS) are set to it, wherever the page is (on "/" too).
"use strict";
(() => {
  const STATE = ["step", "run", "walk", "break"];

  function describesPage() {
    const url = new URL(window.location.href);
    return url.pathname.startsWith("/p/") || url.searchParams.has("example");
  }

  function current() {
    const values = {};
    const step = document.getElementById("step");
    if (step && Number(step.dataset.index)) {
      values.step = step.dataset.index;
    }
    const run = document.querySelector("#stepper input[name=run]:checked, #stepper input[name=run][type=hidden]");
    const chosen = document.querySelector("input[name=run][form=stepper]:checked");
    const runValue = chosen ? chosen.value : run ? run.value : "0";
    if (Number(runValue)) {
      values.run = runValue;
    }
    const walk = document.getElementById("walk");
    if (walk && walk.dataset.index !== undefined && walk.dataset.index !== walk.dataset.start) {
      values.walk = walk.dataset.index;
    }
    const breaks = document.querySelector("#stepper input[name=break]");
    if (breaks && breaks.value) {
      values.break = breaks.value;
    }
    return values;
  }

  function write() {
    if (!describesPage()) {
      return;
    }
    const url = new URL(window.location.href);
    for (const key of STATE) {
      url.searchParams.delete(key);
    }
    for (const [key, value] of Object.entries(current())) {
      url.searchParams.set(key, value);
    }
    if (url.href !== window.location.href) {
      window.history.replaceState(window.history.state, "", url.href);
    }
  }

  // A run from the editor of a changed program: the URL would reopen the old one.
  document.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.detail.elt;
    if (!form || form.id !== "editor" || !describesPage()) {
      return;
    }
    const source = document.getElementById("source");
    if (source && source.value !== source.defaultValue) {
      window.history.replaceState(window.history.state, "", "/");
    }
  });

  // Share: the hidden fields hold the place the page was loaded at; set them to the place on screen now.
  // (Capturing, so this runs before htmx reads the form on the same submit event.)
  document.addEventListener("submit", (event) => {
    if (!event.submitter || event.submitter.id !== "share-button") {
      return;
    }
    const values = current();
    const fields = { view_step: values.step || "0", view_run: values.run || "0", view_walk: values.walk || "",
                     view_break: values.break || "" };
    for (const [name, value] of Object.entries(fields)) {
      const input = document.querySelector(`input[type=hidden][form=editor][name=${name}]`);
      if (input) {
        input.value = value;
      }
    }
  }, true);

  document.addEventListener("htmx:afterSettle", write);
  document.addEventListener("breakpoints:change", write);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", write);
  } else {
    write();
  }
})();
