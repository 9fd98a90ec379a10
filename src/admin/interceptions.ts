/**
 * GET /admin/v1/interceptions?user=&model=&status=&from=&to=&cursor=&limit=  newest first, keyset-paginated
 * GET /admin/v1/interceptions/:id                                   one, with every record
 * GET /admin/v1/sessions/:id                                        a client session, in order
 */
import { Hono } from "hono";
import { sessionCache, summarizeSessionCache } from "../analytics/query";
import type { AppEnv } from "../app-env";
import { resolveTexts } from "../recorder/content";
import { iso, optionalText, ParamError, parseLimit, parseRange } from "./params";

/** List items carry the start of the prompt; the full text is on /interceptions/:id. */
const PROMPT_PREVIEW_CHARS = 2000;

interface InterceptionRow {
  id: string;
  initiator_id: string;
  provider: string;
  provider_name: string;
  instance: string | null;
  upstream_instance: string | null;
  fallback: number;
  model: string;
  client: string;
  user_agent: string | null;
  client_session_id: string | null;
  credential_kind: string;
  streaming: number;
  started_at: number;
  ended_at: number | null;
  status: string;
  stop_reason: string | null;
  error_type: string | null;
  error_message: string | null;
  record_content: string | null;
  record_content_source: string | null;
  redactions: string | null;
}

interface TokenSums {
  interception_id: string;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  cost_micros: number | null;
  usages: number;
  unpriced_usages: number;
}

const INTERCEPTION_COLUMNS = `id, initiator_id, provider, provider_name, model, client, user_agent, client_session_id,
  credential_kind, streaming, started_at, ended_at, status, stop_reason, error_type, error_message,
  instance, upstream_instance, fallback, record_content, record_content_source, redactions`;

/** Child rows for a set of interceptions in one round trip (ids travel as one JSON parameter). */
async function children(db: D1Database, ids: string[]) {
  const idsJson = JSON.stringify(ids);
  const [tokens, prompts, tools] = await db.batch<Record<string, unknown>>([
    db
      .prepare(
        `select interception_id,
           sum(input_tokens) as input_tokens, sum(output_tokens) as output_tokens,
           sum(cache_read_input_tokens) as cache_read_tokens, sum(cache_write_input_tokens) as cache_write_tokens,
           sum(cost_micros) as cost_micros, count(*) as usages, count(*) - count(cost_micros) as unpriced_usages
         from aibridge_token_usages where interception_id in (select value from json_each(?1))
         group by interception_id`,
      )
      .bind(idsJson),
    db
      .prepare(
        // As bytes (hex): SQLite's text substr()/length() stop at a NUL character, so a prompt
        // starting with one previewed as empty. At most 4 UTF-8 bytes per character of preview.
        `select interception_id, hex(substr(cast(prompt as blob), 1, ${PROMPT_PREVIEW_CHARS * 4})) as head,
           length(cast(prompt as blob)) as bytes
         from aibridge_user_prompts where interception_id in (select value from json_each(?1))
         order by created_at, id`,
      )
      .bind(idsJson),
    db
      .prepare(
        `select interception_id, tool, injected from aibridge_tool_usages
         where interception_id in (select value from json_each(?1)) order by created_at, id`,
      )
      .bind(idsJson),
  ]);
  return {
    tokens: new Map((tokens!.results as unknown as TokenSums[]).map((row) => [row.interception_id, row])),
    prompts: groupBy(
      (prompts!.results as { interception_id: string; head: string; bytes: number }[]).map(promptPreview),
    ),
    tools: groupBy(tools!.results as { interception_id: string; tool: string; injected: number }[]),
  };
}

/** The first PROMPT_PREVIEW_CHARS characters of a prompt from its first bytes, and whether that is all. */
function promptPreview(row: { interception_id: string; head: string; bytes: number }) {
  const bytes = new Uint8Array(row.head.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(row.head.slice(i * 2, i * 2 + 2), 16);
  let text = new TextDecoder().decode(bytes);
  const cut = row.bytes > bytes.length;
  // A character cut in half by the byte limit decodes as U+FFFD at the very end: not part of the text.
  if (cut) text = text.replace(/\uFFFD$/, "");
  let preview = text.slice(0, PROMPT_PREVIEW_CHARS);
  if (/[\uD800-\uDBFF]$/.test(preview)) preview = preview.slice(0, -1);
  return {
    interception_id: row.interception_id,
    prompt: preview,
    truncated: cut || preview.length < text.length,
  };
}

function groupBy<T extends { interception_id: string }>(rows: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const list = groups.get(row.interception_id) ?? [];
    list.push(row);
    groups.set(row.interception_id, list);
  }
  return groups;
}

function summary(row: InterceptionRow, related: Awaited<ReturnType<typeof children>>) {
  const tokens = related.tokens.get(row.id);
  // The prompt that opened the interception (later ones belong to the gateway's inner tool loop).
  const prompt = related.prompts.get(row.id)?.[0];
  return {
    id: row.id,
    user: row.initiator_id,
    provider: row.provider,
    api: row.provider_name,
    // The provider instance addressed, the one that answered, and whether that was a fallback.
    instance: row.instance ?? row.provider,
    upstream_instance: row.upstream_instance,
    fallback: row.fallback === 1,
    model: row.model,
    client: row.client,
    session_id: row.client_session_id,
    streaming: row.streaming === 1,
    status: row.status,
    stop_reason: row.stop_reason,
    error: row.error_type ? { type: row.error_type, message: row.error_message } : null,
    started_at: iso(row.started_at),
    ended_at: iso(row.ended_at),
    duration_ms: row.ended_at === null ? null : row.ended_at - row.started_at,
    tokens: {
      input: tokens?.input_tokens ?? 0,
      output: tokens?.output_tokens ?? 0,
      cache_read: tokens?.cache_read_tokens ?? 0,
      cache_write: tokens?.cache_write_tokens ?? 0,
    },
    cost_micros: costOf(tokens),
    unpriced_usages: tokens?.unpriced_usages ?? 0,
    prompt: prompt?.prompt ?? null,
    // Parts beyond the first row (aibridge_record_parts) also make a prompt longer than its preview.
    prompt_truncated: prompt ? prompt.truncated : false,
    tools: (related.tools.get(row.id) ?? []).map((t) => ({ tool: t.tool, injected: t.injected === 1 })),
    // What was stored of the content (docs/redaction.md): mode, who chose it, secrets hidden by kind.
    recording: {
      content: row.record_content,
      source: row.record_content_source,
      redactions: parseJson(row.redactions) as Record<string, number> | null,
    },
  };
}

/** No usage records: 0. Only unpriced ones: null (unknown, not free). Otherwise the priced sum. */
function costOf(tokens: TokenSums | undefined): number | null {
  if (!tokens) return 0;
  return tokens.unpriced_usages === tokens.usages ? null : tokens.cost_micros;
}

async function summaries(db: D1Database, rows: InterceptionRow[]) {
  if (rows.length === 0) return [];
  const related = await children(
    db,
    rows.map((row) => row.id),
  );
  return rows.map((row) => summary(row, related));
}

/** Opaque cursor: the (started_at, id) of the last item of the previous page. */
function encodeCursor(row: InterceptionRow): string {
  return btoa(JSON.stringify([row.started_at, row.id]))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const value = JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")));
    if (Array.isArray(value) && typeof value[0] === "number" && typeof value[1] === "string") {
      return [value[0], value[1]];
    }
  } catch {}
  throw new ParamError("cursor: pass the next_cursor value of the previous page unchanged.");
}

export const adminInterceptionRoutes = new Hono<AppEnv>();

adminInterceptionRoutes.get("/", async (c) => {
  const range = parseRange((name) => c.req.query(name));
  const user = optionalText("user", c.req.query("user"));
  const model = optionalText("model", c.req.query("model"));
  // e.g. status=rejected: the requests a limit refused (the dashboard's Budgets view).
  const status = optionalText("status", c.req.query("status"));
  const limit = parseLimit(c.req.query("limit"), 50, 200);
  const cursorText = c.req.query("cursor");
  const [afterTime, afterId] = cursorText ? decodeCursor(cursorText) : [null, null];
  const { results } = await c.env.DB.prepare(
    `select ${INTERCEPTION_COLUMNS} from aibridge_interceptions
     where started_at >= ?1 and started_at < ?2
       and (?3 is null or initiator_id = ?3)
       and (?4 is null or model = ?4)
       and (?5 is null or started_at < ?5 or (started_at = ?5 and id < ?6))
       and (?8 is null or status = ?8)
     order by started_at desc, id desc limit ?7`,
  )
    .bind(range.from, range.to, user, model, afterTime, afterId, limit + 1, status)
    .all<InterceptionRow>();
  const page = results.slice(0, limit);
  const last = page[page.length - 1];
  return c.json({
    interceptions: await summaries(c.env.DB, page),
    next_cursor: results.length > limit && last ? encodeCursor(last) : null,
  });
});

adminInterceptionRoutes.get("/:id", async (c) => {
  const id = c.req.param("id");
  const db = c.env.DB;
  const [found, usages, prompts, tools, thoughts] = await db.batch<Record<string, unknown>>([
    db
      .prepare(
        `select ${INTERCEPTION_COLUMNS}, api_key_id, credential_hint, metadata from aibridge_interceptions where id = ?`,
      )
      .bind(id),
    db
      .prepare(
        `select id, provider_response_id, input_tokens, output_tokens, cache_read_input_tokens, cache_write_input_tokens,
           extra_token_types, cost_micros, created_at
         from aibridge_token_usages where interception_id = ? order by created_at, id`,
      )
      .bind(id),
    db
      .prepare(
        `select id, provider_response_id, prompt, created_at
         from aibridge_user_prompts where interception_id = ? order by created_at, id`,
      )
      .bind(id),
    db
      .prepare(
        `select id, provider_response_id, provider_tool_call_id, tool, server_url, input,
           injected, invocation_error, created_at, content_ref
         from aibridge_tool_usages where interception_id = ? order by created_at, id`,
      )
      .bind(id),
    db
      .prepare(
        `select id, content, source, created_at, content_ref
         from aibridge_model_thoughts where interception_id = ? order by created_at, id`,
      )
      .bind(id),
  ]);
  const row = found!.results[0] as
    | (InterceptionRow & {
        api_key_id: string | null;
        credential_hint: string | null;
        metadata: string | null;
      })
    | undefined;
  if (!row) return c.json({ error: `No interception ${id.slice(0, 80)}.` }, 404);
  const [item] = await summaries(db, [row]);
  // Texts kept in R2 (src/recorder/content.ts) first, then the overflow parts appended to them.
  await Promise.all([
    resolveTexts(c.env.CONTENT, tools!.results, "input"),
    resolveTexts(c.env.CONTENT, thoughts!.results, "content"),
  ]);
  await Promise.all([
    appendParts(db, prompts!.results, "prompt", c.env.CONTENT),
    appendParts(db, tools!.results, "input", c.env.CONTENT),
    appendParts(db, thoughts!.results, "content", c.env.CONTENT),
  ]);
  const created = (r: Record<string, unknown>) => ({ ...r, created_at: iso(r.created_at as number) });
  return c.json({
    ...item,
    user_agent: row.user_agent,
    api_key_id: row.api_key_id,
    credential_kind: row.credential_kind,
    credential_hint: row.credential_hint,
    metadata: parseJson(row.metadata),
    token_usages: usages!.results.map((u) => ({
      ...created(u),
      extra_token_types: parseJson(u.extra_token_types as string | null),
    })),
    prompts: prompts!.results.map(created),
    tools: tools!.results.map((t) => ({ ...created(t), injected: t.injected === 1 })),
    thoughts: thoughts!.results.map(created),
  });
});

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export const adminSessionRoutes = new Hono<AppEnv>();

adminSessionRoutes.get("/:id", async (c) => {
  const id = c.req.param("id");
  const { results } = await c.env.DB.prepare(
    `select ${INTERCEPTION_COLUMNS} from aibridge_interceptions where client_session_id = ?
     order by started_at, id limit 1000`,
  )
    .bind(id)
    .all<InterceptionRow>();
  if (results.length === 0) return c.json({ error: `No session ${id.slice(0, 80)}.` }, 404);
  const [turns, cache] = await Promise.all([summaries(c.env.DB, results), sessionCache(c.env.DB, c.env, id)]);
  // Each turn's prompt-cache view (null for a turn that was not fingerprinted or has no usage).
  const interceptions = turns.map((turn) => ({ ...turn, cache: cache.get(turn.id)?.cache ?? null }));
  const priced = interceptions.filter((i) => i.cost_micros !== null);
  return c.json({
    session_id: id,
    users: [...new Set(interceptions.map((i) => i.user))],
    interceptions,
    totals: {
      requests: interceptions.length,
      input_tokens: interceptions.reduce((sum, i) => sum + i.tokens.input, 0),
      output_tokens: interceptions.reduce((sum, i) => sum + i.tokens.output, 0),
      cache_read_tokens: interceptions.reduce((sum, i) => sum + i.tokens.cache_read, 0),
      cache_write_tokens: interceptions.reduce((sum, i) => sum + i.tokens.cache_write, 0),
      cost_micros:
        priced.length > 0 || interceptions.every((i) => i.unpriced_usages === 0)
          ? priced.reduce((sum, i) => sum + (i.cost_micros ?? 0), 0)
          : null,
      unpriced_usages: interceptions.reduce((sum, i) => sum + i.unpriced_usages, 0),
      cache: summarizeSessionCache([...cache.values()]),
    },
  });
});

/**
 * Appends the rest of texts too long for one D1 row (aibridge_record_parts, in seq order), so the
 * detail view shows prompts, tool inputs and thoughts whole. Joined here, not in SQL: D1 refuses
 * to build a string past its 2 MB limit.
 */
async function appendParts(
  db: D1Database,
  rows: Record<string, unknown>[],
  field: string,
  content: R2Bucket | undefined,
): Promise<void> {
  if (rows.length === 0) return;
  const { results } = await db
    .prepare(
      `select record_id, content, content_ref from aibridge_record_parts
       where field = ?1 and record_id in (select value from json_each(?2)) order by record_id, seq`,
    )
    .bind(field, JSON.stringify(rows.map((row) => row.id)))
    .all<{ record_id: string; content: string }>();
  await resolveTexts(content, results, "content");
  const byId = new Map(rows.map((row) => [row.id, row]));
  for (const part of results) {
    const row = byId.get(part.record_id);
    if (row) row[field] = String(row[field] ?? "") + (part.content ?? "");
  }
}
