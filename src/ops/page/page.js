// wanctl's status page: reads /api/status (what `wanctl status --json` prints), /api/activity and
// /api/history, and draws them. Plain browser JavaScript, no build step; every text from the
// daemon goes in through textContent, never as HTML.
/* global uPlot */
"use strict";

const LINK_COLORS = ["#2457c5", "#d9480f", "#2b8a3e", "#862e9c", "#0b7285", "#a61e4d"];
const STATUS_EVERY_MS = 2000;
const ACTIVITY_EVERY_MS = 5000;
const HISTORY_EVERY_MS = 60000;

let range = "24h";
let lastSwitchSeen;
const charts = {};

// --- small helpers ----------------------------------------------------------------------------

function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function fill(id, ...children) {
  document.getElementById(id).replaceChildren(...children.flat());
}

const fixed = (value, digits) => (value === null || value === undefined ? "–" : value.toFixed(digits));
const ms = (value) => (value === null || value === undefined ? "–" : value < 10 ? `${value.toFixed(1)} ms` : `${Math.round(value)} ms`);
const duration = (milliseconds) => (milliseconds < 1000 ? `${Math.round(milliseconds)} ms` : milliseconds < 60000 ? `${(milliseconds / 1000).toFixed(1)} s` : `${Math.round(milliseconds / 60000)} min`);

function ago(when) {
  const seconds = Math.max(0, Math.round((Date.now() - (typeof when === "number" ? when : Date.parse(when))) / 1000));
  if (seconds < 90) return `${seconds} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

function clock(when) {
  const date = new Date(when);
  const today = new Date().toDateString() === date.toDateString();
  return today ? date.toLocaleTimeString() : date.toLocaleString();
}

const badge = (text, kind) => h("span", { class: `badge ${kind || text}`, text });

async function getJson(path) {
  const response = await fetch(path, { cache: "no-store", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// --- status: the summary, notices, links, DNS, alerts -------------------------------------------

function summaryLine(status) {
  const active = status.active;
  const primary = [...status.links].sort((a, b) => a.priority - b.priority)[0];
  const others = status.links.filter((l) => l.name !== active).map((l) => `${l.name} ${l.state}`);
  const parts = [h("strong", { text: active ? `On ${active}` : "On no link" })];
  if (active && primary && active !== primary.name) parts.push(" (backup)");
  if (others.length) parts.push(`; ${others.join(", ")}`);
  const last = status.lastSwitch;
  if (last) parts.push(`; last switch ${last.from || "none"} → ${last.to} ${ago(last.startedAt)}${last.ok ? "" : " (FAILED)"}`);
  return parts;
}

function notices(status) {
  const list = [];
  if (!status.running) list.push(["bad", `The daemon is not running: this is its last status (${clock(status.updatedAt)}).`]);
  if (status.links.every((l) => l.state === "down")) list.push(["bad", `All links are down: staying on ${status.active || "no link"}.`]);
  if (status.gateway && status.gateway.state === "down") list.push(["bad", "No Internet through the router: its way out does not answer wanctl's probes."]);
  if (status.pending) list.push(["bad", `Not done on ${status.pending.link} since ${clock(status.pending.since)}: ${status.pending.steps.join(", ")} (retried with backoff).`]);
  if (status.switching) list.push(["warn", `Switching ${status.switching.from || "none"} → ${status.switching.to}: route done, later steps running.`]);
  if (status.pin && status.pin.mode === "pinned") list.push(["warn", `Pinned to ${status.pin.link} by the operator (\`wanctl auto\` unpins).`]);
  if (status.decision && status.decision.warning) list.push(["warn", status.decision.warning]);
  return list.map(([kind, text]) => h("div", { class: `notice ${kind}`, role: "status", text }));
}

/** A link's card; `where` replaces its interface and priority (the gateway's way out is no link). */
function linkCard(link, status, where = `${link.interface} · priority ${link.priority}`) {
  const active = link.name === status.active;
  const round = link.lastRound ? `${link.lastRound.answered}/${link.lastRound.targets} answered` : "no round yet";
  return h(
    "article",
    { class: `card${active ? " active" : ""}`, "data-link": link.name, "data-state": link.state },
    h("div", { class: "card-head" }, h("span", { class: "name", text: link.name }), h("span", {}, active ? badge("active", "active") : null, " ", badge(link.state))),
    h("div", { class: "muted", text: `${where} · ${link.state} since ${clock(link.since)}` }),
    h(
      "div",
      { class: "figures" },
      h("div", {}, h("span", { class: "label", text: "loss" }), h("span", { class: "value", text: link.lossPct === null ? "–" : `${fixed(link.lossPct, 1)} %` })),
      h("div", {}, h("span", { class: "label", text: "latency" }), h("span", { class: "value", text: ms(link.latencyMs) })),
      h("div", {}, h("span", { class: "label", text: "jitter" }), h("span", { class: "value", text: ms(link.jitterMs) })),
    ),
    h("p", { class: "reason", text: link.reason ? `${round}; ${link.reason}` : round }),
  );
}

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col", text: t })))), h("tbody", {}, rows));
}

function dnsTable(records) {
  if (!records || records.length === 0) return h("p", { class: "muted", text: "No DNS records configured." });
  return table(
    ["record", "value", "last update"],
    records.map((r) => {
      const last = r.last ? `${r.last.outcome} ${ago(r.last.at)}${r.last.ok ? "" : `: ${r.last.detail}`}` : "never updated";
      const extra = r.stopped ? ` · STOPPED: ${r.stopped.reason}` : r.retryAt ? ` · next try ${clock(r.retryAt)}` : "";
      return h(
        "tr",
        { "data-record": r.record },
        h("td", {}, r.record, h("div", { class: "muted", text: r.provider })),
        h("td", { class: "num", text: r.value || "?" }),
        h("td", {}, badge(r.last && r.last.ok && !r.stopped ? "ok" : r.last ? "failed" : "unknown", r.last && r.last.ok && !r.stopped ? "ok" : r.last ? "failed" : "unknown"), " ", `${last}${extra}`),
      );
    }),
  );
}

function alertsTable(alerts) {
  const waiting = (alerts || []).filter((a) => a.queued > 0);
  if (!alerts || alerts.length === 0) return h("p", { class: "muted", text: "No alert channel configured." });
  if (waiting.length === 0) return h("p", { class: "muted", text: `Nothing waiting (${alerts.map((a) => a.channel).join(", ")}).` });
  return table(
    ["channel", "waiting", "last error"],
    waiting.map((a) => h("tr", {}, h("td", { text: a.channel }), h("td", { class: "num", text: `${a.queued} (${a.attempts} attempts)` }), h("td", { text: a.lastError || "–" }))),
  );
}

function renderStatus(status) {
  fill("summary", summaryLine(status));
  fill("notices", notices(status));
  const gateway = status.gateway ? [linkCard({ ...status.gateway, name: "gateway" }, status, "the way out through the router, probed from this host")] : [];
  fill("links", [...status.links.map((l) => linkCard(l, status)), ...gateway]);
  fill("dns", dnsTable(status.dns));
  fill("alerts", alertsTable(status.alerts));
  fill(
    "footer",
    h("p", {}, `pid ${status.pid}, running since ${clock(status.startedAt)}, ${status.switches} switch${status.switches === 1 ? "" : "es"} since; updated ${clock(status.updatedAt)} · `, h("a", { href: "/api/status", text: "status JSON" }), " · ", h("a", { href: "/metrics", text: "metrics" })),
  );
  const key = status.lastSwitch ? status.lastSwitch.startedAt : null;
  if (key !== lastSwitchSeen) {
    // A new switch: its report, its timeline and its mark on the graphs, now.
    if (lastSwitchSeen !== undefined) {
      refreshActivity();
      refreshHistory();
    }
    lastSwitchSeen = key;
  }
}

// --- activity: the switch timeline, the drill, the trunks ----------------------------------------

function stepRows(sw) {
  const end = Math.max(sw.durationMs, ...sw.steps.map((s) => (s.startMs || 0) + s.durationMs), 1);
  return sw.steps.flatMap((step) => {
    const state = step.skipped ? "skipped" : step.ok ? "ok" : "failed";
    const bar = h("span", { class: `bar ${state}`, title: `${step.step}: ${duration(step.durationMs)}` });
    bar.style.left = `${(100 * (step.startMs || 0)) / end}%`;
    bar.style.width = `${(100 * step.durationMs) / end}%`;
    return [
      h("span", {}, badge(step.step, state)),
      h("span", { class: "track" }, bar),
      h("span", { class: "ms", text: step.skipped ? "skipped" : duration(step.durationMs) }),
      h("span", { class: "detail", text: step.detail }),
    ];
  });
}

function switchEntry(sw, open) {
  return h(
    "details",
    { class: "switch", open, "data-kind": sw.kind, "data-ok": String(sw.ok) },
    h(
      "summary",
      {},
      h("span", { class: "when", text: clock(sw.at) }),
      h("strong", { text: `${sw.from || "none"} → ${sw.to}` }),
      h("span", { text: sw.kind }),
      badge(sw.ok ? "ok" : "failed"),
      h("span", { class: "muted", text: `${duration(sw.durationMs)}, ${ago(sw.at)}` }),
    ),
    h("p", { class: "reason", text: sw.reason }),
    h("div", { class: "steps" }, stepRows(sw)),
  );
}

function drillView(drill) {
  if (!drill) return h("p", { class: "muted", text: "No drill yet (`wanctl test`, or drills.schedule)." });
  const result = drill.refused ? "refused" : drill.ok ? "passed" : "failed";
  const old = Date.now() - drill.at > 8 * 86400000;
  return h(
    "div",
    {},
    h("p", {}, badge(result, drill.ok ? "ok" : "failed"), " ", `${clock(drill.at)} (${ago(drill.at)})`),
    drill.refused ? h("p", { class: "muted", text: drill.refused }) : h("p", { text: `${drill.from} → ${drill.to} and back in ${duration(drill.durationMs)}` }),
    drill.notes && drill.notes.length ? h("p", { class: "muted", text: drill.notes.join("; ") }) : null,
    old ? h("p", { class: "notice warn", text: "The last drill is more than 8 days old." }) : null,
  );
}

function trunksTable(trunks) {
  if (trunks === null) return h("p", { class: "muted", text: "No PBX configured." });
  if (trunks.length === 0) return h("p", { class: "muted", text: "No trunk state yet." });
  return table(
    ["trunk", "state", "expiry"],
    trunks.map((t) => h("tr", { "data-trunk": t.name }, h("td", { text: t.name }), h("td", {}, badge(t.registered ? "registered" : "not registered", t.registered ? "ok" : "failed")), h("td", { class: "num", text: t.expirySeconds === null ? "–" : `${t.expirySeconds} s` }))),
  );
}

function renderActivity(activity) {
  fill("switches", activity.switches.length ? activity.switches.slice(0, 10).map((sw, i) => switchEntry(sw, i === 0)) : h("p", { class: "muted", text: "No switch yet." }));
  fill("drill", drillView(activity.drill));
  fill("trunks", trunksTable(activity.trunks));
}

// --- history: loss and latency graphs with the switches marked -----------------------------------

function switchMarks(getSwitches) {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx } = u;
          const { top, height } = u.bbox;
          const ratio = window.devicePixelRatio || 1;
          ctx.save();
          ctx.font = `${Math.round(11 * ratio)}px system-ui, sans-serif`;
          ctx.textBaseline = "top";
          let lastLabel = -Infinity;
          getSwitches().forEach((sw) => {
            const x = Math.round(u.valToPos(sw.at / 1000, "x", true));
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            const color = sw.ok ? "#6b7280" : "#c62828";
            ctx.strokeStyle = color;
            ctx.fillStyle = color;
            ctx.lineWidth = ratio;
            ctx.setLineDash([4 * ratio, 3 * ratio]);
            ctx.beginPath();
            ctx.moveTo(x + 0.5, top);
            ctx.lineTo(x + 0.5, top + height);
            ctx.stroke();
            // Switches close together get a line each but share one label (the first's).
            if (x - lastLabel < 44 * ratio) return;
            lastLabel = x;
            ctx.fillText(`→${sw.to}`, x + 3 * ratio, top + 2 * ratio);
          });
          ctx.restore();
        },
      ],
    },
  };
}

function chartOptions(container, unit, data, links, getSwitches, minMax) {
  return {
    width: container.clientWidth,
    height: container.clientWidth < 500 ? 170 : 210,
    cursor: { drag: { x: false, y: false } },
    legend: { live: true },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(minMax, (max || 0) * 1.15)] } },
    axes: [{ stroke: "#8a93a2", grid: { stroke: "rgba(128,128,128,0.15)" } }, { stroke: "#8a93a2", grid: { stroke: "rgba(128,128,128,0.15)" }, size: 62, values: (u, splits) => splits.map((v) => `${v}${unit}`) }],
    series: [{}, ...links.map((name, i) => ({ label: name, stroke: LINK_COLORS[i % LINK_COLORS.length], width: 1.5, spanGaps: false, value: (u, v) => (v === null || v === undefined ? "–" : `${v.toFixed(v < 10 ? 2 : 0)}${unit}`) }))],
    plugins: [switchMarks(getSwitches)],
  };
}

function drawChart(id, history, field, unit, minMax) {
  const container = document.getElementById(id);
  const links = history.links;
  const first = history.series[links[0]];
  const data = [first ? first.t : [], ...links.map((l) => (history.series[l] ? history.series[l][field] : []))];
  // What the chart holds, for whoever checks it without reading pixels: points drawn, the newest.
  const points = data.slice(1).reduce((n, ys) => n + ys.filter((v) => v !== null).length, 0);
  const newest = data[0].filter((_, i) => data.slice(1).some((ys) => ys[i] !== null)).at(-1);
  container.dataset.points = String(points);
  container.dataset.newest = newest ? new Date(newest * 1000).toISOString() : "";
  const key = `${links.join(",")}`;
  const existing = charts[id];
  if (existing && existing.key === key) {
    existing.switches = history.switches;
    existing.plot.setData(data);
    return;
  }
  if (existing) existing.plot.destroy();
  const entry = { key, switches: history.switches };
  entry.plot = new uPlot(chartOptions(container, unit, data, links, () => entry.switches, minMax), data, container);
  charts[id] = entry;
}

function renderHistory(history) {
  drawChart("loss-chart", history, "lossPct", " %", 5);
  drawChart("latency-chart", history, "latencyMs", " ms", 20);
}

// --- the loop ------------------------------------------------------------------------------------

function problem(id, error) {
  fill(id, h("p", { class: "notice bad", text: `Cannot reach wanctl (${error.message}): the daemon may be stopped.` }));
}

async function refreshStatus() {
  try {
    renderStatus(await getJson("/api/status"));
  } catch (error) {
    problem("notices", error);
  }
}

async function refreshActivity() {
  try {
    renderActivity(await getJson("/api/activity"));
  } catch (error) {
    problem("switches", error);
  }
}

async function refreshHistory() {
  try {
    renderHistory(await getJson(`/api/history?range=${range}`));
  } catch (error) {
    problem("loss-chart", error);
  }
}

function every(milliseconds, work) {
  work();
  setInterval(work, milliseconds);
}

document.querySelectorAll(".range button").forEach((button) => {
  button.addEventListener("click", () => {
    range = button.dataset.range;
    document.querySelectorAll(".range button").forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
    refreshHistory();
  });
});

new ResizeObserver(() => {
  for (const [id, entry] of Object.entries(charts)) {
    const width = document.getElementById(id).clientWidth;
    if (width && width !== entry.plot.width) entry.plot.setSize({ width, height: width < 500 ? 170 : 210 });
  }
}).observe(document.querySelector("main"));

every(STATUS_EVERY_MS, refreshStatus);
every(ACTIVITY_EVERY_MS, refreshActivity);
every(HISTORY_EVERY_MS, refreshHistory);
