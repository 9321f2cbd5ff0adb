// A bulk operation's page: polls its figures every 2 s (while the tab is visible), moves the bar and the
// headline, fetches the rows again when they moved, and stops once the operation is done. No build step.
"use strict";
(function () {
    const box = document.getElementById("bulk-progress");
    if (!box || !window.fetch || box.dataset.finished === "true") {
        return;
    }
    const url = box.dataset.progressUrl;
    let lastDone = null;

    function setText(name, value) {
        box.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) {
            el.textContent = value;
        });
    }

    // The rows and the fields below: this same page, fetched again, its parts swapped in.
    async function refreshRows() {
        const response = await fetch(window.location.href, {credentials: "same-origin", cache: "no-store"});
        if (!response.ok) {
            return;
        }
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        // The operation's fields (status, started, finished, rows) and its row per conversation.
        ["#content-main fieldset.module", "#items-group"].forEach(function (selector) {
            const mine = document.querySelector(selector);
            const theirs = fresh.querySelector(selector);
            if (mine && theirs) {
                mine.replaceChildren(...theirs.childNodes);
            }
        });
    }

    function render(p) {
        const bar = box.querySelector('[role="progressbar"]');
        bar.setAttribute("aria-valuenow", String(p.percent));
        bar.setAttribute("aria-valuetext", p.summary);
        const total = p.total || 1;
        bar.querySelectorAll("[data-segment]").forEach(function (seg) {
            seg.style.width = (100 * (p.counts[seg.dataset.segment] || 0) / total) + "%";
        });
        setText("percent", String(p.percent));
        setText("headline", p.headline);
        box.dataset.status = p.status;
        box.dataset.finished = p.finished ? "true" : "false";
        if (p.finished) {
            setText("live", "Every conversation of the operation has been dealt with.");
        }
        if (p.done !== lastDone || p.finished) {
            lastDone = p.done;
            refreshRows().catch(function () { /* the next change tries again */ });
        }
    }

    window.cxPoll({
        url: function () { return url; },
        every: 2000,
        onAnswer: function (figures) {
            render(figures);
            return figures.finished;
        },
        onTrouble: function (error) {
            setText("note", error ? "The figures cannot be updated (" + error + "); still trying. Reload the page if this stays." : "");
        },
    });
})();
