// The place on the page lives in the address bar: the run's position (step), the packet's run (run), the
// verifier walk's event (walk) and the stepper's breakpoints (break, as "3,7"; breakpoints.js announces
// changes) are written into the query string as they change, so a reload or a copied link opens at the same
// place; the server reads them (playground.view_args). A move to another place (a step of the run or an event
// of the walk swapped in) is a history entry of its own (pushState), so Back and Forward go between the places
// the user went; a quick repeat (← or → pressed within a second of the last move, the slider dragged) replaces
// the entry instead, and so do loading the page, a new result and breakpoints. On Back or Forward this sends
// "urlstate:restore" with the place the entry names (stepper.js and walk.js fetch it) and writes nothing until
// the page shows it.
//
// Which address the place goes on: an example (/?example=...) or a shared link (/p/<id>) names its setup only
// while the result on screen was computed from it: #result's data-setup (contexts.RunInputs.setup) is compared
// with the one the page was opened with, so a run of a changed program or of a changed input (a packet, a
// context field, a seed...) turns the address into "/", and a run of the same setup again gives it back. On
// "/" the place goes on "/" itself (/?step=3&walk=9): the program never goes into an address (it travels in
// POST bodies only), so a reload of an edited program gets it back from the draft (drafts.js), which runs it
// again and asks for the place this address names (nothing is written until that result is on screen). Pages at other addresses (a form posted without JavaScript,
// /map) are left as they are. The same place goes with a share: when Share is pressed, its hidden view_*
// fields (page.html, setups.VIEW_FORM_FIELDS) are set to it, wherever the page is (on "/" too).
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

  // The address without the place: the example or share while the page shows its setup, else "/".
  function base() {
    return describesPage() ? new URL(named.href) : new URL("/", window.location.href);
  }

  // Whether the address bar is this script's to write: an example, a share, or "/" (where a run of an edited
  // example or share moves it).
  function writable() {
    return namesSetup || window.location.pathname === "/";
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

  function address() {
    const url = base();
    for (const [key, value] of Object.entries(current())) {
      url.searchParams.set(key, value);
    }
    return url.href;
  }

  const REPEAT_MS = 1000;
  let repeating = false; // whether the user's last action was a quick-repeat kind of move (← →, the slider)
  let lastMove = 0;
  let restoring = null; // the address Back or Forward went to, until the page shows it

  function write(event) {
    if (!writable()) {
      return; // a page posted without JavaScript (or /map) names nothing to come back to
    }
    const editor = document.getElementById("editor");
    if (editor && editor.dataset.draftResult === "pending") {
      return; // a draft put back is being run again at the place the address names (drafts.js)
    }
    const href = address();
    if (restoring !== null) {
      restoring = href === restoring ? null : restoring;
      return;
    }
    if (href === window.location.href) {
      return;
    }
    const target = event && event.target;
    const moved = Boolean(target && target.closest && target.closest("#step, #walk"));
    const now = Date.now();
    const push = moved && !(repeating && now - lastMove < REPEAT_MS);
    if (moved) {
      lastMove = now;
    }
    if (push) {
      window.history.pushState(null, "", href);
    } else {
      window.history.replaceState(window.history.state, "", href);
    }
  }

  // What the user did last decides whether the move it brings is a repeat; doing anything ends a restore.
  document.addEventListener("keydown", (event) => {
    repeating = event.key === "ArrowLeft" || event.key === "ArrowRight";
    restoring = null;
  }, true);
  document.addEventListener("input", (event) => {
    repeating = event.target.type === "range";
    restoring = null;
  }, true);
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("button, a")) {
      repeating = false;
      restoring = null;
    }
  }, true);

  // Back or Forward to an entry of this page: the same example or share with its result on screen, or "/"
  // with a result not of the example or share the page was opened at (an edited program's).
  window.addEventListener("popstate", () => {
    const url = new URL(window.location.href);
    const place = {};
    for (const key of STATE) {
      place[key] = url.searchParams.get(key);
      url.searchParams.delete(key);
    }
    if (!writable() || url.href !== base().href) {
      return;
    }
    restoring = address() === window.location.href ? null : window.location.href;
    if (restoring !== null) {
      document.dispatchEvent(new CustomEvent("urlstate:restore", {
        detail: { step: Number(place.step) || 0, run: Number(place.run) || 0, walk: place.walk === null ? null : Number(place.walk) || 0 },
      }));
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
