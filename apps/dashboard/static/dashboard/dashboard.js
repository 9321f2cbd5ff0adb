// The day at a glance: draws the figures with Chart.js (served by the console, see README) and keeps them
// current by polling the dashboard's JSON endpoint; a bar opens the rows of its hour (or day).
(function () {
  "use strict";
  const root = document.querySelector(".glance");
  const source = document.getElementById("dashboard-figures");
  if (!root || !source || typeof window.Chart === "undefined") return;
  let figures = JSON.parse(source.textContent);
  const charts = {};
  const COLOURS = {
    placed: "#2e7d32", failed: "#c62828", unknown: "#ef6c00", skipped: "#9e9e9e", cancelled: "#546e7a",
    with_bot: "#42a5f5", with_agent: "#ab47bc", contained: "#2e7d32", finished_by_agent: "#00897b",
    received: "#90a4ae", processed: "#2e7d32", ignored: "#bdbdbd",
    ok: "#66bb6a", errors: "#c62828", rate_limited: "#ef6c00",
  };
  const QUEUE_COLOURS = ["#1565c0", "#6a1b9a", "#00838f", "#ad1457", "#558b2f", "#4e342e"];

  function at(data, path) {
    return path.split(".").reduce((value, key) => (value == null ? value : value[key]), data);
  }

  function rowsLink(line, index) {
    // The series' rows, narrowed to the bar's hour (or day) on the list's own time field; a list that
    // filters by whole days (conversations) to the bar's day.
    const url = new URL(line.link, window.location.href);
    const bounds = figures.bounds;
    if (line.time_field) {
      url.searchParams.set(line.time_field + "__gte", bounds[index]);
      url.searchParams.set(line.time_field + "__lt", bounds[index + 1]);
    } else if (line.day_field) {
      const day = figures.bucket_days[index];
      url.searchParams.set(line.day_field + "__from", day);
      url.searchParams.set(line.day_field + "__to", day);
    }
    return url.pathname + url.search;
  }

  function barChart(id, series, extra) {
    const canvas = document.getElementById(id);
    if (!canvas) return;
    const datasets = series().map((line) => ({
      label: line.label, data: line.counts, backgroundColor: COLOURS[line.key] || "#78909c", stack: "all",
    }));
    charts[id] = new window.Chart(canvas, {
      type: "bar",
      data: { labels: figures.labels, datasets: datasets.concat(extra ? extra.datasets() : []) },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        interaction: { mode: "nearest", intersect: true },
        scales: Object.assign(
          { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } },
          extra ? extra.scales : {}
        ),
        onClick: (event, elements) => {
          const hit = elements[0];
          if (!hit) return;
          const line = series()[hit.datasetIndex];
          if (line) window.location.href = rowsLink(line, hit.index);
        },
        onHover: (event, elements) => { event.native.target.style.cursor = elements.length ? "pointer" : "default"; },
      },
    });
    charts[id].$series = series;
    charts[id].$extra = extra;
  }

  function queueDatasets() {
    const queues = figures.callbacks ? figures.callbacks.queues.queues : [];
    const sets = [];
    queues.forEach((queue, n) => {
      const colour = QUEUE_COLOURS[n % QUEUE_COLOURS.length];
      const name = queue.queue + (queue.tenant ? " (" + queue.tenant + ")" : "");
      sets.push({ label: name, data: queue.per_minute, borderColor: colour, backgroundColor: colour, pointRadius: 0, tension: 0.2 });
      sets.push({
        label: name + " limit", data: queue.per_minute.map(() => queue.limit), borderColor: colour,
        borderDash: [6, 4], pointRadius: 0, borderWidth: 1,
      });
    });
    return sets;
  }

  function queueChart() {
    const canvas = document.getElementById("chart-queues");
    if (!canvas || !figures.callbacks) return;
    charts.queues = new window.Chart(canvas, {
      type: "line",
      data: { labels: figures.callbacks.queues.minutes, datasets: queueDatasets() },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 12 } } },
        onClick: (event, elements) => {
          const hit = elements[0];
          const queue = hit && figures.callbacks.queues.queues[Math.floor(hit.datasetIndex / 2)];
          if (queue) window.location.href = queue.link;
        },
      },
    });
  }

  function draw() {
    if (figures.callbacks) barChart("chart-callbacks", () => figures.callbacks.ended);
    queueChart();
    if (figures.conversations) barChart("chart-conversations", () => figures.conversations.series);
    if (figures.events) barChart("chart-events", () => figures.events.series);
    if (figures.api) {
      barChart("chart-api", () => figures.api.series, {
        datasets: () => [{
          type: "line", label: "error rate (%)", yAxisID: "rate", borderColor: "#37474f", backgroundColor: "#37474f",
          data: figures.api.error_rate_per_bucket.map((rate) => (rate == null ? null : Math.round(rate * 1000) / 10)),
          pointRadius: 2, stack: "rate",
        }],
        scales: { rate: { position: "right", beginAtZero: true, suggestedMax: 10, grid: { drawOnChartArea: false }, ticks: { callback: (v) => v + " %" } } },
      });
    }
  }

  function cell(row, text, href) {
    const td = document.createElement("td");
    if (href) {
      const a = document.createElement("a");
      a.href = href;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
  }

  function fillTable(id, items, columns, empty) {
    const body = document.querySelector("#" + id + " tbody");
    if (!body || !items) return;
    body.replaceChildren();
    items.forEach((item) => {
      const row = document.createElement("tr");
      columns.forEach(([text, href]) => cell(row, String(text(item)), href ? href(item) : ""));
      body.appendChild(row);
    });
    if (!items.length) {
      const row = document.createElement("tr");
      const td = document.createElement("td");
      td.colSpan = columns.length;
      td.textContent = empty;
      row.appendChild(td);
      body.appendChild(row);
    }
  }

  function update(fresh) {
    figures = fresh;
    root.querySelectorAll("[data-value]").forEach((node) => {
      const value = at(figures, node.dataset.value);
      if (value !== undefined && value !== null) node.textContent = value;
    });
    root.querySelectorAll("[data-href]").forEach((node) => {
      const value = at(figures, node.dataset.href);
      if (value) node.href = value;
    });
    Object.entries(charts).forEach(([id, chart]) => {
      if (id === "queues") {
        chart.data.labels = figures.callbacks.queues.minutes;
        chart.data.datasets = queueDatasets();
      } else {
        chart.data.labels = figures.labels;
        const lines = chart.$series();
        lines.forEach((line, n) => { if (chart.data.datasets[n]) chart.data.datasets[n].data = line.counts; });
        if (chart.$extra) chart.$extra.datasets().forEach((set, n) => { chart.data.datasets[lines.length + n].data = set.data; });
      }
      chart.update("none");
    });
    if (figures.callbacks) {
      fillTable("table-queues", figures.callbacks.queues.queues, [
        [(q) => q.queue, (q) => q.link], [(q) => q.tenant], [(q) => q.last_minute], [(q) => q.peak],
        [(q) => (q.limit_link ? q.limit : q.limit + " (default)"), (q) => q.limit_link],
      ], "No queue has a limit or a call yet.");
    }
    if (figures.conversations) {
      fillTable("table-bots", figures.conversations.bots, [
        [(b) => b.bot, (b) => b.link], [(b) => b.opened, (b) => b.conversations_link], [(b) => b.handed],
        [(b) => b.finished], [(b) => b.containment_text], [(b) => b.handoff_rate_text],
      ], "No conversation opened in the range.");
    }
    if (figures.events && figures.events.refusals) {
      fillTable("table-refusals", figures.events.refusals, [[(r) => r.label], [(r) => r.count, (r) => r.link]], "");
    }
    root.dataset.refreshed = figures.generated_at;
  }

  function refresh() {
    if (document.hidden) return; // a tab nobody looks at asks for nothing; it catches up when shown again
    fetch(root.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => {
        if (!response.ok || !(response.headers.get("Content-Type") || "").includes("json")) {
          throw new Error(response.status === 200 ? "logged out?" : "HTTP " + response.status);
        }
        return response.json();
      })
      .then((fresh) => {
        update(fresh);
        root.classList.remove("glance-stale");
      })
      .catch((error) => {
        root.classList.add("glance-stale");
        const status = root.querySelector(".glance-status");
        if (status) status.dataset.error = "Could not refresh (" + error.message + "); trying again.";
      });
  }

  draw();
  root.dataset.drawn = "yes";
  const every = Math.max(5, parseInt(root.dataset.refresh, 10) || 20) * 1000;
  window.setInterval(refresh, every);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
})();
