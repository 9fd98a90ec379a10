/** Dashboard stylesheet (served as /admin/dashboard.css so the CSP needs no inline styles). */
export const DASHBOARD_CSS = `
:root { --fg: #1d2330; --muted: #667085; --line: #e4e7ec; --bg: #f7f8fa; --card: #fff; --accent: #3056d3; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; justify-content: space-between; padding: 12px 24px; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 18px; margin: 0; } h1 span { color: var(--muted); font-weight: 400; }
h2 { font-size: 15px; margin: 24px 0 8px; } h3 { font-size: 13px; margin: 16px 0 6px; color: var(--muted); }
main, #sign-in { padding: 16px 24px 48px; max-width: 1280px; margin: 0 auto; }
form#filters { display: flex; flex-wrap: wrap; gap: 16px; align-items: end; }
label { display: flex; flex-direction: column; gap: 4px; font-size: 12px; color: var(--muted); }
select, input, button { font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); color: var(--fg); }
button { cursor: pointer; } button[type=submit] { background: var(--accent); color: #fff; border-color: var(--accent); }
.status { color: var(--muted); margin: 0; } .error { color: #b42318; } .hint { color: var(--muted); }
.totals { display: grid; grid-template-columns: repeat(auto-fit, minmax(160px, 1fr)); gap: 12px; margin: 16px 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.card b { display: block; font-size: 20px; } .card span { color: var(--muted); font-size: 12px; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px; }
figcaption { font-weight: 600; margin-bottom: 6px; }
.chart svg { width: 100%; height: 220px; display: block; }
.chart text { font-size: 10px; fill: var(--muted); }
.legend { grid-column: 1 / -1; list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: 12px; }
.legend li { display: flex; align-items: center; gap: 6px; } .legend svg { width: 12px; height: 12px; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-size: 12px; color: var(--muted); font-weight: 500; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
#interceptions-table tbody tr { cursor: pointer; } #interceptions-table tbody tr:hover { background: #eef2ff; }
td.prompt { max-width: 320px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#detail { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px 16px; margin-top: 16px; }
#detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
#detail dt { color: var(--muted); }
pre { white-space: pre-wrap; word-break: break-word; background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 8px; max-height: 320px; overflow: auto; margin: 4px 0; }
@media (max-width: 900px) { .charts { grid-template-columns: 1fr; } }
`;
