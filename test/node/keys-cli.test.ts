/**
 * The key CLI (scripts/keys.mjs) against the local D1 of a running `wrangler dev`: a key it creates
 * is printed alone on the last line, works at once against the gateway, is stored only as a hash,
 * shows in `list`, and `revoke` stops it (after the per-isolate cache bound).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeAnthropic } from "../fakes/anthropic";
import type { FakeServer } from "../fakes/server";
import { PROJECT_ROOT, startWranglerDev, type WranglerDev } from "./wrangler-dev";

const run = promisify(execFile);
let fake: FakeServer;
let dev: WranglerDev;

async function keys(...args: string[]): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [join(PROJECT_ROOT, "scripts/keys.mjs"), ...args, "--persist-to", dev.persistTo],
    {
      cwd: PROJECT_ROOT,
    },
  );
  return stdout;
}

function ask(key: string) {
  return fetch(`${dev.url}/anthropic/v1/messages`, {
    method: "POST",
    headers: { "x-api-key": key, "content-type": "application/json" },
    body: JSON.stringify({
      model: "claude-sonnet-4-5",
      max_tokens: 5,
      messages: [{ role: "user", content: "hi" }],
    }),
  });
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
  dev = await startWranglerDev({ vars: { ANTHROPIC_BASE_URL: fake.url } });
});

afterAll(async () => {
  await dev?.stop();
  await fake?.close();
});

describe("npm run -s keys", () => {
  it("create → use → list → revoke", async () => {
    const created = await keys("create", "--user", "cli@example.com", "--name", "laptop");
    const key = created.trimEnd().split("\n").at(-1)!;
    expect(key).toMatch(/^aib_[A-Za-z0-9_-]{43}$/);

    // The gateway caches the key during this first use: the 30 s bound runs from its answer at the
    // latest (timed from the answer, so a slow request on a loaded machine cannot fail the test).
    const ok = await ask(key);
    const cachedAt = Date.now();
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();

    const [row] = await dev.d1<{ id: string; key_hash: string; user_id: string; name: string }>(
      "select id, key_hash, user_id, name from aibridge_api_keys where user_id = 'cli@example.com'",
    );
    expect(row).toMatchObject({ user_id: "cli@example.com", name: "laptop" });
    expect(row!.key_hash).toBe(createHash("sha256").update(key).digest("hex"));
    const stored = JSON.stringify(await dev.d1("select * from aibridge_api_keys"));
    expect(stored).not.toContain(key);

    const listed = JSON.parse(await keys("list", "--user", "cli@example.com", "--json")) as { id: string }[];
    expect(listed.map((k) => k.id)).toEqual([row!.id]);

    expect(await keys("revoke", row!.id)).toContain(`Revoked key ${row!.id}`);
    const [revoked] = await dev.d1<{ revoked_at: number | null }>(
      `select revoked_at from aibridge_api_keys where id = '${row!.id}'`,
    );
    expect(revoked?.revoked_at).toBeGreaterThan(0);
    // The running gateway cached the key when it was used; past the 30 s bound it is refused. The
    // poll ends with the first request that *started* after the bound: that one must be refused.
    const bound = 30_000;
    let status = 200;
    let startedAfterBound = false;
    while (!startedAfterBound) {
      startedAfterBound = Date.now() - cachedAt > bound;
      const response = await ask(key);
      status = response.status;
      await response.arrayBuffer();
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(status).toBe(401);

    await expect(keys("revoke", "no-such-id")).rejects.toThrow(/No key with id/);
  }, 120_000);
});
