// Drafts: the program being written survives a reload. Whenever the editor's program, language, hook or
// loader (the "Unprivileged loader" box) differs from what the page was served with, it is saved in this browser's localStorage (nothing is sent
// anywhere); it is removed once it matches again. The playground's own draft belongs to "/" (editing an
// example writes it too); a shared link (/p/<id>) keeps a draft of its own. Opening "/" or a shared link
// with a draft puts it back in the editor and says so, with a button to discard it; an example asked for by
// name (/?example=...) opens as it is. The inputs (packets, context fields) are not part of a draft.
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
  const path = window.location.pathname;
  const KEY = path.startsWith("/p/") ? `ebpf-playground:draft:${path}` : "ebpf-playground:draft";

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

  function read() {
    try {
      const draft = JSON.parse(window.localStorage.getItem(KEY) || "null");
      return draft && typeof draft.source === "string" ? draft : null;
    } catch (e) {
      return null;
    }
  }

  let timer = null;
  function save() {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      const now = current();
      try {
        if (same(now, served)) {
          window.localStorage.removeItem(KEY);
        } else {
          window.localStorage.setItem(KEY, JSON.stringify({ ...now, saved: Date.now() }));
        }
      } catch (e) {
        // storage full or refused: the draft is simply not kept
      }
    }, 300);
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
    setSelect(type, values.type);
    if (unprivileged) {
      unprivileged.checked = Boolean(values.unprivileged);
    }
  }

  function announce(draft) {
    const bar = document.createElement("p");
    bar.className = "draft-notice";
    bar.setAttribute("role", "status");
    const when = new Date(draft.saved || Date.now());
    bar.append(`Your draft from ${when.toLocaleString()} is back in the editor; the result below is still the `
      + "page's own program until you run it. ");
    const discard = document.createElement("button");
    discard.type = "button";
    discard.className = "draft-discard";
    discard.textContent = "Discard the draft";
    discard.addEventListener("click", () => {
      window.localStorage.removeItem(KEY);
      put(served);
      bar.remove();
      source.focus();
    });
    bar.append(discard);
    form.prepend(bar);
  }

  const askedForExample = new URLSearchParams(window.location.search).has("example");
  const draft = askedForExample ? null : read();
  if (draft && !same(draft, served)) {
    put(draft);
    announce(draft);
  }
  form.addEventListener("input", save);
  form.addEventListener("change", save);
})();
