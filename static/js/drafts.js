// Drafts: the program being written survives a reload. Whenever the editor's program, language, hook, loader
// (the "Unprivileged loader" box) or inputs differ from what the page was served with, they are saved in this
// browser's localStorage (nothing is sent anywhere): a moment after typing stops, before a run, and when the
// page is hidden or left (pagehide, visibilitychange), so a reload never loses the last keystrokes. It is
// removed once it matches again. The inputs are the values of the form's other named fields (the input panel's
// packet fields, spec or hex, context fields, event, environment, seeds, max steps; not the CSRF token, nor a
// file upload, nor the Share button's view_* fields). An example asked for by name (/?example=...) opens as it
// is.
//
// Where a draft lives: under the address the page has when it is saved, the one a reload opens. A lesson
// (/learn/<slug>) keeps one per language (the form's data-draft-scope); "Start over" (?start=over) opens the
// starter as it is. A shared link (/p/<id>) keeps a draft of its own, so one share's edits never show up in another share; everything
// else (/, an example) shares the playground's draft. Running an edited share turns the address into "/"
// (urlstate.js: the link no longer describes the page), and a reload then opens "/": from that moment the
// draft is saved as the playground's, and the share's own draft is dropped (the work moved with the address;
// the link opens as shared again).
//
// Opening a page with a draft puts it back in the editor and says so, with a button to discard it. The hook
// and its input panel are put back once htmx has set up the page: the panel is asked for (POST /input, as the
// hook picker does) with the draft's inputs, which the server keeps, so a draft's packet layers bring their
// own fields; fields outside the panel are set in place, and a value for a field the page no longer has is
// dropped. A draft that was run as it is (the result the user last saw was its own: "ran") is then run
// again, as the Run button runs it, at the place the address names (?step=, ?run=, ?walk=, ?break=, written
// by urlstate.js): a reload of an edited program shows its result where the user was. A draft that was not
// run leaves the page's own result on screen, marked stale; the form hears "draft:restored" (and
// "draft:discarded"), on which editor.js drops the gutter marks of that result, made from the page's program,
// not the draft. Discarding a draft that was run again opens the page's address afresh (its own program and
// result, at the start).
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

  // The inputs: [name, value] pairs of the form's named fields (those outside it with form="editor" too) but
  // the ones kept on their own, the token, uploads and the Share button's fields, in document order.
  const OWN = new Set(["source", "language", "type", "unprivileged", "csrf_token", "parent"]);
  const POST_ONLY = ["/run", "/step", "/walk", "/map", "/input"]; // addresses only a form post opens
  function kept(element) { // the map panel's fields (map_*) declare a map to add, they are no input of a run
    return element.name && !OWN.has(element.name) && !element.name.startsWith("view_")
      && !element.name.startsWith("map_") && !element.disabled
      && !["file", "submit", "button", "reset", "image"].includes(element.type);
  }

  function inputs(defaults) {
    const pairs = [];
    for (const element of Array.from(form.elements).filter(kept)) {
      if (element.type === "checkbox" || element.type === "radio") {
        if (defaults ? element.defaultChecked : element.checked) {
          pairs.push([element.name, element.value]);
        }
      } else if (element.tagName === "SELECT") {
        const options = Array.from(element.options);
        const chosen = defaults ? options.filter((o) => o.defaultSelected) : options.filter((o) => o.selected);
        for (const option of chosen.length || element.multiple ? chosen : options.slice(0, 1)) {
          pairs.push([element.name, option.value]);
        }
      } else {
        pairs.push([element.name, defaults ? element.defaultValue : element.value]);
      }
    }
    return pairs;
  }

  const served = {
    source: source.defaultValue, type: initial(type), language: initial(language),
    unprivileged: Boolean(unprivileged && unprivileged.defaultChecked), inputs: inputs(true),
  };

  function current() {
    return {
      source: source.value, type: type ? type.value : "", language: language ? language.value : "",
      unprivileged: Boolean(unprivileged && unprivileged.checked), inputs: inputs(false),
    };
  }

  // A draft saved before the loader box existed has no "unprivileged" (root), one saved before inputs were
  // kept has no "inputs" (the page's, whatever they are).
  function same(a, b) {
    return a.source === b.source && a.type === b.type && a.language === b.language
      && Boolean(a.unprivileged) === Boolean(b.unprivileged)
      && (!Array.isArray(a.inputs) || !Array.isArray(b.inputs) || JSON.stringify(a.inputs) === JSON.stringify(b.inputs));
  }

  // What the last run of the editor sent (as current() gives it), to tell whether a draft was run as it is.
  let lastRun = null;
  function fingerprint(values) {
    return JSON.stringify([values.source, values.type, values.language, Boolean(values.unprivileged), values.inputs]);
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
        window.localStorage.setItem(key, JSON.stringify({ ...now, ran: fingerprint(now) === lastRun,
                                                          saved: Date.now() }));
      }
    } catch (e) {
      // storage full or refused: the draft is simply not kept
    }
  }

  let timer = null;
  let changed = false; // something was edited since this page opened (or since the draft was discarded)
  let restored = false; // a draft was put back (and not discarded): a run of it changes its "ran"
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
    if (Array.isArray(values.inputs) && type && panelUrl()) {
      if (values.type && Array.from(type.options).some((o) => o.value === values.type)) {
        type.value = values.type; // the panel is asked for with the draft's inputs (putInputs)
      }
    } else {
      setSelect(type, values.type); // htmx, set up by now, fetches the hook's input panel
    }
    if (unprivileged) {
      unprivileged.checked = Boolean(values.unprivileged);
    }
  }

  function panelUrl() {
    return document.getElementById("input-panel") && type && typeof htmx !== "undefined"
      ? type.getAttribute("hx-post") : null;
  }

  // The draft's inputs: the hook's panel from the server with them (it keeps the values sent, and a packet's
  // layers decide its fields), then the fields in place set to them; a field the page lacks is left out.
  function putInputs(pairs) {
    const url = panelUrl();
    const asked = url ? htmx.ajax("POST", url, {
      source: type, target: "#input-panel", swap: "outerHTML", values: valuesOf(pairs),
    }) : Promise.resolve();
    return asked.catch(() => null).then(() => setFields(pairs));
  }

  function valuesOf(pairs) {
    const values = {};
    for (const [name, value] of pairs) {
      values[name] = name in values ? [].concat(values[name], value) : value;
    }
    return values;
  }

  function setFields(pairs) {
    const byName = new Map();
    for (const [name, value] of pairs) {
      byName.set(name, [...(byName.get(name) || []), value]);
    }
    for (const [name, values] of byName) {
      let fields = Array.from(form.elements).filter((e) => e.name === name && kept(e));
      const add = document.getElementById("add-seed");
      while (name.startsWith("seed_") && add && fields.length && fields.length < values.length) {
        add.click(); // another row of map seeds
        const more = Array.from(form.elements).filter((e) => e.name === name && kept(e));
        if (more.length === fields.length) {
          break;
        }
        fields = more;
      }
      let next = 0;
      for (const field of fields) {
        if (field.type === "checkbox" || field.type === "radio") {
          field.checked = values.includes(field.value);
        } else if (field.tagName === "SELECT") {
          const value = values[next++];
          if (value !== undefined && Array.from(field.options).some((o) => o.value === value)) {
            field.value = value;
          }
        } else if (next < values.length) {
          field.value = values[next++];
        } else if (name.startsWith("seed_")) {
          field.value = ""; // a row the draft did not have
        }
      }
    }
    for (const field of form.querySelectorAll("[type=checkbox]")) { // a box left unticked sends nothing
      if (kept(field) && !byName.has(field.name)) {
        field.checked = false;
      }
    }
  }

  // The place the address names, for the run that puts a draft's result back (the server opens it there).
  let place = null;
  function placeOf(search) {
    const params = new URLSearchParams(search);
    const fields = {};
    for (const name of ["step", "run", "walk", "break"]) {
      if (params.get(name)) {
        fields[name] = params.get(name);
      }
    }
    return fields;
  }
  document.addEventListener("htmx:configRequest", (event) => {
    if (place !== null && event.detail.elt === form && /\/run$/.test(event.detail.path || "")) {
      for (const [name, value] of Object.entries(place)) {
        event.detail.parameters[name] = value;
      }
      place = null;
    }
  });

  // While a draft's result is on its way, the address keeps the place it was opened at (urlstate.js writes
  // nothing while the form's data-draft-result is "pending"): the page's own result, on screen meanwhile,
  // may not have that place.
  function runnable() {
    return document.getElementById("run") !== null && document.getElementById("result") !== null
      && /\/run$/.test(form.getAttribute("hx-post") || "") && typeof htmx !== "undefined";
  }

  function settled() {
    delete form.dataset.draftResult;
  }

  function runAgain() {
    if (!runnable()) {
      settled();
      return;
    }
    place = placeOf(window.location.search);
    const done = (event) => {
      if (event.type === "htmx:afterSettle" && !(event.target && event.target.id === "result")) {
        return;
      }
      settled();
      place = null;
      for (const name of ["htmx:afterSettle", "htmx:responseError", "htmx:sendError", "htmx:sendAbort"]) {
        document.removeEventListener(name, done);
      }
    };
    for (const name of ["htmx:afterSettle", "htmx:responseError", "htmx:sendError", "htmx:sendAbort"]) {
      document.addEventListener(name, done);
    }
    form.requestSubmit(document.getElementById("run"));
  }

  function announce(draft, again) {
    const bar = document.createElement("p");
    bar.className = "draft-notice";
    bar.setAttribute("role", "status");
    const when = new Date(draft.saved || Date.now());
    const submit = document.getElementById("run");
    const verb = submit ? submit.textContent.trim().toLowerCase() : "run";
    bar.append(again
      ? `Your draft from ${when.toLocaleString()} is back in the editor, with its inputs, and its result below. `
      : `Your draft from ${when.toLocaleString()} is back in the editor; the result below is still the `
        + `page's own program until you ${verb} it. `);
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "draft-discard";
    discard.textContent = "Discard the draft";
    discard.addEventListener("click", () => {
      window.localStorage.removeItem(servedKey);
      window.localStorage.removeItem(keyFor(window.location.pathname));
      restored = false;
      if (again) { // the result on screen is the draft's: the page's address gives its own program and result
        changed = false;
        window.clearTimeout(timer);
        const url = new URL(window.location.href);
        for (const name of ["step", "run", "walk", "break"]) {
          url.searchParams.delete(name);
        }
        window.location.replace(url.href);
        return;
      }
      put(served);
      putInputs(served.inputs);
      nameExample(true);
      changed = false; // back to what the page was served with: nothing to keep
      window.clearTimeout(timer);
      form.dispatchEvent(new CustomEvent("draft:discarded"));
      bar.remove();
      source.focus();
    });
    bar.append(discard);
    form.prepend(bar);
  }

  // The draft to put back, known as soon as this script runs (before urlstate.js, which would write the place
  // of the page's own result into the address), and whether it is run again.
  const opened = new URLSearchParams(window.location.search);
  // Pages that answer a form post (no JavaScript's Run, the map panel's "Add the map", "Show its inputs") hold
  // the program just sent, perhaps changed by the server (a .map line added): newer than any draft.
  const answersPost = POST_ONLY.includes(window.location.pathname);
  const askedForProgram = opened.has("example") || opened.get("start") === "over" || answersPost; // as it is
  const stored = askedForProgram ? null : read(servedKey);
  const draft = stored && !same(stored, served) ? stored : null;
  const again = Boolean(draft && draft.ran && Array.isArray(draft.inputs) && runnable());
  if (again) {
    form.dataset.draftResult = "pending";
  }

  // The examples menu names the page's own program: not the draft's, once it is put back.
  function nameExample(named) {
    const menu = document.getElementById("example");
    if (!menu) {
      return;
    }
    let blank = Array.from(menu.options).find((o) => o.value === "");
    if (named) {
      for (const option of menu.options) {
        option.selected = option.defaultSelected;
      }
    } else {
      if (!blank) {
        blank = new Option("Choose an example…", "");
        blank.disabled = true;
        menu.prepend(blank);
      }
      blank.selected = true;
    }
  }

  function restore() {
    if (draft) {
      restored = true;
      put(draft);
      nameExample(false);
      form.dispatchEvent(new CustomEvent("draft:restored"));
      announce(draft, again);
      if (Array.isArray(draft.inputs)) {
        putInputs(draft.inputs).then(() => {
          if (again && source.value === draft.source) {
            runAgain();
          } else {
            settled(); // the user typed meanwhile: what is in the editor is not what was run
          }
        });
      }
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
  // A run also records what it ran, so that the draft says whether it was run as it is ("ran").
  document.addEventListener("htmx:beforeRequest", (event) => {
    if (event.detail.elt === form) {
      const config = event.detail.requestConfig || {};
      if (/\/run$/.test(config.path || (event.detail.pathInfo || {}).requestPath || "")) {
        lastRun = fingerprint(current());
        if (restored) {
          saveNow();
          return;
        }
      }
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
