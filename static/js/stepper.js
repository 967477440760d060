// Stepping through a run: the step buttons, the slider, the keyboard (←/→, Home/End) and the "step N"
// buttons of the helper output ask the server for the machine state at a position (POST /step with the
// inputs of the result on screen, swapped into #step by htmx), then mark the current instruction in the
// listing. Continue and Reverse continue (buttons, C and Shift+C) and "run to here" ask the server to search
// the run's path for a breakpoint or an instruction. With several packets, picking another run fetches that
// run's whole result. Only one request is in flight; a position asked for meanwhile is fetched when it
// returns, so holding an arrow key never queues a backlog.
"use strict";
(() => {
  let inFlight = false;
  let wanted = null;
  let knownForm = null; // the stepper form the position ``wanted`` belongs to (a new result brings another)
  // htmx sends the step form's last clicked submit button along with the form: these blank out a Continue,
  // "run to" or breakpoint toggle clicked earlier, so that a plain step stays a plain step.
  const PLAIN = { go: "", to: "", toggle: "" };

  const stepper = () => document.getElementById("stepper");
  const slider = () => document.getElementById("step-slider");

  function total() {
    const form = stepper();
    return form ? Number(form.dataset.total) || 0 : 0;
  }

  function shownIndex() {
    const step = document.getElementById("step");
    return step ? Number(step.dataset.index) || 0 : 0;
  }

  function clamp(index) {
    return Math.max(0, Math.min(total(), index));
  }

  function goTo(index) {
    const form = stepper();
    if (!form || typeof htmx === "undefined") {
      return;
    }
    index = clamp(index);
    knownForm = form; // asked of the result on screen: a sync of its swap, settling late, must not drop it
    wanted = index;
    showPosition(index);
    if (!inFlight && index !== shownIndex()) {
      fetchStep(form, index);
    }
  }

  function fetchStep(form, index) {
    inFlight = true;
    wanted = index;
    htmx.ajax("POST", form.dataset.stepUrl, {
      source: form, values: { ...PLAIN, step: String(index) }, target: "#step", swap: "outerHTML",
    }).finally(() => {
      inFlight = false;
      // The step may be swapped in now or a moment later (htmx settles after the request): whichever
      // comes last goes on to a position asked for meanwhile (afterSettle below does the same).
      if (shownIndex() === index) {
        continueTo(form);
      }
    });
  }

  function continueTo(form) {
    if (!form || stepper() !== form || wanted === null) {
      return; // a new run replacing the form cancels what was asked of the old one
    }
    if (wanted !== shownIndex()) {
      fetchStep(form, wanted);
    } else {
      wanted = null;
    }
  }

  // Refused or unreachable (editor.js says why): stay where we are, ask nothing more.
  for (const failure of ["htmx:responseError", "htmx:sendError"]) {
    document.addEventListener(failure, () => {
      wanted = null;
      showPosition(shownIndex());
    });
  }

  function showPosition(index) {
    const range = slider();
    if (range && Number(range.value) !== index) {
      range.value = String(index);
    }
    const position = document.getElementById("step-position");
    if (position) {
      position.textContent = `${index} / ${total()}`;
    }
  }

  // After a step (or a whole result) is swapped in: sync the controls and mark the listing row.
  function sync() {
    const step = document.getElementById("step");
    const form = stepper();
    if (form !== knownForm) {
      knownForm = form; // a new result: forget the position asked for in the old one
      wanted = null;
    }
    if (!step || !form) {
      return;
    }
    const index = Number(step.dataset.index) || 0;
    const last = total();
    const values = { first: 0, prev: Math.max(0, index - 1), next: Math.min(last, index + 1), last };
    for (const button of form.querySelectorAll("button[data-step]")) {
      button.value = String(values[button.dataset.step]);
    }
    // The position on screen: where a search starts, and where the walk's form keeps the run
    for (const input of document.querySelectorAll("#stepper input[name=at], input[form=walker][name=step]")) {
      input.value = String(index);
    }
    const range = slider();
    if (range) {
      range.setAttribute("aria-valuetext", step.dataset.summary || "");
      if (wanted === null || wanted === index) {
        range.value = String(index);
      }
    }
    if (wanted === null || wanted === index) {
      showPosition(index);
    }
    markRow(step.dataset.pc, step.dataset.status);
  }

  function markRow(pc, status) {
    const listing = document.getElementById("listing");
    if (!listing) {
      return;
    }
    for (const row of listing.querySelectorAll("tr.is-current")) {
      row.classList.remove("is-current", "is-next", "is-returned", "is-fault");
      row.removeAttribute("aria-current");
    }
    const row = pc === "" ? null : document.getElementById(`insn-${pc}`);
    if (!row) {
      return;
    }
    row.classList.add("is-current", `is-${status}`);
    row.setAttribute("aria-current", "step");
    // Scroll the listing (only the listing, never the page) to keep the row in view.
    const top = row.offsetTop;
    const header = listing.querySelector("thead");
    const headerHeight = header ? header.offsetHeight : 0;
    if (top - headerHeight < listing.scrollTop || top + row.offsetHeight > listing.scrollTop + listing.clientHeight) {
      listing.scrollTop = Math.max(0, top - headerHeight - listing.clientHeight / 3);
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("#stepper button[data-step], button[form=stepper][data-goto]");
    if (button && stepper() && typeof htmx !== "undefined") {
      event.preventDefault();
      // Prev/Next move from where the last click was going, so quick clicks add up before a step arrives
      const moves = { prev: -1, next: +1 };
      goTo(button.dataset.step in moves ? shownTarget() + moves[button.dataset.step] : Number(button.value));
      if (button.dataset.goto !== undefined) {
        const step = document.getElementById("step");
        if (step) {
          step.scrollIntoView({ block: "start", behavior: "smooth" });
        }
      }
    }
  });

  // "Run to here" (a listing row's ▸), Continue and Reverse continue (to the next or previous breakpoint
  // hit): the server searches the run's path from the step on screen (the form's "at", also what the buttons
  // post without JavaScript).
  function search(values) {
    const form = stepper();
    if (!form || typeof htmx === "undefined" || inFlight) {
      return;
    }
    inFlight = true;
    const at = String(shownIndex());
    htmx.ajax("POST", form.dataset.stepUrl, {
      source: form, values: { ...PLAIN, step: at, at, ...values }, target: "#step", swap: "outerHTML",
    }).finally(() => {
      inFlight = false;
      wanted = null;
    });
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-run-to], #stepper button[data-go]");
    if (!button || !stepper() || typeof htmx === "undefined") {
      return;
    }
    event.preventDefault();
    search(button.dataset.go ? { go: button.value } : { to: button.value });
  });

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.key.toLowerCase() !== "c" || event.altKey || event.ctrlKey || event.metaKey || !stepper() ||
        TYPING.has(target.tagName) || target.isContentEditable || (target.closest && target.closest("#walk")) ||
        (target.tagName === "INPUT" && target.type !== "range")) {
      return;
    }
    event.preventDefault();
    search({ go: event.shiftKey ? "reverse" : "continue" });
  });

  // Several packets: picking another run (a radio button of the step form) shows that run's result.
  document.addEventListener("change", (event) => {
    const radio = event.target;
    const form = stepper();
    if (radio.name !== "run" || radio.getAttribute("form") !== "stepper" || !form || typeof htmx === "undefined") {
      return;
    }
    htmx.ajax("POST", form.dataset.runUrl, {
      source: form, values: { ...PLAIN, step: "0" }, target: "#result", swap: "outerHTML",
    });
  });

  // Back or Forward (urlstate.js): go to the step the history entry names, in its run.
  document.addEventListener("urlstate:restore", (event) => {
    const form = stepper();
    const { step, run } = event.detail;
    const radio = document.querySelector(`input[name=run][form=stepper][value="${run}"]`);
    if (form && radio && !radio.checked && typeof htmx !== "undefined") {
      radio.checked = true;
      htmx.ajax("POST", form.dataset.runUrl, {
        source: form, values: { ...PLAIN, step: String(step) }, target: "#result", swap: "outerHTML",
      });
    } else {
      goTo(step);
    }
  });

  document.addEventListener("input", (event) => {
    if (event.target.id === "step-slider") {
      goTo(Number(event.target.value));
    }
  });

  const TYPING = new Set(["TEXTAREA", "SELECT"]);
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.altKey || event.ctrlKey || event.metaKey || event.shiftKey || !stepper()) {
      return;
    }
    if (target.id === "step-slider" || TYPING.has(target.tagName) || target.isContentEditable ||
        (target.closest && target.closest("#walk")) || // the verifier walk has its own keys (walk.js)
        (target.tagName === "INPUT" && target.type !== "range")) {
      return; // the slider moves itself; fields keep their keys
    }
    const moves = {
      ArrowRight: () => shownTarget() + 1,
      ArrowLeft: () => shownTarget() - 1,
      Home: () => 0,
      End: () => total(),
    };
    if (moves[event.key]) {
      event.preventDefault();
      goTo(moves[event.key]());
    }
  });

  function shownTarget() {
    return wanted === null ? shownIndex() : wanted;
  }

  document.addEventListener("htmx:afterSettle", () => {
    sync();
    if (!inFlight) {
      continueTo(stepper());
    }
  });
  document.addEventListener("DOMContentLoaded", sync);
  if (document.readyState !== "loading") {
    sync();
  }
})();
