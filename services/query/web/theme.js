// The light/dark theme of every page (viewer and ops): the saved choice, else
// the system's; the #theme button flips it.
"use strict";
(() => {
  const apply = (t) => {
    document.documentElement.dataset.theme = t;
    localStorage.setItem("mnemo.theme", t);
  };
  apply(localStorage.getItem("mnemo.theme") || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
  document.addEventListener("DOMContentLoaded", () => {
    const b = document.querySelector("#theme");
    if (b) b.addEventListener("click", () => apply(document.documentElement.dataset.theme === "dark" ? "light" : "dark"));
  });
})();
