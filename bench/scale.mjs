/**
 * `npm run bench -- --scale` (or `node bench/scale.mjs`): where one D1 database stops being enough,
 * measured on this machine. Regenerates the measured part of docs/scale.md (between its
 * `scale:measured` markers) and prints the same tables.
 *
 *   1. Bytes per interception by table: Claude Code- and Codex-shaped agentic sessions replayed
 *      through the real gateway (its bundle in Miniflare, the same runtime `wrangler dev` uses) to
 *      a local fake upstream (bench/lib/scale-upstream.mjs), records through the real queue into
 *      local D1; on-disk bytes per table and its indexes from SQLite's dbstat.
 *   2. Consumer throughput: the Worker's queue() handler called with batches of 10 and 100
 *      gateway-shaped records, writing into local D1 (raw rows + rollups, one transaction each).
 *   3. Rows read per usage answer as interceptions grow 10^4 → 10^6: seeded inside SQLite
 *      (recursive CTEs, 100k rows per statement), folded into rollups by the rebuild SQL, then the
 *      dashboard's questions asked of /admin/v1/usage (rollups) and of the raw aggregation it
 *      replaced; D1's own meta.rows_read for each.
 *
 *   --smoke        a quick pass (few sessions, 10^4 → 10^5 only); does not touch docs/scale.md
 *   --json <file>  also write the figures as JSON
 *   --bytes-into <file>   measure only step 1 and merge it into a saved --json run, then report
 *   --report-from <file>  only rewrite the tables from a saved --json run
 *
 * Everything stays on 127.0.0.1 and in a temp dir; one core's worth of work at a time.
 */
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { DAY_MS, foldRangeSql, hourlySince } from "../src/recorder/rollup-sql.mjs";
import { claudeCodeBody } from "./fixtures/claude-code-body.mjs";
import { codexBody } from "./fixtures/codex-body.mjs";
import { startScaleUpstream } from "./lib/scale-upstream.mjs";
import { PROJECT_ROOT, wranglerRun } from "./lib/wrangler.mjs";

const argv = process.argv.slice(2);
const SMOKE = argv.includes("--smoke");
const JSON_OUT = argv.includes("--json") ? argv[argv.indexOf("--json") + 1] : null;
/** --bytes-into <json>: measure only the bytes per interception and merge them into a saved run. */
const BYTES_INTO = argv.includes("--bytes-into") ? argv[argv.indexOf("--bytes-into") + 1] : null;
const CONFIG = SMOKE
  ? { sessions: 2, turns: 10, throughputInterceptions: 100, sizes: [10_000, 100_000] }
  : { sessions: 10, turns: 20, throughputInterceptions: 1000, sizes: [10_000, 100_000, 1_000_000] };
const ADMIN_TOKEN = "scale-bench-admin-token-0000000000";
/** The seeded organisation for the rows-read measurement: users × 30 days × 3 models × 2 clients. */
const SEED = { users: 100, days: 30, models: 3, clients: 2 };

const log = (...args) => console.error(`[scale ${(performance.now() / 1000).toFixed(1)}s]`, ...args);

// ---------------------------------------------------------------------------------------------
// The gateway in Miniflare

async function startGateway(dir, upstreamUrl) {
  log("bundling the Worker (wrangler deploy --dry-run)");
  const outdir = join(dir, "build");
  await wranglerRun(["deploy", "--dry-run", "--outdir", outdir]);
  const bundle = join(
    outdir,
    readdirSync(outdir).find((file) => file.endsWith(".js")),
  );
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(PROJECT_ROOT, "wrangler.toml"));
  const options = (vars = {}) => ({
    ...workerOptions,
    name: "aibridge-worker",
    modules: true,
    modulesRules: undefined,
    scriptPath: bundle,
    modulesRoot: outdir,
    bindings: {
      ...workerOptions.bindings,
      ADMIN_TOKEN,
      ANTHROPIC_BASE_URL: upstreamUrl,
      OPENAI_BASE_URL: `${upstreamUrl}/v1`,
      ANTHROPIC_API_KEY: "sk-ant-scale-bench-000000000000",
      OPENAI_API_KEY: "sk-scale-bench-0000000000000000",
      ...vars,
    },
    analyticsEngineDatasets: undefined,
    d1Persist: join(dir, "d1"),
    kvPersist: join(dir, "kv"),
    r2Persist: join(dir, "r2"),
    cachePersist: false,
  });
  const mf = new Miniflare(options({ CONTENT_OFFLOAD_BYTES: "0" }));
  await mf.ready;
  const db = await mf.getD1Database("DB");
  for (const file of readdirSync(join(PROJECT_ROOT, "migrations"))
    .filter((f) => f.endsWith(".sql"))
    .sort()) {
    const sql = readFileSync(join(PROJECT_ROOT, "migrations", file), "utf8");
    const statements = sql
      .split("--> statement-breakpoint")
      .map((s) => s.trim())
      .filter(Boolean);
    await db.batch(statements.map((s) => db.prepare(s)));
  }
  // The same gateway with other settings (same D1 state): long texts to R2, or no content at all.
  const reconfigure = async (vars) => {
    await mf.setOptions(options(vars));
    await mf.ready;
    return { db: await mf.getD1Database("DB"), r2: await mf.getR2Bucket("CONTENT") };
  };
  return { mf, db, reconfigure };
}

async function adminJson(mf, path, init = {}) {
  const response = await mf.dispatchFetch(`http://gateway.test/admin/v1${path}`, {
    ...init,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
  });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

// ---------------------------------------------------------------------------------------------
// 1. Bytes per interception

const RECORD_TABLES = [
  "aibridge_interceptions",
  "aibridge_token_usages",
  "aibridge_usage_rollups",
  "aibridge_user_prompts",
  "aibridge_tool_usages",
  "aibridge_model_thoughts",
  "aibridge_record_parts",
];
/** Tables that hold raw content (what content retention, or recording content off, removes). */
const CONTENT_TABLES = new Set([
  "aibridge_user_prompts",
  "aibridge_tool_usages",
  "aibridge_model_thoughts",
  "aibridge_record_parts",
]);

/** SQL for the bytes SQLite's record format spends on one value (integers take 1–8 bytes). */
function valueBytes(column) {
  const c = `"${column}"`;
  return `(case typeof(${c}) when 'null' then 0 when 'real' then 8
    when 'integer' then (case when abs(${c}) < 128 then 1 when abs(${c}) < 32768 then 2 when abs(${c}) < 8388608 then 3
      when abs(${c}) < 2147483648 then 4 when abs(${c}) < 140737488355328 then 6 else 8 end)
    else length(cast(${c} as blob)) end + 1)`;
}

/**
 * Stored bytes per table, its indexes included. D1 does not expose SQLite's dbstat, so this adds
 * up what SQLite's record format stores: every value (plus its header byte) and ~8 bytes of cell
 * overhead per row, and for each index the indexed values plus the row's key. B-tree pages are
 * not full, so the file is somewhat larger (the local file cannot tell: its WAL is not checkpointed).
 */
async function tableBytes(db) {
  const out = {};
  for (const table of RECORD_TABLES) {
    const { results: columns } = await db.prepare(`select name, pk from pragma_table_info('${table}')`).all();
    const { results: indexes } = await db
      .prepare(`select sql from sqlite_master where type = 'index' and tbl_name = ? and sql is not null`)
      .bind(table)
      .all();
    const indexColumns = indexes.map(({ sql }) =>
      [...sql.slice(sql.lastIndexOf("(")).matchAll(/`([^`]+)`/g)].map((m) => m[1]),
    );
    // Text primary keys get SQLite's automatic unique index (the whole key, plus the rowid).
    const pk = columns.filter((c) => c.pk > 0).map((c) => c.name);
    if (pk.length) indexColumns.push(pk);
    const row = columns.map((c) => valueBytes(c.name)).join(" + ");
    const index = indexColumns.map((cols) => `(${cols.map(valueBytes).join(" + ")} + 8)`).join(" + ") || "0";
    const result = await db
      .prepare(`select coalesce(sum(${row} + 8 + ${index}), 0) as bytes from ${table}`)
      .first();
    out[table] = result.bytes;
  }
  return out;
}

async function counts(db) {
  const out = {};
  for (const table of RECORD_TABLES) {
    out[table] = (await db.prepare(`select count(*) as n from ${table}`).first()).n;
  }
  return out;
}

async function waitForRecords(db, interceptions, usages) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const done = await db
      .prepare(
        `select (select count(*) from aibridge_interceptions where status != 'started') as ended,
                (select count(*) from aibridge_token_usages) as usages`,
      )
      .first();
    if (done.ended >= interceptions && done.usages >= usages) return;
    if (Date.now() > deadline) throw new Error(`records did not arrive: ${JSON.stringify(done)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** One Claude Code turn: the ~85 KB request, its last user message a prompt (turn 0) or a tool result. */
function claudeCodeTurn(base, session, turn) {
  const body = structuredClone(base);
  body.stream = false;
  body.messages.pop();
  body.messages.push(
    turn === 0
      ? {
          role: "user",
          content: [
            { type: "text", text: "<system-reminder>\nThe date is today.\n</system-reminder>" },
            {
              type: "text",
              text: `Session ${session}: make the retention job delete in batches and test it.`,
            },
          ],
        }
      : {
          role: "user",
          content: [
            {
              type: "tool_result",
              tool_use_id: `toolu_01Scale${String(turn - 1).padStart(12, "0")}`,
              content: "ok",
            },
          ],
        },
  );
  return JSON.stringify(body);
}

async function r2Bytes(r2) {
  if (!r2) return 0;
  let total = 0;
  let cursor;
  do {
    const listed = await r2.list({ prefix: "content/", cursor });
    for (const object of listed.objects) total += object.size;
    cursor = listed.truncated ? listed.cursor : undefined;
  } while (cursor);
  return total;
}

const replayed = { interceptions: 0, usages: 0 };

/** Replays sessions of each label ("claude-code", "codex", "+r2" = with offload on). */
async function replaySessions(mf, db, key, labels, r2) {
  const base = JSON.parse(claudeCodeBody(85 * 1024));
  const shapes = {};
  for (const label of labels) {
    const shape = label.replace(/\+.*$/, "");
    const before = { bytes: await tableBytes(db), rows: await counts(db), r2: await r2Bytes(r2) };
    let requestBytes = 0;
    for (let session = 0; session < CONFIG.sessions; session++) {
      const sessionId = `0199a8c0-${String(session).padStart(4, "0")}-7000-8000-${shape === "codex" ? "c" : "a"}00000000000`;
      for (let turn = 0; turn < CONFIG.turns; turn++) {
        const codex = shape === "codex";
        const body = codex ? codexBody(turn, sessionId) : claudeCodeTurn(base, session, turn);
        requestBytes += Buffer.byteLength(body);
        const response = await mf.dispatchFetch(
          codex ? "http://gateway.test/openai/v1/responses" : "http://gateway.test/anthropic/v1/messages",
          {
            method: "POST",
            headers: {
              "content-type": "application/json",
              ...(codex
                ? {
                    authorization: `Bearer ${key}`,
                    "user-agent": "codex_cli_rs/0.50.0",
                    "session-id": sessionId,
                  }
                : {
                    "x-api-key": key,
                    "anthropic-version": "2023-06-01",
                    "user-agent": "claude-cli/2.0.14 (external, cli)",
                    "x-claude-code-session-id": sessionId,
                  }),
              "x-scale-turn": String(turn),
            },
            body,
          },
        );
        if (response.status !== 200)
          throw new Error(`${shape} turn ${turn}: ${response.status} ${await response.text()}`);
        await response.arrayBuffer();
        replayed.interceptions++;
        replayed.usages++;
      }
    }
    await waitForRecords(db, replayed.interceptions, replayed.usages);
    const after = { bytes: await tableBytes(db), rows: await counts(db), r2: await r2Bytes(r2) };
    const n = CONFIG.sessions * CONFIG.turns;
    const perTable = Object.fromEntries(
      RECORD_TABLES.map((t) => [
        t,
        { bytes: (after.bytes[t] - before.bytes[t]) / n, rows: (after.rows[t] - before.rows[t]) / n },
      ]),
    );
    const sum = (pick) => RECORD_TABLES.filter(pick).reduce((total, t) => total + perTable[t].bytes, 0);
    shapes[label] = {
      interceptions: n,
      r2Bytes: (after.r2 - before.r2) / n,
      requestBytes: requestBytes / n,
      perTable,
      total: sum(() => true),
      usageOnly: sum((t) => !CONTENT_TABLES.has(t)),
      content: sum((t) => CONTENT_TABLES.has(t)),
    };
    log(`${label}: ${n} interceptions, ${Math.round(shapes[label].total)} B/interception in D1`);
  }
  return shapes;
}

// ---------------------------------------------------------------------------------------------
// 2. Consumer throughput

/** The records the gateway sends for one agentic turn (sizes as the replay above measured). */
function turnRecords(n, now) {
  const id = `tp-${n}`;
  const info = {
    id,
    initiatorId: `dev-${n % 50}@example.com`,
    apiKeyId: `key-${n % 50}`,
    provider: "anthropic",
    providerName: "messages",
    model: "claude-sonnet-4-5-20250929",
    client: "Claude Code",
    userAgent: "claude-cli/2.0.14 (external, cli)",
    clientSessionId: `sess-${Math.floor(n / 20)}`,
    correlatingToolCallId: `toolu_${n - 1}`,
    credentialKind: "centralized",
    credentialHint: null,
    streaming: true,
    startedAt: now - (n % 1000) * 1000,
    metadata: null,
  };
  const text = (length) => "x".repeat(length);
  const records = [
    { kind: "interception_started", ...info },
    {
      kind: "token_usage",
      id: `${id}-u`,
      interceptionId: id,
      providerResponseId: `msg_${n}`,
      inputTokens: 12,
      outputTokens: 500,
      cacheReadInputTokens: 40_000,
      cacheWriteInputTokens: 2000,
      extraTokenTypes: { cache_write_5m: 2000, cache_write_1h: 0 },
      rawUsage: {
        input_tokens: 12,
        output_tokens: 500,
        cache_read_input_tokens: 40_000,
        cache_creation_input_tokens: 2000,
      },
      costMicros: 27_000,
      createdAt: info.startedAt + 3000,
    },
    {
      kind: "tool_usage",
      id: `${id}-t`,
      interceptionId: id,
      providerResponseId: `msg_${n}`,
      providerToolCallId: `toolu_${n}`,
      tool: "Edit",
      serverUrl: null,
      input: text(1200),
      injected: false,
      invocationError: null,
      createdAt: info.startedAt + 2000,
    },
    {
      kind: "model_thought",
      id: `${id}-th`,
      interceptionId: id,
      content: text(1100),
      source: "thinking",
      createdAt: info.startedAt + 1000,
    },
    {
      kind: "interception_ended",
      ...info,
      endedAt: info.startedAt + 4000,
      status: "completed",
      stopReason: "tool_use",
      errorType: null,
      errorMessage: null,
    },
  ];
  if (n % 20 === 0) {
    records.push({
      kind: "prompt",
      id: `${id}-p`,
      interceptionId: id,
      providerResponseId: null,
      prompt: text(200),
      createdAt: info.startedAt,
    });
  }
  return records;
}

async function consumerThroughput(mf) {
  const worker = await mf.getWorker();
  const out = {};
  let offset = 0;
  for (const batchSize of [10, 100]) {
    const records = [];
    for (let n = 0; n < CONFIG.throughputInterceptions; n++)
      records.push(...turnRecords(offset + n, Date.now()));
    offset += CONFIG.throughputInterceptions;
    const started = performance.now();
    for (let i = 0; i < records.length; i += batchSize) {
      const messages = records.slice(i, i + batchSize).map((body, j) => ({
        id: `m-${batchSize}-${i + j}`,
        timestamp: new Date(),
        body,
        attempts: 1,
      }));
      const result = await worker.queue("aibridge-records", messages);
      if (result.outcome !== "ok" || result.retryBatch?.retry || result.retryMessages?.length) {
        throw new Error(`consumer did not ack: ${JSON.stringify(result)}`);
      }
    }
    const seconds = (performance.now() - started) / 1000;
    out[batchSize] = {
      records: records.length,
      seconds,
      recordsPerSecond: records.length / seconds,
      interceptionsPerSecond: CONFIG.throughputInterceptions / seconds,
    };
    log(`batch ${batchSize}: ${Math.round(records.length / seconds)} records/s`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 3. Rows read per usage answer as interceptions grow

/** The usage query before rollups (what /admin/v1/usage ran on the raw rows), grouped by `dims`. */
function rawUsageSql(dims) {
  const expr = {
    user: "i.initiator_id",
    model: "i.model",
    day: "strftime('%Y-%m-%d', i.started_at / 1000, 'unixepoch')",
  };
  return `select ${dims.map((d) => `${expr[d]} as ${d}`).join(", ")}, count(distinct i.id) as requests,
      coalesce(sum(t.input_tokens), 0), coalesce(sum(t.cache_read_input_tokens), 0),
      coalesce(sum(json_extract(t.extra_token_types, '$.cache_write_5m')), 0), coalesce(sum(t.cost_micros), 0),
      count(t.id) - count(t.cost_micros), max(i.started_at)
    from aibridge_interceptions i left join aibridge_token_usages t on t.interception_id = i.id
    where i.started_at >= ?1 group by ${dims.join(", ")}`;
}

/** The dashboard's questions (src/admin/dashboard: usage by user, by model, and by day stacked). */
const QUESTIONS = [
  { name: "30 days by user", query: "group_by=user&from=30d", dims: ["user"], days: 30 },
  { name: "30 days by model", query: "group_by=model&from=30d", dims: ["model"], days: 30 },
  { name: "30 days by day × user", query: "group_by=day,user&from=30d", dims: ["day", "user"], days: 30 },
  { name: "7 days by user", query: "group_by=user&from=7d", dims: ["user"], days: 7 },
];

async function seed(db, from, to, now) {
  const window = SEED.days * DAY_MS;
  for (let start = from; start < to; start += 100_000) {
    const end = Math.min(to, start + 100_000);
    const series = `with recursive n(i) as (select ${start} union all select i + 1 from n where i < ${end - 1})`;
    // Times spread over the window by a multiplicative hash; users, models and clients independent.
    const time = `${now} - (i * 2654435761) % ${window}`;
    await db.batch([
      db.prepare(
        `insert into aibridge_interceptions (id, initiator_id, api_key_id, provider, provider_name, model, client, user_agent,
           client_session_id, credential_kind, streaming, started_at, ended_at, status, stop_reason)
         ${series}
         select printf('0199%012x-%08x', ${time}, i), 'developer-' || (i % ${SEED.users}) || '@example.com', 'key-' || (i % ${SEED.users}),
           'anthropic', 'messages', 'claude-model-' || (i / 7 % ${SEED.models}), 'client-' || (i / 11 % ${SEED.clients}),
           'claude-cli/2.0.14 (external, cli)', 'session-' || (i / 20), 'centralized', 1, ${time}, ${time} + 4000, 'completed', 'tool_use'
         from n`,
      ),
      db.prepare(
        `insert into aibridge_token_usages (id, interception_id, provider_response_id, input_tokens, output_tokens,
           cache_read_input_tokens, cache_write_input_tokens, extra_token_types, raw_usage, cost_micros, created_at)
         ${series}
         select 'u-' || i, printf('0199%012x-%08x', ${time}, i), 'msg_' || i, 12, 500, 40000, 2000,
           '{"cache_write_5m":2000,"cache_write_1h":0}', '{"input_tokens":12,"output_tokens":500}', 27000, ${time} + 3000
         from n`,
      ),
    ]);
  }
}

/** Folds the newly seeded rows into the rollups, a day per transaction (as the consumer would have). */
async function fold(db, now) {
  const since = hourlySince(now);
  const first = Math.floor((now - (SEED.days + 1) * DAY_MS) / DAY_MS) * DAY_MS;
  for (let day = first; day <= now; day += DAY_MS) {
    await db.batch(foldRangeSql(day, day + DAY_MS, since).map((sql) => db.prepare(sql)));
  }
}

async function rowsRead(mf, db) {
  for (const table of RECORD_TABLES) await db.prepare(`delete from ${table}`).run();
  const now = Date.now();
  const out = [];
  let have = 0;
  for (const size of CONFIG.sizes) {
    let started = performance.now();
    await seed(db, have, size, now);
    have = size;
    const seedSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    await fold(db, now);
    const foldSeconds = (performance.now() - started) / 1000;
    const rollupRows = (await db.prepare("select count(*) as n from aibridge_usage_rollups").first()).n;
    const answers = {};
    for (const q of QUESTIONS) {
      const api = await adminJson(mf, `/usage?${q.query}`);
      if (q.days === 30 && api.totals.requests !== size)
        throw new Error(`${q.name}: ${api.totals.requests} ≠ ${size}`);
      const raw = await db
        .prepare(rawUsageSql(q.dims))
        .bind(now - q.days * DAY_MS)
        .all();
      answers[q.name] = { rollups: api.rows_read, raw: raw.meta.rows_read, rows: api.rows.length };
    }
    const newRows = size - (out.at(-1)?.interceptions ?? 0);
    out.push({ interceptions: size, seedSeconds, foldSeconds, newRows, rollupRows, answers });
    log(
      `${size}: seeded in ${seedSeconds.toFixed(1)} s, folded in ${foldSeconds.toFixed(1)} s,`,
      JSON.stringify(answers),
    );
  }
  // What one rollup row takes, for the capacity table.
  const rollupRowBytes = (await tableBytes(db)).aibridge_usage_rollups / out.at(-1).rollupRows;
  return { steps: out, rollupRowBytes };
}

// ---------------------------------------------------------------------------------------------
// Report

const int = (n) => Math.round(n).toLocaleString("en-US");

/**
 * The capacity model. Request rates: Anthropic's Claude Code cost page (code.claude.com/docs/en/costs)
 * gives ~$13 per developer per active day on average; a cached Sonnet turn of a long session costs
 * ~$0.05 (40k cache reads, 2k cache writes, 500 output tokens), so ~250 requests a day. The same
 * page's rate-limit guidance for organisations of 500+ users, 0.25–0.35 requests per minute per
 * user, is the peak: 0.35.
 */
const ASSUME = {
  requestsPerDevDay: 250,
  peakRpmPerDev: 0.35,
  /** Model × client pairs a developer uses in a day, and hours active (hour rollup rows). */
  pairsPerDevDay: 2,
  activeHours: 8,
  contentDays: 30,
  usageDays: 400,
  hourlyDays: 36,
  ceiling: 10e9,
};

function capacity(results) {
  const cc = results.bytes["claude-code"];
  const r2 = results.bytes["claude-code+r2"];
  // Content off (RECORD_CONTENT=none); older saved runs without it fall back to the usage tables.
  const none = results.bytes["claude-code+none"] ?? { content: 0 };
  const usageRow = cc.perTable.aibridge_interceptions.bytes + cc.perTable.aibridge_token_usages.bytes;
  const recordsPerInterception =
    Object.values(cc.perTable).reduce((sum, t) => sum + t.rows, 0) -
    cc.perTable.aibridge_usage_rollups.rows +
    1;
  const last = results.reads.steps.at(-1);
  const window30 = last.interceptions; // every seeded interception is inside 30 days
  const q30 = QUESTIONS.filter((q) => q.days === 30);
  const rawPerInterception = q30.reduce((sum, q) => sum + last.answers[q.name].raw, 0) / window30;
  const rollupPerUser = q30.reduce((sum, q) => sum + last.answers[q.name].rollups, 0) / SEED.users;
  const consumerMax = results.throughput[100].recordsPerSecond;
  return [100, 1000, 10_000].map((devs) => {
    const perDay = devs * ASSUME.requestsPerDevDay;
    const dayRollups = devs * ASSUME.pairsPerDevDay * results.reads.rollupRowBytes;
    const hourRollups = dayRollups * ASSUME.activeHours;
    const usage = perDay * usageRow;
    const contentInD1 = perDay * cc.content;
    const contentInR2 = perDay * r2.content;
    const contentOff = perDay * none.content;
    const daysToCeiling = (contentPerDay) => {
      let size = 0;
      for (let day = 1; day <= 2000; day++) {
        size +=
          (day <= ASSUME.contentDays ? contentPerDay : 0) +
          (day <= ASSUME.usageDays ? usage + dayRollups : 0) +
          (day <= ASSUME.hourlyDays ? hourRollups : 0);
        if (size >= ASSUME.ceiling) return day;
      }
      return null;
    };
    const fixed = contentInR2 * ASSUME.contentDays + hourRollups * ASSUME.hourlyDays;
    const longestUsageDays = Math.floor((ASSUME.ceiling - fixed) / (usage + dayRollups));
    return {
      devs,
      perDay,
      peakRecords: ((devs * ASSUME.peakRpmPerDev) / 60) * recordsPerInterception,
      consumerMax,
      gbPerDayInD1: (usage + contentInD1 + dayRollups + hourRollups) / 1e9,
      gbPerDayR2: (usage + contentInR2 + dayRollups + hourRollups) / 1e9,
      r2GbPerDay: (perDay * r2.r2Bytes) / 1e9,
      daysInD1: daysToCeiling(contentInD1),
      daysR2: daysToCeiling(contentInR2),
      gbPerDayOff: (usage + contentOff + dayRollups + hourRollups) / 1e9,
      daysOff: daysToCeiling(contentOff),
      longestUsageDays,
      rawReads: rawPerInterception * perDay * 30,
      rollupReads: rollupPerUser * devs,
    };
  });
}

const gb = (n) => (n >= 10 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(2));
const big = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)} M` : int(n));

function report(results) {
  const { bytes, throughput, reads } = results;
  const labels = Object.keys(bytes);
  const lines = [];
  lines.push(
    `Measured ${results.date} on ${results.machine} by \`npm run bench -- --scale\` (${CONFIG.sessions} sessions × ${CONFIG.turns} turns per shape).`,
    "",
    "**Bytes per interception in D1** (what SQLite's record format stores for the rows and their index entries; D1 has no `dbstat`, and B-tree pages are not full, so files run somewhat larger). `+none`: the same Claude Code sessions with `RECORD_CONTENT=none` (content off); `+r2`: with `CONTENT_OFFLOAD_BYTES=1024`.",
    "",
    `| table | ${labels.map((l) => `${l} B | rows`).join(" | ")} |`,
    `|---|${labels.map(() => "---:|---:").join("|")}|`,
  );
  for (const t of RECORD_TABLES) {
    lines.push(
      `| ${t}${CONTENT_TABLES.has(t) ? " (content)" : ""} | ${labels.map((l) => `${int(bytes[l].perTable[t].bytes)} | ${bytes[l].perTable[t].rows.toFixed(2)}`).join(" | ")} |`,
    );
  }
  for (const [label, key] of [
    ["all tables (content on)", "total"],
    ["usage tables only", "usageOnly"],
    ["content tables", "content"],
    ["in R2 (not D1)", "r2Bytes"],
    ["request body, for scale", "requestBytes"],
  ]) {
    lines.push(`| **${label}** | ${labels.map((l) => `**${int(bytes[l][key])}** |`).join(" | ")} |`);
  }
  lines.push(
    "",
    "**Queue consumer throughput into local D1** (the Worker's `queue()` with gateway-shaped records, 5–6 per interception: raw rows and rollups in one transaction per batch, batches one after another):",
    "",
    "| batch size | records | records/s | interceptions/s |",
    "|---:|---:|---:|---:|",
  );
  for (const [size, t] of Object.entries(throughput)) {
    lines.push(
      `| ${size} | ${int(t.records)} | ${int(t.recordsPerSecond)} | ${int(t.interceptionsPerSecond)} |`,
    );
  }
  lines.push(
    "",
    `**Rows read per usage answer** (D1 \`meta.rows_read\`; ${int(SEED.users)} users over ${SEED.days} days, ${SEED.models} models × ${SEED.clients} clients each; raw = the aggregation /admin/v1/usage ran before rollups; fold = folding the new rows into the rollups, a day per transaction):`,
    "",
    `| interceptions | rollup rows | fold s | ${QUESTIONS.map((q) => `${q.name}: raw → rollups`).join(" | ")} |`,
    `|---:|---:|---:|${QUESTIONS.map(() => "---:").join("|")}|`,
  );
  for (const r of reads.steps) {
    lines.push(
      `| ${int(r.interceptions)} | ${int(r.rollupRows)} | ${r.foldSeconds.toFixed(1)} | ${QUESTIONS.map((q) => `${int(r.answers[q.name].raw)} → ${int(r.answers[q.name].rollups)}`).join(" | ")} |`,
    );
  }
  lines.push(
    "",
    `**Capacity** (Claude Code-shaped traffic; ${ASSUME.requestsPerDevDay} requests per developer per day, peak ${ASSUME.peakRpmPerDev} per minute; retention ${ASSUME.contentDays} days content / ${ASSUME.usageDays} days usage; a rollup row is ${int(reads.rollupRowBytes)} B, ${ASSUME.pairsPerDevDay} model × client pairs and ${ASSUME.activeHours} active hours per developer-day; dashboard load = the three 30-day questions):`,
    "",
    "| developers | requests/day | peak records/s (local consumer max) | D1 GB/day, content in D1 | D1 GB/day, content in R2 (R2 GB/day) | D1 GB/day, content off | days to 10 GB, content in D1 / in R2 / off | longest usage retention that fits, content in R2 | rows read per dashboard load: raw → rollups |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  );
  for (const c of capacity(results)) {
    lines.push(
      `| ${int(c.devs)} | ${big(c.perDay)} | ${int(c.peakRecords)} (${int(c.consumerMax)}) | ${gb(c.gbPerDayInD1)} | ${gb(c.gbPerDayR2)} (${gb(c.r2GbPerDay)}) | ${gb(c.gbPerDayOff)} | ${c.daysInD1 ?? "never"} / ${c.daysR2 ?? "never"} / ${c.daysOff ?? "never"} | ${c.longestUsageDays >= ASSUME.usageDays ? `≥ ${ASSUME.usageDays} days` : c.longestUsageDays > 0 ? `${c.longestUsageDays} days` : "none"} | ${big(c.rawReads)} → ${big(c.rollupReads)} |`,
    );
  }
  return lines.join("\n");
}

async function writeDoc(table) {
  const path = join(PROJECT_ROOT, "docs/scale.md");
  const doc = readFileSync(path, "utf8");
  const start = "<!-- scale:measured:start -->";
  const end = "<!-- scale:measured:end -->";
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error("docs/scale.md lacks the scale:measured markers");
  await writeFile(path, `${doc.slice(0, a + start.length)}\n${table}\n${doc.slice(b)}`);
  log("docs/scale.md updated");
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "aibridge-scale-"));
  const upstream = await startScaleUpstream();
  let mf;
  try {
    const gateway = await startGateway(dir, upstream.url);
    mf = gateway.mf;
    const { key } = await adminJson(mf, "/keys", {
      method: "POST",
      body: JSON.stringify({ user: "scale@example.com" }),
    });
    const bytes = await replaySessions(mf, gateway.db, key, ["claude-code", "codex"]);
    const none = await gateway.reconfigure({ CONTENT_OFFLOAD_BYTES: "0", RECORD_CONTENT: "none" });
    Object.assign(bytes, await replaySessions(mf, none.db, key, ["claude-code+none"]));
    const offloaded = await gateway.reconfigure({ CONTENT_OFFLOAD_BYTES: "1024" });
    Object.assign(bytes, await replaySessions(mf, offloaded.db, key, ["claude-code+r2"], offloaded.r2));
    if (BYTES_INTO) {
      // Only the bytes were asked for: merge them into an earlier full run's figures and report.
      const results = JSON.parse(readFileSync(BYTES_INTO, "utf8"));
      results.bytes = bytes;
      results.date = new Date().toISOString().slice(0, 10);
      await writeFile(BYTES_INTO, `${JSON.stringify(results, null, 2)}\n`);
      const table = report(results);
      console.log(table);
      if (!SMOKE) await writeDoc(table);
      return;
    }
    const throughput = await consumerThroughput(mf);
    const reads = await rowsRead(mf, offloaded.db);
    const results = {
      date: new Date().toISOString().slice(0, 10),
      machine: `Node ${process.version}, ${(await import("node:os")).cpus().length} cores (shared)`,
      config: CONFIG,
      seed: SEED,
      assume: ASSUME,
      bytes,
      throughput,
      reads,
    };
    const table = report(results);
    console.log(table);
    if (JSON_OUT) await writeFile(JSON_OUT, `${JSON.stringify(results, null, 2)}\n`);
    if (!SMOKE) await writeDoc(table);
  } finally {
    await mf?.dispose();
    await upstream.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// --report-from <json>: rewrite the tables from a saved run (no measuring).
if (argv.includes("--report-from")) {
  const results = JSON.parse(readFileSync(argv[argv.indexOf("--report-from") + 1], "utf8"));
  const table = report(results);
  console.log(table);
  if (!SMOKE) await writeDoc(table);
} else {
  await main();
}
