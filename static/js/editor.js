// The program editor: line numbers beside the textarea, the error line marked, Tab indents,
// Ctrl/Cmd+Enter runs (from any field of the form), Esc leaves for the stepper; the input's byte count;
// another map seed row on request; fields marked invalid when their error message shows; a stale mark on
// the result when the program or an input changes after a run. Source lines and the listing are linked both
// ways: the gutter marks the line of the current instruction, the line under the caret or the mouse lights
// up its instructions in the listing, a listing row lights up its line in the gutter, and a listing row's
// line number (C) goes to that line. These marks belong to the result on screen: while it is of another
// program (a draft was put back, drafts.js), the gutter shows none until the next run. Syntax highlighting is
// highlight.js's. Plain JS, no dependencies.
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

  // --- line numbers and their marks: the error, the current instruction's line, a linked line ---------
  let shownLines = 0;
  let errorLine = Number(box.dataset.errorLine) || 0;
  const marks = { "is-current-line": 0, "is-linked": 0 };
  // Whether the result on screen was made from this editor's program, so that its lines are the editor's
  // lines. Not after a draft is put back (drafts.js) until the next run, or until the draft is discarded.
  let resultIsOfThisProgram = true;

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
      for (const [name, line] of Object.entries(marks)) {
        if (n === line) {
          span.classList.add(name);
        }
      }
      fragment.appendChild(span);
    }
    gutter.replaceChildren(fragment);
    gutter.scrollTop = textarea.scrollTop;
  }

  function markGutter(name, line) {
    if (marks[name] === line) {
      return;
    }
    const old = gutter.children[marks[name] - 1];
    if (old) {
      old.classList.remove(name);
    }
    marks[name] = line;
    const span = gutter.children[line - 1];
    if (span) {
      span.classList.add(name);
    }
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
    lightRows(line); // focusing came before the caret moved
    const lineHeight = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    const wanted = (line - 1) * lineHeight;
    if (wanted < textarea.scrollTop || wanted > textarea.scrollTop + textarea.clientHeight - 2 * lineHeight) {
      textarea.scrollTop = Math.max(0, wanted - textarea.clientHeight / 3);
    }
  }

  // "line 6, col 9: ..." in the program's error message (a C compile error) -> [6, 9]
  function sourceErrorLocation() {
    const message = document.getElementById("source-error");
    const match = message && /^line (\d+), col (\d+): /.exec(message.textContent.trim());
    return match ? [Number(match[1]), Number(match[2])] : null;
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("a.goto-line");
    if (link) {
      event.preventDefault();
      goToLine(Number(link.dataset.line) || 1, Number(link.dataset.col) || 1);
      return;
    }
    // The error summary's link to the program goes to the compile error's line and column.
    const where = event.target.closest('.problem a[href="#source"]') ? sourceErrorLocation() : null;
    if (where) {
      event.preventDefault();
      goToLine(where[0], where[1]);
    }
  });

  // --- the language: the hint under "Program" follows it ----------------------------------------------
  const language = document.getElementById("language");
  function showLanguage() {
    box.dataset.language = language.value;
    for (const hint of form.querySelectorAll(".field-source .hint[data-language]")) {
      hint.hidden = hint.dataset.language !== language.value;
    }
  }
  if (language) {
    language.addEventListener("change", showLanguage);
  }

  // --- source lines <-> listing rows ----------------------------------------------------------------
  function lineHeight() {
    return parseFloat(getComputedStyle(textarea).lineHeight) || 20;
  }

  function caretLine() {
    return textarea.value.slice(0, textarea.selectionStart).split("\n").length;
  }

  function lineAt(event) {
    const rect = textarea.getBoundingClientRect();
    const top = parseFloat(getComputedStyle(textarea).paddingTop) || 0;
    return Math.floor((event.clientY - rect.top - top + textarea.scrollTop) / lineHeight()) + 1;
  }

  // A listing row's source line is the number in its "line" cell (0 when it has none).
  function lineOfRow(row) {
    const cell = row ? row.querySelector("td.line") : null;
    return cell ? Number(cell.textContent.trim()) || 0 : 0;
  }

  let linkedRowsLine = 0;
  function lightRows(line) {
    if (!resultIsOfThisProgram) {
      line = 0;
    }
    if (line === linkedRowsLine) {
      return;
    }
    linkedRowsLine = line;
    for (const row of document.querySelectorAll("#listing tbody tr")) {
      row.classList.toggle("is-linked", line > 0 && lineOfRow(row) === line);
    }
  }

  const followCaret = () => lightRows(caretLine());
  textarea.addEventListener("keyup", followCaret);
  textarea.addEventListener("click", followCaret);
  textarea.addEventListener("focus", followCaret);
  textarea.addEventListener("blur", () => lightRows(0));
  textarea.addEventListener("mousemove", (event) => lightRows(lineAt(event)));
  textarea.addEventListener("mouseleave", () => lightRows(document.activeElement === textarea ? caretLine() : 0));

  function rowLine(target) {
    return lineOfRow(target.closest ? target.closest("#listing tbody tr") : null);
  }
  for (const kind of ["mouseover", "focusin"]) {
    document.addEventListener(kind, (event) => {
      markGutter("is-linked", resultIsOfThisProgram ? rowLine(event.target) : 0);
    });
  }

  // The gutter marks the line of the listing's current instruction (after each step) and, when the editor
  // is not being typed in, scrolls it into view.
  function markCurrentLine() {
    const line = resultIsOfThisProgram ? lineOfRow(document.querySelector("#listing tr.is-current")) : 0;
    markGutter("is-current-line", line);
    if (line && document.activeElement !== textarea) {
      const wanted = (line - 1) * lineHeight();
      if (wanted < textarea.scrollTop || wanted > textarea.scrollTop + textarea.clientHeight - 2 * lineHeight()) {
        textarea.scrollTop = Math.max(0, wanted - textarea.clientHeight / 3);
        gutter.scrollTop = textarea.scrollTop;
      }
    }
  }

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

  function resultErrorLine() {
    if (!resultIsOfThisProgram) {
      return 0;
    }
    const result = document.getElementById("result");
    let line = result ? Number(result.dataset.errorLine) || 0 : 0;
    if (!line && language && language.value === "c") {
      const where = sourceErrorLocation(); // a compile error is an error message on the program
      line = where ? where[0] : 0;
    }
    return line;
  }

  // The gutter shows the marks of the result on screen, or none when that result is of another program.
  function markResult() {
    const line = resultErrorLine();
    if (line !== errorLine) {
      setErrorLine(line);
    }
    linkedRowsLine = 0;
    markGutter("is-linked", 0);
    markCurrentLine();
  }

  document.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt === form) {
      resultIsOfThisProgram = true; // a run of the editor: its result is of what the editor holds
    }
  });
  form.addEventListener("draft:restored", () => {
    resultIsOfThisProgram = false;
    markResult();
  });
  form.addEventListener("draft:discarded", () => {
    resultIsOfThisProgram = true;
    markResult();
  });

  document.addEventListener("htmx:afterSettle", () => {
    const line = resultErrorLine();
    if (line !== errorLine) {
      setErrorLine(line);
    }
    syncInvalid();
    linkedRowsLine = 0;
    // stepper.js marks the listing's current row in its own afterSettle handler: look after it has.
    window.setTimeout(markCurrentLine, 0);
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
  markCurrentLine();
})();
