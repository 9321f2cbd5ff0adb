// The conversation's timeline: loads older or newer pages as the reader scrolls or jumps to a date, and prints.
"use strict";
(function () {
  const root = document.getElementById("cx-conversation");
  if (!root) return;
  const list = document.getElementById("timeline-items");
  const url = root.dataset.timelineUrl;
  let loading = false;

  const printButton = root.querySelector(".cx-print-button");
  printButton.hidden = false;
  printButton.addEventListener("click", async () => {
    // The whole conversation goes on paper, not only the pages scrolled through: load the rest first.
    const label = printButton.textContent;
    printButton.disabled = true;
    printButton.textContent = "Loading the whole conversation…";
    const whole = await loadEverything();
    printButton.textContent = label;
    printButton.disabled = false;
    if (!whole && !window.confirm("Some pages could not be loaded. Print what is shown?")) return;
    window.print();
  });
  const notes = root.querySelector(".cx-notes-checkbox");
  notes.hidden = false;
  notes.nextElementSibling.hidden = false;
  notes.addEventListener("change", () => root.classList.toggle("cx-print-no-notes", !notes.checked));

  function dedupeDateLines() {
    let last = null;
    for (const line of list.querySelectorAll(".cx-date-line")) {
      if (line.dataset.day === last) line.remove();
      else last = line.dataset.day;
    }
  }

  async function fetchItems(query) {
    const response = await fetch(url + "?" + new URLSearchParams(query), { credentials: "same-origin" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const holder = document.createElement("ol");
    holder.innerHTML = await response.text();
    return holder;
  }

  async function load(pager, query, where) {
    if (loading) return;
    loading = true;
    try {
      const holder = await fetchItems(query);
      holder.querySelectorAll(".cx-empty").forEach((e) => e.remove());
      if (where === "before") {
        holder.querySelectorAll(".cx-newer").forEach((e) => e.remove());
        const height = list.scrollHeight;
        pager.replaceWith(...holder.children);
        list.scrollTop += list.scrollHeight - height; // the reader stays where they were
      } else if (where === "after") {
        holder.querySelectorAll(".cx-older").forEach((e) => e.remove());
        pager.replaceWith(...holder.children);
      } else {
        list.replaceChildren(...holder.children);
      }
      dedupeDateLines();
      watch();
    } catch (error) {
      if (pager) pager.textContent = "Could not load more (" + error.message + "); follow the link instead.";
    } finally {
      loading = false;
    }
  }

  // Every page not shown yet, older and newer, one after another; false if one could not be loaded.
  async function loadEverything() {
    for (;;) {
      while (loading) await new Promise((resolve) => setTimeout(resolve, 50));
      const link = list.querySelector(".cx-pager a");
      if (!link) return true;
      const pager = link.parentElement;
      if (link.dataset.before) await load(pager, { before: link.dataset.before }, "before");
      else await load(pager, { after: link.dataset.after }, "after");
      if (pager.isConnected) return false; // still there: its page did not come
    }
  }

  list.addEventListener("click", (event) => {
    const link = event.target.closest(".cx-pager a");
    if (!link) return;
    event.preventDefault();
    const pager = link.parentElement;
    if (link.dataset.before) load(pager, { before: link.dataset.before }, "before");
    else load(pager, { after: link.dataset.after }, "after");
  });

  // Scrolling to either end loads the next page there.
  const observer = new IntersectionObserver(
    (entries) => {
      for (const entry of entries) if (entry.isIntersecting && !loading) entry.target.querySelector("a").click();
    },
    { root: list, rootMargin: "100px" }
  );
  function watch() {
    observer.disconnect();
    list.querySelectorAll(".cx-pager").forEach((pager) => observer.observe(pager));
  }

  root.querySelector(".cx-jump").addEventListener("submit", (event) => {
    const day = event.target.elements.date.value;
    if (!day) return;
    event.preventDefault();
    load(null, { date: day }, "replace").then(() => (list.scrollTop = 0));
  });

  // A link to a message of an older page (#message-<pk>, as the search gives): load the page it starts.
  const wanted = /^#message-(\d+)$/.exec(window.location.hash);
  if (wanted && !document.getElementById("message-" + wanted[1])) {
    load(null, { message: wanted[1] }, "replace").then(() => {
      const target = document.getElementById("message-" + wanted[1]);
      if (target) target.scrollIntoView();
    });
  } else if (!wanted) {
    list.scrollTop = list.scrollHeight; // the newest at the bottom, as in a chat
  }
  watch();
})();
