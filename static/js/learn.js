// The course page: "Forget my progress" asks first, and forgets this browser's lesson drafts too (drafts.js
// keeps them in localStorage under the lesson's address); the server deletes the rest. Plain JS.
"use strict";
(() => {
  const form = document.querySelector("form.forget");
  if (!form) {
    return;
  }
  const DRAFTS = "ebpf-playground:draft:/learn/";
  form.addEventListener("submit", (event) => {
    if (!window.confirm("Forget every lesson's progress and kept program in this browser?")) {
      event.preventDefault();
      return;
    }
    try {
      for (const key of Object.keys(window.localStorage)) {
        if (key.startsWith(DRAFTS)) {
          window.localStorage.removeItem(key);
        }
      }
    } catch (e) {
      // storage refused: the server still forgets
    }
  });
})();
