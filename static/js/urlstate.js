// The place on the page lives in the address bar: on an example (/?example=...) or a shared link (/p/<id>),
// the run's position (step), the packet's run (run), the verifier walk's event (walk) and the stepper's
// breakpoints (break, as "3,7"; breakpoints.js announces changes) are written into
// the query string as they change (history.replaceState: no history entry per step), so a reload or a
// copied link opens at the same place; the server reads them (playground.view_args). The address names the
// example or share only while the result on screen was computed from its setup: #result's data-setup
// (contexts.RunInputs.setup) is compared with the one the page was opened with, so a run of a changed
// program or of a changed input (a packet, a context field, a seed...) turns the address into "/", and a
// run of the same setup again gives it back. The same place goes with a share: when Share is pressed, its
// hidden view_* fields (page.html, setups.VIEW_FORM_FIELDS) are set to it, wherever the page is (on "/" too).
"use strict";
(() => {
  const STATE = ["step", "run", "walk", "break"];

  function shownSetup() {
    const result = document.getElementById("result");
    return result ? result.dataset.setup || "" : "";
  }

  // The address the page was opened at, without the place on it, and the setup it names.
  const named = new URL(window.location.href);
  for (const key of STATE) {
    named.searchParams.delete(key);
  }
  const namesSetup = named.pathname.startsWith("/p/") || named.searchParams.has("example");
  const openedSetup = shownSetup();

  function describesPage() {
    return namesSetup && openedSetup !== "" && shownSetup() === openedSetup;
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
    if (!namesSetup) {
      return; // "/" (or a page posted without JavaScript) names nothing to come back to
    }
    const url = describesPage() ? new URL(named.href) : new URL("/", window.location.href);
    if (describesPage()) {
      for (const [key, value] of Object.entries(current())) {
        url.searchParams.set(key, value);
      }
    }
    if (url.href !== window.location.href) {
      window.history.replaceState(window.history.state, "", url.href);
    }
  }

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
