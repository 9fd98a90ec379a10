/**
 * Bulky text in R2 (src/recorder/content.ts): with CONTENT_OFFLOAD_BYTES set, the real queue
 * consumer moves long tool arguments, thoughts and overflow parts into one R2 object per batch and
 * leaves a pointer in D1; the admin detail reads them back whole; redelivery keeps the first
 * pointer; the cron deletes old content objects with the content retention.
 */
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  env,
  getQueueResult,
} from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config";
import worker from "../../src/index";
import { contentStore } from "../../src/recorder/content";
import type { RecordMessage } from "../../src/recorder/records";
import { admin, rows } from "./helpers";

const ID = "018f0000-0000-7000-8000-00000000c0de";
const NOW = Date.now();
/** Declared in wrangler.toml, so always bound in tests. */
const CONTENT = env.CONTENT!;
const longInput = JSON.stringify({ file_path: "/src/a.ts", content: `${"const ✓ = 1;\n".repeat(400)}END` });
const longThought = `${"Think about the parser — ".repeat(200)}done`;
const partText = `${"é".repeat(3000)}tail`;

function records(): RecordMessage[] {
  const info = {
    id: ID,
    initiatorId: "r2@example.com",
    apiKeyId: null,
    provider: "anthropic",
    providerName: "messages",
    model: "claude-sonnet-4-5",
    client: "Claude Code",
    userAgent: null,
    clientSessionId: null,
    correlatingToolCallId: null,
    credentialKind: "centralized" as const,
    credentialHint: null,
    streaming: true,
    startedAt: NOW,
    metadata: null,
  };
  return [
    { kind: "interception_started", ...info },
    {
      kind: "tool_usage",
      id: `${ID}-tool`,
      interceptionId: ID,
      providerResponseId: null,
      providerToolCallId: "toolu_1",
      tool: "Write",
      serverUrl: null,
      input: longInput,
      injected: false,
      invocationError: null,
      createdAt: NOW + 2,
    },
    {
      kind: "model_thought",
      id: `${ID}-long`,
      interceptionId: ID,
      content: longThought,
      source: "thinking",
      createdAt: NOW + 1,
    },
    {
      kind: "model_thought",
      id: `${ID}-short`,
      interceptionId: ID,
      content: "short",
      source: "thinking",
      createdAt: NOW + 3,
    },
    {
      kind: "record_part",
      id: `${ID}-part`,
      recordId: `${ID}-long`,
      field: "content",
      seq: 1,
      content: partText,
      createdAt: NOW + 1,
    },
    {
      kind: "interception_ended",
      ...info,
      endedAt: NOW + 10,
      status: "completed",
      stopReason: "end_turn",
      errorType: null,
      errorMessage: null,
    },
  ];
}

async function deliver(batchRecords: RecordMessage[]) {
  const batch = createMessageBatch(
    "aibridge-records",
    batchRecords.map((body, i) => ({ id: `msg-${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  // The real consumer entry, with long-text offload switched on for this delivery.
  await worker.queue(batch, { ...env, CONTENT_OFFLOAD_BYTES: "1024" });
  return getQueueResult(batch, ctx);
}

async function contentKeys(): Promise<string[]> {
  return (await CONTENT.list({ prefix: "content/" })).objects.map((o) => o.key);
}

beforeEach(async () => {
  const keys = await contentKeys();
  if (keys.length) await CONTENT.delete(keys);
});

describe("content in R2", () => {
  it("moves long texts to one R2 object, keeps pointers in D1, and the admin detail shows them whole", async () => {
    await deliver(records());
    const [tool] = await rows<{ input: string; content_ref: string }>(
      "select input, content_ref from aibridge_tool_usages where id = ?",
      `${ID}-tool`,
    );
    expect(tool!.input).toBe("");
    expect(tool!.content_ref).toMatch(/^content\/\d{4}-\d{2}-\d{2}\/[0-9a-f-]+#\d+\+\d+$/);
    const thoughts = await rows<{ id: string; content: string; content_ref: string | null }>(
      "select id, content, content_ref from aibridge_model_thoughts where interception_id = ? order by id",
      ID,
    );
    expect(thoughts).toEqual([
      { id: `${ID}-long`, content: "", content_ref: expect.stringMatching(/^content\//) },
      { id: `${ID}-short`, content: "short", content_ref: null },
    ]);
    const [part] = await rows<{ content: string; content_ref: string }>(
      "select content, content_ref from aibridge_record_parts",
    );
    expect(part!.content).toBe("");
    // One object for the whole batch: every pointer names the same key.
    const keys = await contentKeys();
    expect(keys).toHaveLength(1);
    for (const ref of [tool!.content_ref, thoughts[0]!.content_ref, part!.content_ref]) {
      expect(ref!.split("#")[0]).toBe(keys[0]);
    }

    const detail = await (await admin(`/interceptions/${ID}`)).json<{
      tools: { input: string }[];
      thoughts: { content: string }[];
    }>();
    expect(detail.tools[0]!.input).toBe(longInput);
    expect(detail.thoughts.map((t) => t.content)).toEqual([longThought + partText, "short"]);
    expect(JSON.stringify(detail)).not.toContain("content_ref");

    // Delivered again: a second object is written, but the rows keep their first pointer.
    await deliver(records());
    expect(await contentKeys()).toHaveLength(2);
    const [again] = await rows<{ content_ref: string }>(
      "select content_ref from aibridge_tool_usages where id = ?",
      `${ID}-tool`,
    );
    expect(again!.content_ref).toBe(tool!.content_ref);
    const detailAgain = await (await admin(`/interceptions/${ID}`)).json<{ tools: { input: string }[] }>();
    expect(detailAgain.tools[0]!.input).toBe(longInput);
  });

  it("the cron deletes content objects older than CONTENT_RETENTION_DAYS and keeps recent ones", async () => {
    const day = (daysAgo: number) => new Date(NOW - daysAgo * 86_400_000).toISOString().slice(0, 10);
    await CONTENT.put(`content/${day(45)}/old-1`, "old");
    await CONTENT.put(`content/${day(31)}/old-2`, "old");
    await CONTENT.put(`content/${day(29)}/recent`, "recent");
    await CONTENT.put(`content/${day(0)}/today`, "today");
    await worker.scheduled(createScheduledController({ cron: "17 3 * * *" }), env);
    expect(await contentKeys()).toEqual([`content/${day(29)}/recent`, `content/${day(0)}/today`]);
  });

  it("is off by default and rejects a bad CONTENT_OFFLOAD_BYTES", () => {
    expect(contentStore(env)).toBeUndefined();
    expect(contentStore({ ...env, CONTENT_OFFLOAD_BYTES: "1024" })).toMatchObject({ offloadBytes: 1024 });
    expect(() => contentStore({ ...env, CONTENT_OFFLOAD_BYTES: "lots" })).toThrow(ConfigError);
    expect(contentStore({ CONTENT_OFFLOAD_BYTES: "1024" })).toBeUndefined();
  });
});
