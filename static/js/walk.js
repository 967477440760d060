// Stepping through the verifier's walk: the buttons, the slider and the keyboard ask the server for one
// event of the walk (POST /walk with the inputs of the result on screen), which htmx swaps into #walk.
// Keys work while the walk has the focus (click in it or tab to its controls), so that the run's stepper
// keeps ←/→ elsewhere: ←/→ previous/next event, Home/End first/last, p/n previous/next visit of the
// current instruction, [/] previous/next event on the current path (at its end: the next path), e the
// error. One request is in flight at a time; a position asked for meanwhile is fetched when it returns. The
// jump keys read their target off the event on screen, so one pressed while another event is on its way
// waits for it (pressing ] three times goes three steps along the path).
"use strict";
(() => {
  let inFlight = false;
  let wanted = null;
  const queued = []; // jump keys pressed while an event was on its way, applied in turn once it is shown

  const walker = () => document.getElementById("walker");
  const section = () => document.getElementById("walk");

  function total() {
    const form = walker();
    return form ? Number(form.dataset.total) || 0 : 0;
  }

  function shownIndex() {
    const walk = section();
    return walk ? Number(walk.dataset.index) || 0 : 0;
  }

  function goTo(index) {
    const form = walker();
    if (!form || typeof htmx === "undefined") {
      return;
    }
    index = Math.max(0, Math.min(total(), index));
    wanted = index;
    const position = document.getElementById("walk-position");
    if (position) {
      position.textContent = `${index} / ${total()}`;
    }
    if (!inFlight && index !== shownIndex()) {
      fetchEvent(form, index);
    }
  }

  function fetchEvent(form, index) {
    inFlight = true;
    const hadFocus = section() && section().contains(document.activeElement);
    const focusedId = document.activeElement ? document.activeElement.id : "";
    htmx.ajax("POST", form.dataset.walkUrl, {
      source: form, values: { walk: String(index) }, target: "#walk", swap: "outerHTML",
    }).finally(() => {
      inFlight = false;
      if (hadFocus) {
        const again = focusedId && document.getElementById(focusedId);
        (again || section() || document.body).focus({ preventScroll: true });
      }
      if (shownIndex() === index) {
        scrollToCurrent();
        continueTo();
      } // else the swap comes a moment later: afterSettle below goes on
    });
  }

  function continueTo() {
    if (wanted === null || !walker()) {
      return;
    }
    if (wanted !== shownIndex()) {
      fetchEvent(walker(), wanted);
    } else {
      wanted = null;
      while (queued.length) {
        const index = jump(queued.shift());
        if (index !== null && index !== shownIndex()) {
          goTo(index);
          return;
        }
      }
    }
  }

  document.addEventListener("htmx:afterSettle", (event) => {
    if (event.target && event.target.id === "result") {
      wanted = null; // a new result: forget what was asked of the old walk
      queued.length = 0;
      return;
    }
    if (!inFlight && event.target && event.target.closest && event.target.closest("#walk")) {
      scrollToCurrent();
      continueTo();
    }
  });
  for (const failure of ["htmx:responseError", "htmx:sendError"]) {
    document.addEventListener(failure, () => {
      wanted = null; // refused or unreachable: stay where we are
      queued.length = 0;
    });
  }

  function scrollToCurrent() {
    const listing = document.querySelector("#walk .walk-listing");
    const row = listing && listing.querySelector("tr.is-current");
    if (row) {
      const top = row.offsetTop;
      if (top < listing.scrollTop || top + row.offsetHeight > listing.scrollTop + listing.clientHeight) {
        listing.scrollTop = Math.max(0, top - listing.clientHeight / 3);
      }
    }
    const log = document.querySelector("#walk .walk-log pre");
    const line = log && log.querySelector(".is-current");
    if (line) {
      log.scrollTop = Math.max(0, line.offsetTop - log.offsetTop - log.clientHeight / 2);
    }
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-walk]");
    if (button && walker() && typeof htmx !== "undefined") {
      event.preventDefault();
      queued.length = 0;
      const moves = { prev: -1, next: +1 };  // relative to where the last click was going
      const from = wanted === null ? shownIndex() : wanted;
      goTo(button.dataset.walk in moves ? from + moves[button.dataset.walk] : Number(button.value));
    }
  });

  document.addEventListener("input", (event) => {
    if (event.target.id === "walk-slider") {
      queued.length = 0;
      goTo(Number(event.target.value));
    }
  });

  function jump(kind) {
    const button = section() && section().querySelector(`button[data-walk="goto"][data-jump="${kind}"]`);
    return button ? Number(button.value) : null;
  }

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const walk = section();
    if (!walk || !walk.contains(target) || event.altKey || event.ctrlKey || event.metaKey) {
      return;
    }
    if (target.id === "walk-slider" || target.tagName === "TEXTAREA" || target.tagName === "SELECT") {
      return;
    }
    const current = wanted === null ? shownIndex() : wanted;
    const moves = {
      ArrowRight: () => current + 1,
      ArrowLeft: () => current - 1,
      Home: () => 0,
      End: () => total(),
    };
    const jumps = { n: "next-visit", p: "prev-visit", e: "error", "[": "path-prev", "]": "path-next" };
    const kind = jumps[event.key];
    if (moves[event.key] || kind) {
      event.preventDefault();
      event.stopPropagation();
    }
    if (kind && wanted !== null && wanted !== shownIndex()) {
      queued.push(kind); // its target is known once the event on its way is shown
      return;
    }
    const index = kind ? jump(kind) : moves[event.key] ? moves[event.key]() : null;
    if (!kind) {
      queued.length = 0;
    }
    if (index !== null) {
      goTo(index);
    }
  }, true);

  // Back or Forward (urlstate.js): go to the event the history entry names (none: where the walk starts).
  document.addEventListener("urlstate:restore", (event) => {
    const walk = section();
    if (walk) {
      queued.length = 0;
      goTo(event.detail.walk === null ? Number(walk.dataset.start) || 0 : event.detail.walk);
    }
  });

  document.addEventListener("DOMContentLoaded", scrollToCurrent);
})();
