/**
 * Dashboard script (served as /admin/dashboard.js). Plain browser JavaScript kept in a string so the
 * Worker serves it without a build step; it must not contain backticks or "${". Every value from
 * the API is inserted with textContent (prompts and tool inputs are untrusted text).
 */
export const DASHBOARD_JS = String.raw`"use strict";
(function () {
  var API = "/admin/v1";
  var TOKEN_KEY = "aibridge-admin-token";
  var COLORS = ["#3056d3", "#12b76a", "#f79009", "#d92d6e", "#7a5af8", "#06aed4", "#667085", "#a15c07"];
  var SVG_NS = "http://www.w3.org/2000/svg";
  var $ = function (id) { return document.getElementById(id); };
  var nextCursor = null;
  var loads = 0;
  var loadGeneration = 0;

  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function api(path) {
    return fetch(API + path, { headers: { authorization: "Bearer " + token() } }).then(function (response) {
      if (response.status === 401) { signOut("That admin token was not accepted."); throw new Error("unauthorized"); }
      return response.json().then(function (body) {
        if (!response.ok) throw new Error(body.error || ("HTTP " + response.status));
        return body;
      });
    });
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs || {}) node.setAttribute(name, attrs[name]);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs) {
    var node = document.createElementNS(SVG_NS, tag);
    for (var name in attrs) node.setAttribute(name, attrs[name]);
    return node;
  }

  function fmtInt(n) { return Number(n || 0).toLocaleString("en-US"); }
  function fmtUsd(micros) {
    if (micros === null || micros === undefined) return "unknown";
    // Rounded on integers: (0.00325).toFixed(4) would show 0.0032.
    if (Math.abs(micros) >= 1e6) return "$" + (Math.round(micros / 1e4) / 100).toFixed(2);
    return "$" + (Math.round(micros / 100) / 1e4).toFixed(4);
  }
  function fmtPct(ratio) { return ratio === null || ratio === undefined ? "–" : (ratio * 100).toFixed(1) + "%"; }
  function fmtTime(isoText) { return isoText ? isoText.replace("T", " ").slice(0, 16) + " UTC" : "–"; }

  function query(extra) {
    var params = new URLSearchParams({ from: $("range").value });
    if ($("user").value) params.set("user", $("user").value);
    if ($("model").value) params.set("model", $("model").value);
    for (var name in extra || {}) params.set(name, extra[name]);
    return "?" + params.toString();
  }

  function fillOptions(select, values, allLabel) {
    var current = select.value;
    select.replaceChildren(el("option", { value: "" }, allLabel));
    values.forEach(function (value) { select.appendChild(el("option", { value: value }, value)); });
    select.value = values.indexOf(current) >= 0 ? current : "";
  }

  function numCell(value, text, col) {
    return el("td", { class: "num", "data-col": col, "data-value": value === null ? "" : String(value) }, text);
  }

  function renderTotals(t) {
    var box = $("totals");
    box.replaceChildren();
    [
      ["requests", fmtInt(t.requests), "requests"],
      ["tokens", fmtInt(t.total_tokens), "tokens"],
      ["cost", fmtUsd(t.cost_micros), "cost"],
      ["cache-hit", fmtPct(t.cache_hit_ratio), "cache hit ratio"],
      ["unpriced", fmtInt(t.unpriced_usages), "unpriced usage records"],
    ].forEach(function (item) {
      var card = el("div", { class: "card", id: "total-" + item[0] });
      card.appendChild(el("b", null, item[1]));
      card.appendChild(el("span", null, item[2]));
      box.appendChild(card);
    });
  }

  function renderUsers(rows) {
    var body = document.querySelector("#users-table tbody");
    body.replaceChildren();
    rows.slice().sort(function (a, b) { return (b.cost_micros || 0) - (a.cost_micros || 0); }).forEach(function (r) {
      var tr = el("tr", { "data-user": r.user });
      tr.appendChild(el("td", { "data-col": "user" }, r.user));
      tr.appendChild(numCell(r.requests, fmtInt(r.requests), "requests"));
      tr.appendChild(numCell(r.input_tokens, fmtInt(r.input_tokens), "input"));
      tr.appendChild(numCell(r.output_tokens, fmtInt(r.output_tokens), "output"));
      tr.appendChild(numCell(r.cache_read_tokens, fmtInt(r.cache_read_tokens), "cache_read"));
      tr.appendChild(numCell(r.cache_write_tokens, fmtInt(r.cache_write_tokens), "cache_write"));
      tr.appendChild(numCell(r.reasoning_tokens, fmtInt(r.reasoning_tokens), "reasoning"));
      var cost = fmtUsd(r.cost_micros) + (r.unpriced_usages ? " (+" + r.unpriced_usages + " unpriced)" : "");
      tr.appendChild(numCell(r.cost_micros, cost, "cost"));
      tr.appendChild(numCell(r.cache_hit_ratio, fmtPct(r.cache_hit_ratio), "cache_hit"));
      tr.appendChild(el("td", { "data-col": "last_seen" }, fmtTime(r.last_seen)));
      body.appendChild(tr);
    });
    if (rows.length === 0) body.appendChild(el("tr", null)).appendChild(el("td", { colspan: "10" }, "No usage in this range."));
  }

  /** Every UTC day from the range start to today, so quiet days show as gaps. */
  function dayList(fromIso) {
    var days = [];
    var day = new Date(fromIso.slice(0, 10) + "T00:00:00Z").getTime();
    var today = new Date(new Date().toISOString().slice(0, 10) + "T00:00:00Z").getTime();
    for (; day <= today; day += 86400000) days.push(new Date(day).toISOString().slice(0, 10));
    return days;
  }

  function renderChart(container, days, keys, colorOf, valueOf, format) {
    var width = 600, height = 220, left = 56, bottom = 22, top = 8;
    var totals = days.map(function (day) {
      return keys.reduce(function (sum, key) { return sum + valueOf(day, key); }, 0);
    });
    var max = Math.max.apply(null, totals.concat([0]));
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", preserveAspectRatio: "none" });
    var plotH = height - top - bottom;
    var slot = (width - left) / Math.max(days.length, 1);
    var barW = Math.max(2, slot * 0.7);
    chart.appendChild(svg("line", { x1: left, x2: width, y1: top + plotH, y2: top + plotH, stroke: "#d0d5dd" }));
    [0, 0.5, 1].forEach(function (f) {
      var label = svg("text", { x: left - 6, y: top + plotH - f * plotH + 3, "text-anchor": "end" });
      label.textContent = format(max * f);
      chart.appendChild(label);
    });
    days.forEach(function (day, i) {
      var x = left + i * slot + (slot - barW) / 2;
      var y = top + plotH;
      keys.forEach(function (key) {
        var value = valueOf(day, key);
        if (!value) return;
        var h = max > 0 ? (value / max) * plotH : 0;
        y -= h;
        var rect = svg("rect", {
          x: x.toFixed(2), y: y.toFixed(2), width: barW.toFixed(2), height: h.toFixed(2),
          fill: colorOf(key), "data-day": day, "data-key": key, "data-value": String(value),
        });
        var title = svg("title", {});
        title.textContent = day + " · " + key + ": " + format(value);
        rect.appendChild(title);
        chart.appendChild(rect);
      });
      if (days.length <= 10 || i % Math.ceil(days.length / 8) === 0 || i === days.length - 1) {
        var label = svg("text", { x: (x + barW / 2).toFixed(2), y: height - 6, "text-anchor": "middle" });
        label.textContent = day.slice(5);
        chart.appendChild(label);
      }
    });
    container.replaceChildren(chart);
  }

  function renderCharts(rows, stack, fromIso) {
    var byKey = {};
    rows.forEach(function (r) { byKey[r[stack]] = (byKey[r[stack]] || 0) + r.total_tokens; });
    var keys = Object.keys(byKey).sort(function (a, b) { return byKey[b] - byKey[a]; });
    var colorOf = function (key) { return COLORS[keys.indexOf(key) % COLORS.length]; };
    var cell = {};
    rows.forEach(function (r) { cell[r.day + "\u0000" + r[stack]] = r; });
    var days = dayList(fromIso);
    renderChart($("tokens-chart"), days, keys, colorOf, function (day, key) {
      var r = cell[day + "\u0000" + key];
      return r ? r.total_tokens : 0;
    }, function (v) { return v >= 1e6 ? (v / 1e6).toFixed(1) + "M" : v >= 1e3 ? (v / 1e3).toFixed(1) + "k" : String(Math.round(v)); });
    renderChart($("cost-chart"), days, keys, colorOf, function (day, key) {
      var r = cell[day + "\u0000" + key];
      return r && r.cost_micros ? r.cost_micros : 0;
    }, function (v) { return fmtUsd(v); });
    var legend = $("legend");
    legend.replaceChildren();
    keys.forEach(function (key) {
      var item = el("li", { "data-key": key });
      var swatch = svg("svg", { viewBox: "0 0 10 10" });
      swatch.appendChild(svg("rect", { width: 10, height: 10, fill: colorOf(key) }));
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(key));
      legend.appendChild(item);
    });
  }

  function renderInterceptions(items, append) {
    var body = document.querySelector("#interceptions-table tbody");
    if (!append) body.replaceChildren();
    items.forEach(function (it) {
      var tr = el("tr", { "data-id": it.id });
      tr.appendChild(el("td", null, fmtTime(it.started_at)));
      tr.appendChild(el("td", { "data-col": "user" }, it.user));
      tr.appendChild(el("td", { "data-col": "model" }, it.model));
      tr.appendChild(el("td", null, it.client));
      tr.appendChild(el("td", null, it.status));
      var t = it.tokens;
      tr.appendChild(el("td", { class: "num" }, fmtInt(t.input) + " / " + fmtInt(t.output) + " / " + fmtInt(t.cache_read + t.cache_write)));
      tr.appendChild(numCell(it.cost_micros, fmtUsd(it.cost_micros), "cost"));
      tr.appendChild(el("td", { "data-col": "tools" }, it.tools.map(function (x) { return x.tool; }).join(", ")));
      tr.appendChild(el("td", { class: "prompt", "data-col": "prompt" }, it.prompt || ""));
      tr.addEventListener("click", function () { showDetail(it.id); });
      body.appendChild(tr);
    });
  }

  function block(container, title, text) {
    var wrap = el("div", null);
    if (title) wrap.appendChild(el("strong", null, title));
    wrap.appendChild(el("pre", null, text));
    container.appendChild(wrap);
  }

  function showDetail(id) {
    api("/interceptions/" + encodeURIComponent(id)).then(function (d) {
      $("detail-id").textContent = d.id;
      var meta = $("detail-meta");
      meta.replaceChildren();
      [["User", d.user], ["Model", d.model], ["API", d.provider + " " + d.api], ["Client", d.client],
       ["Session", d.session_id || "–"], ["Status", d.status + (d.stop_reason ? " (" + d.stop_reason + ")" : "")],
       ["Started", fmtTime(d.started_at)], ["Duration", d.duration_ms === null ? "–" : d.duration_ms + " ms"],
       ["Cost", fmtUsd(d.cost_micros)]].forEach(function (pair) {
        meta.appendChild(el("dt", null, pair[0]));
        meta.appendChild(el("dd", null, pair[1]));
      });
      var tokens = document.querySelector("#detail-tokens tbody");
      tokens.replaceChildren();
      d.token_usages.forEach(function (u) {
        var tr = el("tr", null);
        tr.appendChild(numCell(u.input_tokens, fmtInt(u.input_tokens), "input"));
        tr.appendChild(numCell(u.output_tokens, fmtInt(u.output_tokens), "output"));
        tr.appendChild(numCell(u.cache_read_input_tokens, fmtInt(u.cache_read_input_tokens), "cache_read"));
        tr.appendChild(numCell(u.cache_write_input_tokens, fmtInt(u.cache_write_input_tokens), "cache_write"));
        tr.appendChild(el("td", null, u.extra_token_types ? JSON.stringify(u.extra_token_types) : ""));
        tr.appendChild(numCell(u.cost_micros, fmtUsd(u.cost_micros), "cost"));
        tokens.appendChild(tr);
      });
      var prompts = $("detail-prompts");
      prompts.replaceChildren();
      d.prompts.forEach(function (p) { block(prompts, null, p.prompt); });
      if (d.prompts.length === 0) prompts.textContent = "No prompt recorded.";
      var tools = $("detail-tools");
      tools.replaceChildren();
      d.tools.forEach(function (t) {
        block(tools, t.tool + (t.injected ? " (injected)" : "") + (t.invocation_error ? " – error: " + t.invocation_error : ""), t.input);
      });
      if (d.tools.length === 0) tools.textContent = "No tool calls.";
      var thoughts = $("detail-thoughts");
      thoughts.replaceChildren();
      d.thoughts.forEach(function (t) { block(thoughts, t.source, t.content); });
      if (d.thoughts.length === 0) thoughts.textContent = "None recorded.";
      $("detail").hidden = false;
      $("detail").scrollIntoView({ block: "nearest" });
    }).catch(showError);
  }

  function showError(error) {
    if (error && error.message !== "unauthorized") $("status").textContent = "Error: " + error.message;
  }

  function load() {
    var stack = $("stack").value;
    var generation = ++loadGeneration;
    $("status").textContent = "Loading…";
    var range = "?from=" + encodeURIComponent($("range").value);
    return Promise.all([
      api("/usage" + range + "&group_by=user"),
      api("/usage" + range + "&group_by=model"),
      api("/usage" + query({ group_by: "user" })),
      api("/usage" + query({ group_by: "day," + stack })),
      api("/interceptions" + query({ limit: "25" })),
    ]).then(function (r) {
      if (generation !== loadGeneration) return; // a newer filter change is already loading
      fillOptions($("user"), r[0].rows.map(function (x) { return x.user; }), "All users");
      fillOptions($("model"), r[1].rows.map(function (x) { return x.model; }), "All models");
      renderTotals(r[2].totals);
      renderUsers(r[2].rows);
      renderCharts(r[3].rows, stack, r[3].from);
      renderInterceptions(r[4].interceptions, false);
      nextCursor = r[4].next_cursor;
      $("more").hidden = !nextCursor;
      $("status").textContent = "Updated " + new Date().toLocaleTimeString();
      // A load counter, so tests (and scripts) can wait for the next refresh to finish.
      document.body.setAttribute("data-loads", String(++loads));
    }).catch(showError);
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    $("app").hidden = true;
    $("sign-out").hidden = true;
    $("sign-in").hidden = false;
    $("sign-in-error").textContent = message || "";
  }

  function start() {
    $("sign-in").hidden = true;
    $("app").hidden = false;
    $("sign-out").hidden = false;
    load();
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("sign-in-form").addEventListener("submit", function (event) {
      event.preventDefault();
      sessionStorage.setItem(TOKEN_KEY, $("token").value.trim());
      $("token").value = "";
      start();
    });
    $("sign-out").addEventListener("click", function () { signOut(""); });
    ["range", "user", "model", "stack"].forEach(function (id) { $(id).addEventListener("change", load); });
    $("filters").addEventListener("submit", function (event) { event.preventDefault(); });
    $("detail-close").addEventListener("click", function () { $("detail").hidden = true; });
    $("more").addEventListener("click", function () {
      api("/interceptions" + query({ limit: "25", cursor: nextCursor })).then(function (r) {
        renderInterceptions(r.interceptions, true);
        nextCursor = r.next_cursor;
        $("more").hidden = !nextCursor;
      }).catch(showError);
    });
    if (token()) start(); else signOut("");
  });
})();
`;
