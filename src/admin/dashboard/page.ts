/** The dashboard's HTML shell. It holds no data: the script fetches everything with the admin token. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AI Bridge · usage</title>
<link rel="stylesheet" href="/admin/dashboard.css">
<script src="/admin/dashboard.js" defer></script>
</head>
<body>
<header>
  <h1>AI Bridge <span>usage</span></h1>
  <button id="sign-out" type="button" hidden>Sign out</button>
</header>

<section id="sign-in" hidden>
  <form id="sign-in-form">
    <label>Admin token <input id="token" type="password" autocomplete="current-password" required></label>
    <button type="submit">Sign in</button>
    <p id="sign-in-error" class="error" role="alert"></p>
  </form>
  <p class="hint">The token is the ADMIN_TOKEN secret. It is kept in this tab only (sessionStorage).</p>
</section>

<main id="app" hidden>
  <form id="filters">
    <label>Range
      <select id="range">
        <option value="1d">Last 24 hours</option>
        <option value="7d" selected>Last 7 days</option>
        <option value="30d">Last 30 days</option>
        <option value="90d">Last 90 days</option>
      </select>
    </label>
    <label>User <select id="user"><option value="">All users</option></select></label>
    <label>Model <select id="model"><option value="">All models</option></select></label>
    <label>Stack by
      <select id="stack">
        <option value="user">User</option>
        <option value="model">Model</option>
      </select>
    </label>
    <p id="status" class="status" role="status"></p>
  </form>

  <section id="totals" class="totals" aria-label="Totals"></section>

  <section class="charts">
    <figure>
      <figcaption>Tokens per day</figcaption>
      <div id="tokens-chart" class="chart"></div>
    </figure>
    <figure>
      <figcaption>Cost per day (USD)</figcaption>
      <div id="cost-chart" class="chart"></div>
    </figure>
    <ul id="legend" class="legend" aria-label="Legend"></ul>
  </section>

  <section>
    <h2>Users</h2>
    <table id="users-table">
      <thead><tr>
        <th>User</th><th>Requests</th><th>Input</th><th>Output</th><th>Cache read</th><th>Cache write</th>
        <th>Reasoning</th><th>Cost</th><th>Cache hit</th><th>Last seen</th>
      </tr></thead>
      <tbody></tbody>
    </table>
  </section>

  <section>
    <h2>Recent interceptions</h2>
    <table id="interceptions-table">
      <thead><tr>
        <th>Started</th><th>User</th><th>Model</th><th>Client</th><th>Status</th><th>Tokens in / out / cache</th>
        <th>Cost</th><th>Tools</th><th>Prompt</th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <button id="more" type="button" hidden>Load more</button>
  </section>

  <section id="detail" hidden>
    <h2>Interception <code id="detail-id"></code> <button id="detail-close" type="button">Close</button></h2>
    <dl id="detail-meta"></dl>
    <h3>Tokens</h3>
    <table id="detail-tokens">
      <thead><tr><th>Input</th><th>Output</th><th>Cache read</th><th>Cache write</th><th>Other</th><th>Cost</th></tr></thead>
      <tbody></tbody>
    </table>
    <h3>Prompt</h3>
    <div id="detail-prompts"></div>
    <h3>Tools</h3>
    <div id="detail-tools"></div>
    <h3>Thoughts</h3>
    <div id="detail-thoughts"></div>
  </section>
</main>
</body>
</html>
`;
