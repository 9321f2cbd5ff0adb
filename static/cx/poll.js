// One loop for every page that keeps itself current (a batch, a bulk operation, a conversation): asks a JSON
// endpoint every few seconds while the tab is visible, never two requests at once, backs off while it fails,
// catches up at once when the tab is shown again, and stops when the page says it is done. No build step.
"use strict";
/**
 * url():            the address to ask, read anew each time (a cursor may move)
 * every:            milliseconds between answers while all is well (doubling per failure, up to 30 s)
 * onAnswer(answer): handles the JSON (may be async); returns true when nothing more will change
 * onTrouble(error): after the third failure in a row, with the failure's message; with "" once answers come again
 */
window.cxPoll = function (options) {
  let failures = 0;
  let timer = null;
  let polling = false;
  let stopped = false;

  function schedule() {
    if (timer !== null || stopped) return;
    const wait = failures ? Math.min(30000, options.every * Math.pow(2, failures)) : options.every;
    timer = window.setTimeout(poll, wait);
  }

  async function poll() {
    timer = null;
    if (document.hidden || polling || stopped) return; // visibilitychange starts it again
    polling = true;
    try {
      const response = await fetch(options.url(), {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        cache: "no-store",
      });
      const type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("application/json") === -1) throw new Error("HTTP " + response.status);
      const answer = await response.json();
      failures = 0;
      options.onTrouble("");
      stopped = Boolean(await options.onAnswer(answer));
    } catch (error) {
      failures += 1;
      if (failures >= 3) options.onTrouble(error.message);
    } finally {
      polling = false;
    }
    schedule();
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && timer === null && !polling && !stopped) poll(); // back on the tab: at once
  });
  schedule();
};
