// A long run shows its progress. The editor's run (Run, Ctrl+Enter) asks for a streamed answer
// (Accept: application/x-ndjson): the server sends one JSON record a line, {"phase", "count", "limit",
// "elapsed"}, while it compiles, runs and verifies, then {"phase": "done", "status", "html"} with the
// fragment htmx would have got, or {"phase": "error", "status", "message"} (app/web/progress.py).
// htmx still makes the request (so hx-sync, the CSRF header, the swap and its out-of-band parts, and the
// handling of 4xx answers, which are never streamed, stay as they are): this script reads the records as
// they arrive, shows the phase, the count against its limit and the seconds in place of the limits line,
// and hands htmx the final fragment to swap. Cancel aborts the request; the server notices at its next
// record and stops the work. Without this script the form gets the same result, unstreamed.
"use strict";
(() => {
  const MEDIA = "application/x-ndjson";
  const SHOW_AFTER_MS = 250; // quick runs never show the bar
  const form = document.getElementById("editor");
  const box = document.getElementById("run-progress");
  const limits = document.getElementById("limits");
  if (!form || !box || !window.htmx) {
    return;
  }
  const phaseText = document.getElementById("run-progress-phase");
  const bar = document.getElementById("run-progress-bar");
  const countText = document.getElementById("run-progress-count");
  const timeText = document.getElementById("run-progress-time");
  const cancel = document.getElementById("run-cancel");
  const PHASES = {
    start: ["Starting", ""],
    compile: ["Compiling C", ""],
    run: ["Running", "steps"],
    verify: ["Verifying", "instructions processed"],
  };
  const number = new Intl.NumberFormat("en");

  let current = null; // the streamed request under way: {xhr, read, final, timer, cancelled}

  function tell(message) {
    const notice = document.getElementById("notice");
    if (notice) {
      notice.textContent = message;
      notice.hidden = !message;
    }
  }

  // The editor form's own run: not the requests of its hook menu, nor the share button's. htmx gives the
  // request's configuration as the detail of htmx:configRequest, and in the detail of the later events.
  function isRun(event) {
    const config = event.detail.requestConfig || event.detail;
    return config.elt === form && /\/run$/.test(config.path || "");
  }

  function streamed(xhr) {
    return (xhr.getResponseHeader("Content-Type") || "").startsWith(MEDIA);
  }

  // The records that have arrived completely since the last call.
  function readRecords(state) {
    const text = state.xhr.responseText || "";
    const records = [];
    let end = text.indexOf("\n", state.read);
    while (end >= 0) {
      const line = text.slice(state.read, end).trim();
      state.read = end + 1;
      if (line) {
        try {
          records.push(JSON.parse(line));
        } catch (_) {
          // not a record: ignore the line
        }
      }
      end = text.indexOf("\n", state.read);
    }
    return records;
  }

  function show(record) {
    const [label, unit] = PHASES[record.phase] || [record.phase, ""];
    const packet = record.packets ? ` (packet ${record.packet} of ${record.packets})` : "";
    const text = `${label}${packet}…`;
    if (phaseText.textContent !== text) {
      phaseText.textContent = text; // role=status: read out when the phase changes, not on every count
    }
    if (record.limit) {
      bar.max = record.limit;
      bar.value = Math.min(record.count || 0, record.limit);
      countText.textContent = `${number.format(record.count || 0)} / ${number.format(record.limit)} ${unit}`;
    } else {
      bar.removeAttribute("value"); // indeterminate
      countText.textContent = "";
    }
    const seconds = `${(record.elapsed || 0).toFixed(1)} s`;
    timeText.textContent = countText.textContent ? ` · ${seconds}` : seconds;
  }

  function setShown(shown) {
    box.hidden = !shown;
    if (limits) {
      limits.hidden = shown;
    }
  }

  function onProgress(state) {
    if (state !== current || !streamed(state.xhr)) {
      return;
    }
    for (const record of readRecords(state)) {
      if (record.phase === "done" || record.phase === "error") {
        state.final = record;
      } else {
        state.last = record;
      }
    }
    if (state.last && !state.final) {
      show(state.last);
    }
  }

  function finish(state) {
    window.clearTimeout(state.timer);
    if (state !== current) {
      return;
    }
    current = null;
    setShown(false);
    if (state.cancelled) {
      tell("Run cancelled: the result below is from before.");
    }
  }

  document.addEventListener("htmx:configRequest", (event) => {
    if (isRun(event)) {
      event.detail.headers.Accept = `${MEDIA}, text/html;q=0.9`;
    }
  });

  document.addEventListener("htmx:beforeSend", (event) => {
    if (!isRun(event)) {
      return;
    }
    if (current) {
      finish(current); // hx-sync replaced it
    }
    const state = { xhr: event.detail.xhr, read: 0, final: null, last: null, cancelled: false };
    current = state;
    show({ phase: "start", elapsed: 0 });
    state.timer = window.setTimeout(() => { if (current === state) { setShown(true); } }, SHOW_AFTER_MS);
    state.xhr.addEventListener("progress", () => onProgress(state));
    state.xhr.addEventListener("loadend", () => finish(state));
  });

  // The streamed answer's fragment is what htmx swaps in (a 422 fragment too, as htmx swaps a 422 answer).
  // (htmx:beforeSwap is fired on the target, #result, outside the form.)
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (!isRun(event) || !streamed(xhr)) {
      return;
    }
    const state = current && current.xhr === xhr ? current : { xhr, read: 0, final: null };
    for (const record of readRecords(state)) {
      if (record.phase === "done" || record.phase === "error") {
        state.final = record;
      }
    }
    const final = state.final;
    if (final && final.phase === "done") {
      event.detail.serverResponse = final.html;
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    event.detail.shouldSwap = false;
    if (final) {
      tell(`The request failed (${final.status}). ${final.message || ""}`.trim());
    } else if (!state.cancelled) {
      tell("The answer was cut off before the result. Try again.");
    }
  });

  cancel.addEventListener("click", () => {
    if (current) {
      current.cancelled = true;
      window.htmx.trigger(form, "htmx:abort");
    }
  });
})();
