// Syntax highlighting in the program editor. The textarea stays the editor: the caret, the selection, undo,
// Tab and Ctrl/Cmd+Enter (editor.js) are untouched. Under it lies a <pre> (#source-view) with the same text
// highlighted, in the same font and padding and kept at the same scroll position; the textarea's own text is
// made transparent. Without JavaScript the <pre> stays hidden and the textarea shows its text as usual.
//
// The colours come from the server (POST /highlight), not from a tokenizer written here: the page arrives
// with the <pre> already highlighted, and after each edit the server highlights the whole program again with
// the same Pygments lexers that colour the listings (ours, whose words come from the ISA table, and Pygments'
// C lexer). A copy of those rules in JavaScript would be a second table to keep in step, and the C lexer does
// not translate. Typing stays immediate all the same: an edit at once shows the lines it changed as plain
// text (escaped here) and keeps the colours of the lines around them; the server's answer, a moment after
// typing pauses, replaces them if the program has not changed since. A failed request leaves plain lines.
"use strict";
(() => {
  const DELAY = 120; // ms of quiet before the server is asked
  const box = document.getElementById("code-editor");
  const textarea = document.getElementById("source");
  const view = document.getElementById("source-view");
  const form = document.getElementById("editor");
  const language = document.getElementById("language");
  if (!box || !textarea || !view || !form || !view.dataset.url || !window.fetch) {
    return;
  }

  function escapeHtml(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function languageNow() { // the language picker, or (a lesson page: one language a page) the editor's own
    return language ? language.value : (box.dataset.language || "asm");
  }

  // What the <pre> shows: per source line, its text and its HTML.
  let shown = { texts: [], html: [] };

  function syncScroll() {
    view.scrollTop = textarea.scrollTop;
    view.scrollLeft = textarea.scrollLeft;
  }

  function show(texts, html) {
    shown = { texts, html };
    // A final newline, as in the textarea, so that an empty last line has its height.
    view.innerHTML = `${html.join("\n")}\n`;
    syncScroll();
  }

  // After an edit: the lines the edit left alone at the top and at the bottom keep their HTML; the lines in
  // between are shown as plain (escaped) text until the server's highlighting arrives.
  function showEdited() {
    const texts = textarea.value.split("\n");
    const old = shown;
    let top = 0;
    while (top < texts.length && top < old.texts.length && texts[top] === old.texts[top]) {
      top++;
    }
    let bottom = 0;
    while (bottom < texts.length - top && bottom < old.texts.length - top
           && texts[texts.length - 1 - bottom] === old.texts[old.texts.length - 1 - bottom]) {
      bottom++;
    }
    const middle = texts.slice(top, texts.length - bottom).map(escapeHtml);
    show(texts, [...old.html.slice(0, top), ...middle, ...old.html.slice(old.html.length - bottom)]);
  }

  let timer = 0;
  let inFlight = null;
  function requestHighlighting() {
    window.clearTimeout(timer);
    timer = window.setTimeout(async () => {
      if (inFlight) {
        inFlight.abort();
      }
      const controller = new AbortController();
      inFlight = controller;
      const source = textarea.value;
      const lang = languageNow();
      const token = form.elements.csrf_token ? form.elements.csrf_token.value : "";
      try {
        const response = await fetch(view.dataset.url, {
          method: "POST",
          body: new URLSearchParams({ source, language: lang, csrf_token: token }),
          credentials: "same-origin",
          signal: controller.signal,
        });
        if (!response.ok) {
          return; // the plain lines stay: still readable
        }
        const html = await response.text();
        if (textarea.value === source && languageNow() === lang) {
          show(source.split("\n"), html.split("\n"));
        }
      } catch (e) {
        // aborted by a newer request, or the server could not be reached: the plain lines stay
      } finally {
        if (inFlight === controller) {
          inFlight = null;
        }
      }
    }, DELAY);
  }

  function edited() {
    showEdited();
    requestHighlighting();
  }

  // The server highlighted the page's own program in the page's own language; anything else (the browser
  // restored the field, drafts.js put a draft back before this ran) is highlighted again.
  const servedTexts = textarea.defaultValue.split("\n");
  const servedHtml = view.innerHTML.split("\n");
  shown = servedHtml.length === servedTexts.length
    ? { texts: servedTexts, html: servedHtml }
    : { texts: [], html: [] };
  box.classList.add("is-highlighted");
  view.hidden = false;
  if (textarea.value !== textarea.defaultValue || languageNow() !== view.dataset.language || !shown.texts.length) {
    edited();
  } else {
    syncScroll();
  }

  textarea.addEventListener("input", edited);
  textarea.addEventListener("scroll", syncScroll);
  if (language) {
    language.addEventListener("change", requestHighlighting);
  }
})();
