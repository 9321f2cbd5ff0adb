// The conversation's timeline: loads older or newer pages as the reader scrolls or jumps to a date, prints, and
// keeps itself current: every 2 s (while the tab is visible) it asks what changed since it last looked and puts
// new messages, the console's actions and the bot's decisions in their place, and the new state above.
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

  // -- live: what changed since the page last looked -------------------------------------------------------
  const liveUrl = root.dataset.liveUrl;
  let since = root.dataset.since;
  let version = root.dataset.version;
  const stateLine = document.getElementById("cx-live-state");

  const MANY_CHANGED = "Many messages changed: scroll down to the newest, or reload the page.";

  function liveNote(text) {
    const note = stateLine.querySelector('[data-field="live"]');
    if (note) note.textContent = text;
  }

  function atBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  }

  function shownKeys() {
    const items = list.querySelectorAll(".cx-item[data-key]");
    return items.length ? [items[0].dataset.key, items[items.length - 1].dataset.key] : null;
  }

  // Puts one new or changed item where its key belongs among the items shown; an item outside the pages
  // loaded is left for the pager there (it comes when the reader scrolls to it).
  function place(item, dateLine) {
    const old = document.getElementById(item.id);
    if (old) {
      if (old.outerHTML !== item.outerHTML) old.replaceWith(item);
      return false;
    }
    const range = shownKeys();
    const key = item.dataset.key;
    if (range && key < range[0] && list.querySelector(".cx-older")) return false;
    if (range && key > range[1] && list.querySelector(".cx-newer")) {
      liveNote("New messages: scroll down to load them.");
      return false;
    }
    let next = null;
    for (const other of list.querySelectorAll(".cx-item[data-key]")) {
      if (other.dataset.key > key) {
        next = other;
        break;
      }
    }
    if (next) {
      // Before the next item's date line when that line is of a later day than this item.
      const line = next.previousElementSibling;
      const anchor = line && line.classList.contains("cx-date-line") && line.dataset.day > item.dataset.day ? line : next;
      if (dateLine) anchor.before(dateLine);
      anchor.before(item);
    } else {
      const tail = list.querySelector(".cx-newer");
      const nodes = dateLine ? [dateLine, item] : [item];
      if (tail) tail.before(...nodes);
      else list.append(...nodes);
    }
    list.querySelectorAll(".cx-empty").forEach((e) => e.remove());
    return true;
  }

  function applyItems(html) {
    const holder = document.createElement("ol");
    holder.innerHTML = html;
    let line = null;
    let added = 0;
    for (const node of Array.from(holder.children)) {
      if (node.classList.contains("cx-date-line")) line = node;
      else if (node.classList.contains("cx-item")) {
        added += place(node, line ? line.cloneNode(true) : null) ? 1 : 0;
      }
    }
    dedupeDateLines();
    return added;
  }

  function applyState(answer) {
    for (const [name, text] of Object.entries(answer.state)) {
      const span = stateLine.querySelector('[data-field="' + name + '"]');
      if (span) span.textContent = text;
    }
    for (const [name, text] of Object.entries(answer.fields)) {
      const box = document.querySelector(".field-" + name + " .readonly");
      if (box) box.textContent = text;
    }
    // An action no longer open to this conversation (Finish once it is resolved) loses its button.
    document.querySelectorAll("a.cx-action").forEach((link) => {
      if (!answer.actions.includes(link.getAttribute("href"))) link.closest("li").remove();
    });
  }

  async function applyAnswer(answer) {
    const follow = atBottom();
    const atNewest = follow && !list.querySelector(".cx-newer"); // at the bottom, with no newer page to load
    since = answer.since;
    const note = stateLine.querySelector('[data-field="live"]');
    if (atNewest && note && note.textContent === MANY_CHANGED) {
      liveNote(""); // the reader has scrolled down to the newest: the note has done its work
    }
    if (answer.reload && !atNewest) {
      // Too much changed to place piece by piece, and the reader is not at the newest (scrolled up, on a
      // date, at a search's link): their place is kept; the rest comes as they scroll, or with a reload.
      liveNote(MANY_CHANGED);
    } else if (answer.reload) {
      await load(null, {}, "replace");
      list.scrollTop = list.scrollHeight;
    } else if (answer.items && applyItems(answer.items) && follow) {
      list.scrollTop = list.scrollHeight; // the reader was at the newest: stay there, as in a chat
    }
    if (answer.figures) document.getElementById("figures").innerHTML = answer.figures;
    if (answer.version !== version) {
      applyState(answer);
      version = answer.version;
    }
    return false; // a conversation can always change again
  }

  if (liveUrl && window.fetch) {
    window.cxPoll({
      url: () => liveUrl + "?" + new URLSearchParams({ since: since, version: version }),
      every: 2000,
      onAnswer: applyAnswer,
      onTrouble: (error) => {
        if (error) liveNote("Cannot update (" + error + "); still trying. Reload if this stays.");
        else if (stateLine.querySelector('[data-field="live"]').textContent.startsWith("Cannot")) liveNote("");
      },
    });
  }
})();
