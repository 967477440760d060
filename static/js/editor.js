// The program editor: line numbers beside the textarea, the error line marked, Tab indents,
// Ctrl/Cmd+Enter runs (from any field of the form), Esc leaves for the stepper; the input's byte count;
// another map seed row on request; fields marked invalid when their error message shows; a stale mark on
// the result when the program or an input changes after a run. Plain JS, no dependencies.
"use strict";
(() => {
  const INDENT = "    ";
  const textarea = document.getElementById("source");
  const gutter = document.getElementById("gutter");
  const box = document.getElementById("code-editor");
  const form = document.getElementById("editor");
  if (!textarea || !gutter || !box || !form) {
    return;
  }

  // --- line numbers and the error mark ---------------------------------------------------------------
  let shownLines = 0;
  let errorLine = Number(box.dataset.errorLine) || 0;

  function renderGutter(force) {
    const lines = textarea.value.split("\n").length;
    if (lines === shownLines && !force) {
      return;
    }
    shownLines = lines;
    const fragment = document.createDocumentFragment();
    for (let n = 1; n <= lines; n++) {
      const span = document.createElement("span");
      span.textContent = String(n);
      if (n === errorLine) {
        span.className = "is-error";
      }
      fragment.appendChild(span);
    }
    gutter.replaceChildren(fragment);
    gutter.scrollTop = textarea.scrollTop;
  }

  function setErrorLine(line) {
    errorLine = line;
    box.dataset.errorLine = line ? String(line) : "";
    if (line) {
      textarea.setAttribute("aria-invalid", "true");
    } else {
      textarea.removeAttribute("aria-invalid");
    }
    renderGutter(true);
  }

  textarea.addEventListener("scroll", () => { gutter.scrollTop = textarea.scrollTop; });
  textarea.addEventListener("input", () => renderGutter(false));

  // --- keys ----------------------------------------------------------------------------------------------
  function insert(text) {
    // execCommand keeps the browser's undo history; setRangeText is the fallback.
    if (!document.execCommand || !document.execCommand("insertText", false, text)) {
      textarea.setRangeText(text, textarea.selectionStart, textarea.selectionEnd, "end");
      textarea.dispatchEvent(new Event("input", { bubbles: true }));
    }
  }

  function outdent() {
    const value = textarea.value;
    const start = value.lastIndexOf("\n", textarea.selectionStart - 1) + 1;
    const spaces = /^ {1,4}/.exec(value.slice(start));
    if (spaces) {
      textarea.setSelectionRange(start, start + spaces[0].length);
      insert("");
    }
  }

  // Ctrl/Cmd+Enter runs from any field of the form (the program, the packet builder, the environment ...).
  form.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit(document.getElementById("run"));
    }
  });

  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      return; // handled by the form
    } else if (event.key === "Tab" && !event.ctrlKey && !event.altKey && !event.metaKey) {
      event.preventDefault();
      if (event.shiftKey) {
        outdent();
      } else {
        insert(INDENT);
      }
    } else if (event.key === "Escape") {
      const target = document.getElementById("step-slider") || document.getElementById("run");
      if (target) {
        event.preventDefault();
        target.focus();
      }
    }
  });

  // --- go to an error's line -------------------------------------------------------------------------
  function goToLine(line, col) {
    const lines = textarea.value.split("\n");
    let offset = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) {
      offset += lines[i].length + 1;
    }
    offset += Math.max(0, Math.min(col - 1, (lines[line - 1] || "").length));
    textarea.focus();
    textarea.setSelectionRange(offset, offset);
    const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    const wanted = (line - 1) * lineHeight;
    if (wanted < textarea.scrollTop || wanted > textarea.scrollTop + textarea.clientHeight - 2 * lineHeight) {
      textarea.scrollTop = Math.max(0, wanted - textarea.clientHeight / 3);
    }
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.goto-line");
    if (link) {
      event.preventDefault();
      goToLine(Number(link.dataset.line) || 1, Number(link.dataset.col) || 1);
    }
  });

  // --- input byte count (the input panel is swapped when the hook changes: listen on the form) --------
  form.addEventListener("input", (event) => {
    const mem = event.target;
    const count = document.getElementById("mem-count");
    if (mem.id !== "mem" || !count) {
      return;
    }
    const limit = Number(count.dataset.limit).toLocaleString("en");
    const digits = mem.value.replace(/\s+/g, "");
    let text;
    if (/[^0-9a-fA-F]/.test(digits)) {
      text = "not hex";
    } else if (digits.length % 2) {
      text = "odd number of hex digits";
    } else if (digits.length === 0) {
      text = "empty: r1 = 0, r2 = 0";
    } else {
      const n = digits.length / 2;
      text = n === 1 ? "1 byte" : `${n} bytes`;
    }
    count.textContent = `${text} · at most ${limit}`;
  });

  // --- map seeds: another empty row -----------------------------------------------------------------
  document.addEventListener("click", (event) => {
    if (!event.target.closest("#add-seed")) {
      return;
    }
    const rows = document.getElementById("seed-rows");
    const last = rows ? rows.querySelector(".seed-row:last-of-type") : null;
    if (!last) {
      return;
    }
    const index = rows.querySelectorAll(".seed-row").length;
    const row = last.cloneNode(true);
    row.id = `seed-${index}`;
    for (const element of row.querySelectorAll("[id]")) {
      element.id = element.id.replace(/^seed-\d+/, `seed-${index}`);
    }
    for (const input of row.querySelectorAll("input")) {
      input.value = "";
      input.removeAttribute("aria-invalid");
      input.setAttribute("aria-describedby", `seed-${index}-error`);
      input.setAttribute("aria-label", input.getAttribute("aria-label").replace(/\d+:/, `${index + 1}:`));
    }
    const error = row.querySelector(".field-error");
    if (error) {
      error.textContent = "";
    }
    rows.appendChild(row);
    row.querySelector("input").focus();
  });

  // --- results: error line, stale mark ---------------------------------------------------------------
  const summary = document.querySelector(".example-summary");
  function markStale() {
    const result = document.getElementById("result");
    if (result) {
      result.classList.add("is-stale");
    }
    if (summary) {
      summary.hidden = true; // it describes the example, no longer what is in the editor
    }
  }
  form.addEventListener("input", markStale);
  form.addEventListener("change", (event) => {
    // Text fields said so on "input" already (their "change" comes on blur, when nothing changed since).
    if (event.target.matches("select, input[type=radio], input[type=checkbox], input[type=file]")) {
      markStale();
    }
  });

  // Fields whose error message (updated out of band after a run) is not empty are marked invalid.
  function syncInvalid() {
    for (const message of form.querySelectorAll(".field-error")) {
      for (const field of form.querySelectorAll(`[aria-describedby~="${message.id}"]`)) {
        if (field.id === "source") {
          continue; // the gutter's error line decides for the program
        }
        if (message.textContent.trim()) {
          field.setAttribute("aria-invalid", "true");
        } else {
          field.removeAttribute("aria-invalid");
        }
      }
    }
  }

  document.addEventListener("htmx:afterSettle", () => {
    const result = document.getElementById("result");
    const line = result ? Number(result.dataset.errorLine) || 0 : 0;
    if (line !== errorLine) {
      setErrorLine(line);
    }
    syncInvalid();
  });

  // --- examples menu: loading one replaces the program ------------------------------------------------
  const examples = document.getElementById("example");
  if (examples && examples.form) {
    let chosen = examples.value;
    examples.addEventListener("change", () => {
      const edited = textarea.value !== textarea.defaultValue;
      if (!edited || window.confirm("Replace your program with this example?")) {
        examples.form.submit();
      } else {
        examples.value = chosen;
      }
    });
  }

  // --- requests that fail (htmx does not swap 4xx/5xx answers other than 422) --------------------------
  const notice = document.getElementById("notice");
  function tell(message) {
    if (notice) {
      notice.textContent = message;
      notice.hidden = !message;
    }
  }
  document.addEventListener("htmx:beforeRequest", () => tell(""));
  document.addEventListener("htmx:sendError", () => tell("The server could not be reached. Try again."));
  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    const page = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    const detail = page.querySelector(".error-page p");
    tell(`The request failed (${xhr.status}). ${detail ? detail.textContent : ""}`.trim());
  });

  renderGutter(true);
})();
