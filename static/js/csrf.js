// Adds this session's CSRF token (from <meta name="csrf-token">) to every htmx request as X-CSRF-Token.
// Forms also carry it as a hidden field; the header covers requests htmx builds itself.
"use strict";
document.addEventListener("htmx:configRequest", (event) => {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    event.detail.headers["X-CSRF-Token"] = meta.content;
  }
});
