// The batch page's progress: polls the batch's JSON figures every 2 s and updates the bar and counts in
// place; stops once the batch is over (finished or cancelled, nothing left open), and takes its Pause and
// Cancel buttons away then. No dependencies, no build step.
"use strict";
(function () {
    const box = document.getElementById("batch-progress");
    if (!box || !window.fetch) {
        return;
    }
    const url = box.dataset.progressUrl;
    const startStatus = box.dataset.status;

    function setText(name, value) {
        box.querySelectorAll('[data-field="' + name + '"]').forEach(function (el) {
            el.textContent = value;
        });
    }

    function note(text) {
        setText("note", text);
    }

    // The per-row outcomes below the bar: fetched again (this same page) when the counts moved.
    function countsKey(countOf) {
        return Array.from(box.querySelectorAll("[data-count]"), function (el) {
            return countOf(el.dataset.count);
        }).join(",");
    }
    let lastCounts = countsKey(function (state) {
        return (box.querySelector('[data-count="' + state + '"]') || {}).textContent;
    });
    async function refreshOutcomes() {
        const table = document.getElementById("batch-outcomes");
        if (!table) {
            return;
        }
        const response = await fetch(window.location.href, {credentials: "same-origin", cache: "no-store"});
        if (!response.ok) {
            return;
        }
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("batch-outcomes");
        if (fresh) {
            table.replaceChildren(...fresh.childNodes);
        }
    }

    function render(p) {
        const counts = countsKey(function (state) {
            return String(p.counts[state] || 0);
        });
        if (counts !== lastCounts) {
            refreshOutcomes().catch(function () { /* the next change tries again */ });
        }
        lastCounts = counts;
        const bar = box.querySelector('[role="progressbar"]');
        bar.setAttribute("aria-valuenow", String(p.percent));
        bar.setAttribute("aria-valuetext", p.summary);
        const total = p.total || 1;
        bar.querySelectorAll("[data-segment]").forEach(function (seg) {
            seg.style.width = (100 * (p.counts[seg.dataset.segment] || 0) / total) + "%";
        });
        box.querySelectorAll("[data-count]").forEach(function (el) {
            el.textContent = String(p.counts[el.dataset.count] || 0);
        });
        setText("percent", String(p.percent));
        setText("status_label", p.status_label);
        setText("per_minute", String(p.per_minute));
        setText("time_left", p.time_left);
        setText("done", String(p.done));
        setText("total", String(p.total));
        const waiting = box.querySelector('[data-field="waiting"]');
        if (waiting) {
            waiting.textContent = p.waiting;
            waiting.hidden = !p.waiting;
        }
        box.dataset.finished = p.finished ? "true" : "false";
        box.dataset.status = p.status;
        const statusField = document.querySelector(".field-status .readonly");
        if (statusField) {
            statusField.textContent = p.status_label; // the field below the bar says the same
        }
        if (p.finished) {
            setText("live", "Finished: every callback of the batch is over.");
        }
        if (p.status === "finished" || p.status === "cancelled") {
            // Nothing left to pause or cancel: the buttons go, as they would on a reload.
            ["batch-pause", "batch-resume", "batch-cancel"].forEach(function (id) {
                const control = document.getElementById(id);
                if (control) {
                    control.closest("li").remove();
                }
            });
        } else if (p.status !== startStatus) {
            note("The batch is now " + p.status_label.toLowerCase() + ": reload the page for its buttons.");
        }
    }

    if (box.dataset.finished !== "true") {
        window.cxPoll({
            url: function () { return url; },
            every: 2000,
            onAnswer: function (figures) {
                render(figures);
                return figures.finished;
            },
            onTrouble: function (error) {
                note(error ? "The figures cannot be updated (" + error + "); still trying. Reload the page if this stays." : "");
            },
        });
    }
})();
