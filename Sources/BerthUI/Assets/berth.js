// Berth's web UI: a little script where it helps. Every page works without it (reading, searching by the form,
// deleting through the confirmation page); with it, each pull line gets a copy button and the repositories'
// search box filters as you type. Served as a file ('self' in the pages' Content-Security-Policy), never inline.
"use strict";

function copyButtons() {
  for (const code of document.querySelectorAll("pre.commands code")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy";
    button.textContent = "Copy";
    button.addEventListener("click", () => {
      const done = (label) => { button.textContent = label; setTimeout(() => { button.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(code.textContent).then(() => done("Copied"), () => done("Select and copy"));
      } else {
        done("Select and copy");
      }
    });
    code.after(" ", button);
  }
}

// The search box asks the same page the form would (GET ?q=), a moment after the last key, and puts the answer's
// results in place of the old ones; the address follows, so a reload or a shared link shows the same.
function searchAsYouType() {
  const form = document.querySelector("form.search");
  const results = document.getElementById("results");
  if (!form || !results) return;
  const input = form.querySelector("input[name=q]");
  let timer = null, asked = 0;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const url = form.getAttribute("action") + (input.value ? "?q=" + encodeURIComponent(input.value) : "");
      const mine = ++asked;
      try {
        const response = await fetch(url, { credentials: "same-origin" });
        if (!response.ok || mine !== asked) return;
        const page = new DOMParser().parseFromString(await response.text(), "text/html");
        const fresh = page.getElementById("results");
        if (fresh && mine === asked) {
          results.replaceChildren(...fresh.childNodes);
          history.replaceState(null, "", url);
        }
      } catch (error) {
        // The form still works: Enter submits it.
      }
    }, 150);
  });
}

copyButtons();
searchAsYouType();
