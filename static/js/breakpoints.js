// Breakpoints of the VM stepper (app/web/breakpoints.py says what they are). A listing row's gutter button
// sets or clears the breakpoint at its pc right here in the page: the row is marked, the step form's hidden
// "break" field and the list under the machine state's heading follow, and urlstate.js writes ?break= into
// the address bar. The B key does the same for the instruction about to run. Continue and Reverse continue
// are step form buttons (stepper.js sends them, C and Shift+C). Without JavaScript the gutter buttons post
// the step form with "toggle", and the server answers the page with the breakpoint set or cleared.
"use strict";
(() => {
  const field = () => document.querySelector("#stepper input[name=break]");

  function shown() {
    const input = field();
    return input && input.value ? input.value.split(",").map(Number).filter(Number.isInteger) : [];
  }

  function show(pcs) {
    const input = field();
    if (!input) {
      return;
    }
    pcs = [...new Set(pcs)].sort((a, b) => a - b);
    input.value = pcs.join(",");
    const walker = document.querySelector("input[form=walker][name=break]"); // the walk's form keeps them too
    if (walker) {
      walker.value = input.value;
    }
    for (const button of document.querySelectorAll("#listing button[data-break-toggle]")) {
      const on = pcs.includes(Number(button.value));
      button.setAttribute("aria-pressed", on ? "true" : "false");
      const row = button.closest("tr");
      if (row) {
        row.classList.toggle("has-break", on);
      }
    }
    const list = document.querySelector("#breaks .breaks-list");
    const links = list && list.querySelector(".breaks-pcs");
    if (list && links) {
      links.replaceChildren();
      pcs.forEach((pc, i) => {
        if (i) {
          links.append(", ");
        }
        const link = document.createElement("a");
        link.href = `#insn-${pc}`;
        link.textContent = `pc ${pc}`;
        links.append(link);
      });
      list.hidden = pcs.length === 0;
    }
    document.dispatchEvent(new CustomEvent("breakpoints:change"));
  }

  function toggle(pc) {
    const pcs = shown();
    show(pcs.includes(pc) ? pcs.filter((p) => p !== pc) : [...pcs, pc]);
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("#listing button[data-break-toggle]");
    if (button && field()) {
      event.preventDefault();
      toggle(Number(button.value));
    }
  });

  const TYPING = new Set(["TEXTAREA", "SELECT", "INPUT"]);
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.key !== "b" || event.altKey || event.ctrlKey || event.metaKey || !field() ||
        TYPING.has(target.tagName) || target.isContentEditable || (target.closest && target.closest("#walk"))) {
      return;
    }
    const step = document.getElementById("step");
    if (step && step.dataset.status === "next" && step.dataset.pc !== "" &&
        document.querySelector(`#listing button[data-break-toggle][value="${Number(step.dataset.pc)}"]`)) {
      event.preventDefault();
      toggle(Number(step.dataset.pc));
    }
  });

  // A run from the editor of the program on screen (its input changed, say) keeps the breakpoints; a
  // changed program starts without them, since its instructions have moved.
  document.addEventListener("htmx:configRequest", (event) => {
    const form = event.detail.elt;
    const input = field();
    const ran = document.querySelector("#stepper input[name=source]");
    const source = document.getElementById("source");
    if (form && form.id === "editor" && input && input.value && ran && source && ran.value === source.value) {
      event.detail.parameters["break"] = input.value;
    }
  });
})();
