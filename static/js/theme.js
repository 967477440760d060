// The theme switch: light, dark, or the system's (prefers-color-scheme). The choice is kept in this
// browser's localStorage and shown as data-theme="light"/"dark" on <html>, which app.css keys its colours on;
// "system" is no attribute at all, so without JavaScript (or storage) the system's theme applies.
// Loaded without defer in <head>: the attribute is set before the first paint, so a chosen theme never
// flashes the other one. The switch itself stays hidden until this script has wired it.
(() => {
  "use strict";
  const KEY = "ebpf-playground:theme";
  const root = document.documentElement;

  const stored = () => {
    try {
      const value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "system";
    } catch (e) {
      return "system"; // storage disabled: follow the system
    }
  };

  const apply = (theme) => {
    if (theme === "system") {
      root.removeAttribute("data-theme");
    } else {
      root.setAttribute("data-theme", theme);
    }
  };

  const save = (theme) => {
    try {
      if (theme === "system") {
        window.localStorage.removeItem(KEY);
      } else {
        window.localStorage.setItem(KEY, theme);
      }
    } catch (e) {
      // storage disabled: the choice lasts until the page is left
    }
  };

  apply(stored());

  document.addEventListener("DOMContentLoaded", () => {
    const select = document.getElementById("theme-choice");
    if (!select) {
      return;
    }
    select.value = stored();
    select.addEventListener("change", () => {
      save(select.value);
      apply(select.value);
    });
    window.addEventListener("storage", (event) => { // another tab switched
      if (event.key === KEY || event.key === null) {
        select.value = stored();
        apply(select.value);
      }
    });
    select.closest(".theme-switch").hidden = false;
  });
})();
