/**
 * A local stand-in for the Cloudflare API (the v4 REST API wrangler calls), so `npm run deploy` runs
 * for real, offline: point wrangler at it with CLOUDFLARE_API_BASE_URL=<url> plus any
 * CLOUDFLARE_API_TOKEN and CLOUDFLARE_ACCOUNT_ID. It keeps the account's state in memory (queues,
 * D1 databases and the SQL run on them, KV namespaces, the uploaded Worker with its metadata,
 * secrets) and records every request, so a test can assert what a deploy
 * created and what it sent. Requests it does not know get a 404 in the API's error shape and are
 * listed in `unknown`, which a test should expect to be empty.
 *
 * Shapes follow the public API reference (envelope: { success, errors, messages, result }).
 */

import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

export interface UploadedScript {
  metadata: {
    main_module?: string;
    bindings: { name: string; type: string; [field: string]: unknown }[];
    compatibility_date?: string;
    compatibility_flags?: string[];
    assets?: { jwt: string; config?: unknown };
    [field: string]: unknown;
  };
  modules: string[];
  /** The Durable Object migration tag the script is at (from metadata.migrations.new_tag). */
  migrationTag?: string;
}

export interface CloudflareState {
  queues: Map<string, { queue_id: string; queue_name: string; consumers: unknown[] }>;
  databases: Map<string, { uuid: string; name: string; queries: string[]; tables: Map<string, unknown[]> }>;
  kvNamespaces: Map<string, { id: string; title: string }>;
  r2Buckets: Map<string, { name: string; creation_date: string; location: string }>;
  scripts: Map<string, UploadedScript>;
  secrets: Map<string, Set<string>>;
  schedules: Map<string, string[]>;
}

export interface FakeCloudflare {
  /** The base URL for CLOUDFLARE_API_BASE_URL. */
  url: string;
  accountId: string;
  state: CloudflareState;
  requests: RecordedRequest[];
  /** "METHOD /path" of requests no handler knew. */
  unknown: string[];
  /** Everything created so far: "queue:<name>", "d1:<name>", "kv:<title>", "script:<name>". */
  created: string[];
  stop(): Promise<void>;
}

type Json = Record<string, unknown> | unknown[] | null;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startFakeCloudflare(
  accountId = "0123456789abcdef0123456789abcdef",
): Promise<FakeCloudflare> {
  const state: CloudflareState = {
    queues: new Map(),
    databases: new Map(),
    kvNamespaces: new Map(),
    r2Buckets: new Map(),
    scripts: new Map(),
    secrets: new Map(),
    schedules: new Map(),
  };
  const requests: RecordedRequest[] = [];
  const unknown: string[] = [];
  const created: string[] = [];
  const subdomain = "aibridge-test";

  const databaseById = (id: string) => {
    const db = [...state.databases.values()].find((d) => d.uuid === id || d.name === id);
    if (!db) throw new ApiError(404, 7404, `The database ${id} could not be found`);
    return db;
  };
  const script = (name: string) => {
    const found = state.scripts.get(name);
    if (!found) throw new ApiError(404, 10007, `This Worker does not exist on your account.`);
    return found;
  };
  /**
   * Durable Object migrations ride the upload's metadata ({old_tag?, new_tag, steps | new_sqlite_classes…});
   * like the real API, an old_tag that is not the script's current tag is refused.
   */
  const migrationTagAfter = (name: string, metadata: UploadedScript["metadata"]) => {
    const current = state.scripts.get(name)?.migrationTag;
    const migrations = metadata.migrations as { old_tag?: string; new_tag?: string } | undefined;
    if (!migrations) return current;
    if ((migrations.old_tag ?? undefined) !== current)
      throw new ApiError(400, 10079, `migration old_tag ${migrations.old_tag} does not match ${current}`);
    return migrations.new_tag ?? current;
  };

  /** A tiny SQL runner: enough for wrangler's d1_migrations bookkeeping; every statement is recorded. */
  function runSql(db: { queries: string[]; tables: Map<string, unknown[]> }, sql: string): unknown[] {
    db.queries.push(sql);
    const results: unknown[] = [];
    for (const statement of sql
      .split(/;\s*(?:\n|$)/)
      .map((s) => s.trim())
      .filter(Boolean)) {
      const create =
        /create table if not exists\s+(\w+)/i.exec(statement) ?? /create table\s+[`"]?(\w+)/i.exec(statement);
      if (create) db.tables.set(create[1]!, db.tables.get(create[1]!) ?? []);
      const insert = /insert into\s+(\w+)\s*\(name\)\s*values\s*\('([^']+)'\)/i.exec(statement);
      if (insert) db.tables.get(insert[1]!)?.push({ name: insert[2] });
      const select = /^select[\s\S]*?\bfrom\s+(\w+)/i.exec(statement);
      results.push({
        results: select ? [...(db.tables.get(select[1]!) ?? [])] : [],
        success: true,
        meta: { changes: 0, duration: 0.1, rows_read: 0, rows_written: 0, served_by: "fake" },
      });
    }
    return results;
  }

  async function formOf(raw: Buffer, headers: IncomingMessage["headers"]) {
    const request = new Request("http://x/", {
      method: "POST",
      headers: headers as HeadersInit,
      body: new Uint8Array(raw),
    });
    const form = await request.formData();
    const keys: string[] = [];
    form.forEach((_, key) => {
      keys.push(key);
    });
    return { form, keys };
  }

  async function body(request: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async function handle(
    method: string,
    path: string,
    query: URLSearchParams,
    raw: Buffer,
    headers: IncomingMessage["headers"],
  ): Promise<{ result: Json; status?: number; resultInfo?: unknown }> {
    const json = () => (raw.length ? JSON.parse(raw.toString("utf8")) : {});
    const acct = `/accounts/${accountId}`;
    let m: RegExpExecArray | null;
    const route = (pattern: string) => {
      m = new RegExp(`^${pattern}$`).exec(path);
      return m !== null;
    };
    const p = (i: number) => decodeURIComponent(m![i]!);

    // Identity and account
    if (method === "GET" && route("/user/tokens/verify"))
      return { result: { id: "token", status: "active" } };
    if (method === "GET" && route("/memberships"))
      return { result: [{ account: { id: accountId, name: "Test" } }] };
    if (method === "GET" && route("/accounts")) return { result: [{ id: accountId, name: "Test" }] };
    if (method === "GET" && route("/user")) return { result: { id: "user", email: "admin@example.com" } };

    // Queues
    if (method === "GET" && route(`${acct}/queues`)) {
      const names = query.getAll("name");
      const all = [...state.queues.values()].filter(
        (q) => names.length === 0 || names.includes(q.queue_name),
      );
      return {
        result: all,
        resultInfo: { page: 1, per_page: 100, count: all.length, total_count: all.length },
      };
    }
    if (method === "POST" && route(`${acct}/queues`)) {
      const { queue_name } = json() as { queue_name: string };
      if (state.queues.has(queue_name))
        throw new ApiError(409, 11009, `A queue named ${queue_name} already exists`);
      const queue = { queue_id: randomUUID().replaceAll("-", ""), queue_name, consumers: [] };
      state.queues.set(queue_name, queue);
      created.push(`queue:${queue_name}`);
      return { result: queue };
    }
    if (route(`${acct}/queues/([^/]+)/consumers(?:/([^/]+))?`)) {
      const queue = [...state.queues.values()].find((q) => q.queue_id === p(1) || q.queue_name === p(1));
      if (!queue) throw new ApiError(404, 11000, "Queue does not exist");
      if (method === "GET") return { result: queue.consumers as Json };
      if (method === "POST" || method === "PUT") {
        const consumer = { ...json(), consumer_id: randomUUID() };
        queue.consumers = [
          ...queue.consumers.filter((c) => (c as { script?: string }).script !== consumer.script_name),
          consumer,
        ];
        return { result: consumer };
      }
      if (method === "DELETE") return { result: null };
    }
    if (method === "GET" && route(`${acct}/queues/([^/]+)`)) {
      const queue = [...state.queues.values()].find((q) => q.queue_id === p(1) || q.queue_name === p(1));
      if (!queue) throw new ApiError(404, 11000, "Queue does not exist");
      return {
        result: {
          ...queue,
          producers: [],
          producers_total_count: 0,
          consumers_total_count: queue.consumers.length,
          created_on: "2026-01-01T00:00:00Z",
          modified_on: "2026-01-01T00:00:00Z",
        },
      };
    }

    // D1
    if (method === "GET" && route(`${acct}/d1/database`)) {
      const name = query.get("name");
      const all = [...state.databases.values()]
        .filter((d) => !name || d.name === name)
        .map((d) => ({
          uuid: d.uuid,
          name: d.name,
          version: "production",
          created_at: "2026-01-01T00:00:00Z",
        }));
      const page = Number(query.get("page") ?? 1);
      return {
        result: page > 1 ? [] : all,
        resultInfo: { page, per_page: 1000, count: all.length, total_count: all.length },
      };
    }
    if (method === "POST" && route(`${acct}/d1/database`)) {
      const { name } = json() as { name: string };
      if (state.databases.has(name))
        throw new ApiError(400, 7502, `A database with that name already exists`);
      const db = { uuid: randomUUID(), name, queries: [], tables: new Map() };
      state.databases.set(name, db);
      created.push(`d1:${name}`);
      return { result: { uuid: db.uuid, name, created_in_region: "WEUR" } };
    }
    if (method === "GET" && route(`${acct}/d1/database/([^/]+)`)) {
      const db = databaseById(p(1));
      return {
        result: {
          uuid: db.uuid,
          name: db.name,
          version: "production",
          num_tables: db.tables.size,
          file_size: 0,
        },
      };
    }
    if (method === "POST" && route(`${acct}/d1/database/([^/]+)/(query|raw)`)) {
      const db = databaseById(p(1));
      const { sql } = json() as { sql: string };
      return { result: runSql(db, sql) as Json };
    }

    // KV
    if (method === "GET" && route(`${acct}/storage/kv/namespaces`)) {
      const all = [...state.kvNamespaces.values()];
      const page = Number(query.get("page") ?? 1);
      return {
        result: page > 1 ? [] : all,
        resultInfo: { page, per_page: 100, count: all.length, total_count: all.length },
      };
    }
    if (method === "POST" && route(`${acct}/storage/kv/namespaces`)) {
      const { title } = json() as { title: string };
      const namespace = { id: randomUUID().replaceAll("-", ""), title };
      state.kvNamespaces.set(title, namespace);
      created.push(`kv:${title}`);
      return { result: namespace };
    }

    // R2 buckets (the CONTENT binding: wrangler provisions it by name)
    if (method === "GET" && route(`${acct}/r2/buckets`)) {
      return { result: { buckets: [...state.r2Buckets.values()] } };
    }
    if (method === "GET" && route(`${acct}/r2/buckets/([^/]+)`)) {
      const bucket = state.r2Buckets.get(decodeURIComponent(path.split("/").pop()!));
      if (!bucket) throw new ApiError(404, 10006, "The specified bucket does not exist.");
      return { result: bucket };
    }
    if (method === "POST" && route(`${acct}/r2/buckets`)) {
      const { name } = json() as { name: string };
      const bucket = { name, creation_date: new Date().toISOString(), location: "WNAM" };
      state.r2Buckets.set(name, bucket);
      created.push(`r2:${name}`);
      return { result: bucket };
    }

    // Workers: subdomain, scripts, settings, secrets, schedules (the gateway uploads no static assets)
    if (method === "GET" && route(`${acct}/workers/subdomain`)) return { result: { subdomain } };
    // wrangler reads the script list for the Durable Object migration tag it must continue from.
    if (method === "GET" && route(`${acct}/workers/scripts`)) {
      return {
        result: [...state.scripts].map(([id, s]) => ({ id, migration_tag: s.migrationTag ?? null })),
      };
    }
    if (route(`${acct}/workers/scripts/([^/]+)/subdomain`)) {
      if (method === "GET") return { result: { enabled: true, previews_enabled: false } };
      return { result: { enabled: true, previews_enabled: false } };
    }
    if (method === "GET" && route(`${acct}/workers/scripts/([^/]+)/settings`)) {
      const s = script(p(1));
      return { result: { bindings: s.metadata.bindings, compatibility_date: s.metadata.compatibility_date } };
    }
    if (method === "PUT" && route(`${acct}/workers/scripts/([^/]+)`)) {
      const { form, keys } = await formOf(raw, headers);
      const metadata = JSON.parse(String(form.get("metadata"))) as UploadedScript["metadata"];
      const name = p(1);
      // Secrets are kept across uploads: wrangler sends them as "inherit" bindings or leaves them out.
      if (!state.scripts.has(name)) created.push(`script:${name}`);
      const migrationTag = migrationTagAfter(name, metadata);
      state.scripts.set(name, { metadata, modules: keys.filter((k) => k !== "metadata"), migrationTag });
      return {
        result: {
          id: name,
          etag: "etag",
          startup_time_ms: 5,
          deployment_id: randomUUID(),
          has_assets: Boolean(metadata.assets),
        },
      };
    }
    // A later deploy of an existing Worker: a new version (bindings may say "inherit": the previous
    // version's binding of that name), then a deployment of it at 100 %.
    if (method === "POST" && route(`${acct}/workers/scripts/([^/]+)/versions`)) {
      const previous = script(p(1));
      const { form, keys } = await formOf(raw, headers);
      const metadata = JSON.parse(String(form.get("metadata"))) as UploadedScript["metadata"];
      metadata.bindings = metadata.bindings.map((binding) => {
        if (binding.type !== "inherit") return binding;
        const inherited = previous.metadata.bindings.find((b) => b.name === binding.name);
        if (!inherited) throw new ApiError(400, 10056, `inherit binding '${binding.name}' is invalid`);
        return inherited;
      });
      const migrationTag = migrationTagAfter(p(1), metadata);
      state.scripts.set(p(1), { metadata, modules: keys.filter((k) => k !== "metadata"), migrationTag });
      return {
        result: {
          id: randomUUID(),
          number: 2,
          startup_time_ms: 5,
          metadata: { has_preview: false },
          resources: { script: { etag: "etag" }, bindings: metadata.bindings },
        },
      };
    }
    if (method === "POST" && route(`${acct}/workers/scripts/([^/]+)/deployments`)) {
      script(p(1));
      return { result: { id: randomUUID(), source: "wrangler", strategy: "percentage", ...json() } };
    }
    if (route(`${acct}/workers/scripts/([^/]+)/script-settings`)) {
      script(p(1));
      return { result: { logpush: false, tail_consumers: [], tags: [], observability: { enabled: true } } };
    }
    if (method === "GET" && route(`${acct}/workers/scripts/([^/]+)/deployments`)) {
      const versions = state.scripts.has(p(1)) ? [{ version_id: `${p(1)}-version`, percentage: 100 }] : [];
      return {
        result: { deployments: versions.length ? [{ id: "deployment", source: "wrangler", versions }] : [] },
      };
    }
    if (method === "GET" && route(`${acct}/workers/scripts/([^/]+)/secrets`)) {
      script(p(1));
      return { result: [...(state.secrets.get(p(1)) ?? [])].map((name) => ({ name, type: "secret_text" })) };
    }
    if (method === "PUT" && route(`${acct}/workers/scripts/([^/]+)/secrets`)) {
      const { name } = json() as { name: string };
      const set = state.secrets.get(p(1)) ?? new Set();
      set.add(name);
      state.secrets.set(p(1), set);
      return { result: { name, type: "secret_text" } };
    }
    if (route(`${acct}/workers/scripts/([^/]+)/schedules`)) {
      if (method === "PUT")
        state.schedules.set(
          p(1),
          (json() as { cron: string }[]).map((s) => s.cron),
        );
      return { result: { schedules: (state.schedules.get(p(1)) ?? []).map((cron) => ({ cron })) } };
    }
    if (method === "GET" && route(`${acct}/workers/services/([^/]+)`)) {
      script(p(1));
      return {
        result: {
          id: p(1),
          default_environment: { environment: "production", script: { last_deployed_from: "wrangler" } },
        },
      };
    }
    throw new ApiError(404, 7003, `No route for that URI (fake Cloudflare API: ${method} ${path})`);
  }

  const server = createServer(async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const path = url.pathname.replace(/^\/client\/v4/, "");
    const method = request.method ?? "GET";
    requests.push({ method, path, query: Object.fromEntries(url.searchParams) });
    const raw = await body(request);
    let status = 200;
    let payload: Record<string, unknown>;
    try {
      const {
        result,
        status: okStatus,
        resultInfo,
      } = await handle(method, path, url.searchParams, raw, request.headers);
      status = okStatus ?? 200;
      payload = {
        success: true,
        errors: [],
        messages: [],
        result,
        ...(resultInfo ? { result_info: resultInfo } : {}),
      };
    } catch (error) {
      const api = error instanceof ApiError ? error : new ApiError(500, 10000, String(error));
      if (api.code === 7003) unknown.push(`${method} ${path}`);
      status = api.status;
      payload = {
        success: false,
        errors: [{ code: api.code, message: api.message }],
        messages: [],
        result: null,
      };
    }
    response.writeHead(status, { "content-type": "application/json" });
    response.end(JSON.stringify(payload));
  });
  // Port 0: the kernel picks a free port at bind time (no window for another process to take it).
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    accountId,
    state,
    requests,
    unknown,
    created,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
