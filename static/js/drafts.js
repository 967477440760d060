// Drafts: the program being written survives a reload. Whenever the editor's program, language, hook or
// loader (the "Unprivileged loader" box) differs from what the page was served with, it is saved in this
// browser's localStorage (nothing is sent anywhere): a moment after typing stops, before a run, and when the page is hidden or left (pagehide,
// visibilitychange), so a reload never loses the last keystrokes. It is removed once it matches again.
// An example asked for by name (/?example=...) opens as it is; the inputs (packets, context fields) are not
// part of a draft.
//
// Where a draft lives: under the address the page has when it is saved, the one a reload opens. A lesson
// (/learn/<slug>) keeps one per language (the form's data-draft-scope); "Start over" (?start=over) opens the
// starter as it is. A shared link (/p/<id>) keeps a draft of its own, so one share's edits never show up in another share; everything
// else (/, an example) shares the playground's draft. Running an edited share turns the address into "/"
// (urlstate.js: the link no longer describes the page), and a reload then opens "/": from that moment the
// draft is saved as the playground's, and the share's own draft is dropped (the work moved with the address;
// the link opens as shared again).
//
// Opening a page with a draft puts it back in the editor and says so, with a button to discard it. The hook is
// put back once htmx has set up the page, so that its change fetches the hook's input panel; the form hears
// "draft:restored" (and "draft:discarded"), on which editor.js drops the gutter marks of the result on
// screen, which was made from the page's program, not the draft.
"use strict";
(() => {
  const source = document.getElementById("source");
  const form = document.getElementById("editor");
  if (!source || !form || !window.localStorage) {
    return;
  }
  const type = document.getElementById("type");
  const language = document.getElementById("language");
  const unprivileged = document.getElementById("unprivileged");
  const PREFIX = "ebpf-playground:draft";

  function keyFor(path) {
    if (path.startsWith("/learn/")) { // each lesson, in each of its languages, keeps its own
      return `${PREFIX}:${path}:${form.dataset.draftScope || ""}`;
    }
    return path.startsWith("/p/") ? `${PREFIX}:${path}` : PREFIX;
  }
  const servedKey = keyFor(window.location.pathname);

  function initial(select) {
    if (!select) {
      return "";
    }
    const option = Array.from(select.options).find((o) => o.defaultSelected) || select.options[0];
    return option ? option.value : "";
  }

  const served = {
    source: source.defaultValue, type: initial(type), language: initial(language),
    unprivileged: Boolean(unprivileged && unprivileged.defaultChecked),
  };

  function current() {
    return {
      source: source.value, type: type ? type.value : "", language: language ? language.value : "",
      unprivileged: Boolean(unprivileged && unprivileged.checked),
    };
  }

  function same(a, b) {  // a draft saved before the loader box existed has no "unprivileged": root
    return a.source === b.source && a.type === b.type && a.language === b.language
      && Boolean(a.unprivileged) === Boolean(b.unprivileged);
  }

  function read(key) {
    try {
      const draft = JSON.parse(window.localStorage.getItem(key) || "null");
      return draft && typeof draft.source === "string" ? draft : null;
    } catch (e) {
      return null;
    }
  }

  function saveNow() {
    window.clearTimeout(timer);
    const key = keyFor(window.location.pathname);
    const now = current();
    try {
      if (key !== servedKey) {
        window.localStorage.removeItem(servedKey); // the address moved on: the work lives under the new one
      }
      if (key === servedKey && same(now, served)) {
        window.localStorage.removeItem(key); // a reload serves exactly this
      } else {
        window.localStorage.setItem(key, JSON.stringify({ ...now, saved: Date.now() }));
      }
    } catch (e) {
      // storage full or refused: the draft is simply not kept
    }
  }

  let timer = null;
  let changed = false; // something was edited since this page opened (or since the draft was discarded)
  function saveSoon() {
    changed = true;
    window.clearTimeout(timer);
    timer = window.setTimeout(saveNow, 300);
  }
  // Saved only when there is something to keep: the user edited, or the address moved away from the one the
  // page was served at (a draft put back and run unchanged must follow it). Saving an untouched page would
  // drop the playground's draft whenever an example is merely looked at.
  function saveIfChanged() {
    if (changed || keyFor(window.location.pathname) !== servedKey) {
      saveNow();
    }
  }

  function setSelect(select, value) {
    if (select && value && select.value !== value && Array.from(select.options).some((o) => o.value === value)) {
      select.value = value;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  function put(values) {
    source.value = values.source;
    source.dispatchEvent(new Event("input", { bubbles: true }));
    setSelect(language, values.language);
    setSelect(type, values.type); // htmx, set up by now, fetches the hook's input panel
    if (unprivileged) {
      unprivileged.checked = Boolean(values.unprivileged);
    }
  }

  function announce(draft) {
    const bar = document.createElement("p");
    bar.className = "draft-notice";
    bar.setAttribute("role", "status");
    const when = new Date(draft.saved || Date.now());
    const submit = document.getElementById("run");
    const verb = submit ? submit.textContent.trim().toLowerCase() : "run";
    bar.append(`Your draft from ${when.toLocaleString()} is back in the editor; the result below is still the `
      + `page's own program until you ${verb} it. `);
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "draft-discard";
    discard.textContent = "Discard the draft";
    discard.addEventListener("click", () => {
      window.localStorage.removeItem(servedKey);
      window.localStorage.removeItem(keyFor(window.location.pathname));
      put(served);
      changed = false; // back to what the page was served with: nothing to keep
      window.clearTimeout(timer);
      form.dispatchEvent(new CustomEvent("draft:discarded"));
      bar.remove();
      source.focus();
    });
    bar.append(discard);
    form.prepend(bar);
  }

  function restore() {
    const params = new URLSearchParams(window.location.search);
    const askedForProgram = params.has("example") || params.get("start") === "over"; // opens as it is
    const draft = askedForProgram ? null : read(servedKey);
    if (draft && !same(draft, served)) {
      put(draft);
      form.dispatchEvent(new CustomEvent("draft:restored"));
      announce(draft);
    }
    changed = false; // putting the draft back is not an edit: until the user edits, the stored draft stays
    window.clearTimeout(timer);
  }

  // htmx sets up the page (the hook's hx-get among it) in its own DOMContentLoaded listener, added when its
  // script ran, before this deferred script: listeners run in the order they were added, so ours comes after.
  if (document.readyState === "complete") {
    restore();
  } else {
    document.addEventListener("DOMContentLoaded", restore);
  }
  form.addEventListener("input", saveSoon);
  form.addEventListener("change", saveSoon);
  // A run of the editor may move the address (urlstate.js, whose listener ran first): save where it now points.
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt === form) {
      saveIfChanged();
    }
  });
  window.addEventListener("pagehide", saveIfChanged);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") {
      saveIfChanged();
    }
  });
})();
