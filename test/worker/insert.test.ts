/**
 * The consumer's own INSERT statements (src/recorder/insert.ts) against drizzle's, in the real D1:
 * the same rows, random per column type (booleans, JSON, numbers, text; values left out, so
 * defaults apply; explicit nulls), written once by drizzle and once by insertStatements, must
 * read back identical, column for column, in every table the consumer writes. Enough rows that
 * the statements are cut to D1's 100 bound parameters.
 */
import { env } from "cloudflare:test";
import { type Column, getTableColumns, getTableName, type Table } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { describe, expect, it } from "vitest";
import * as schema from "../../src/db/schema";
import { insertStatements, ON_CONFLICT_DO_NOTHING, onConflictUpdate } from "../../src/recorder/insert";
import { rows } from "./helpers";
import { random } from "./seeded";

const TABLES: Table[] = [
  schema.interceptions,
  schema.tokenUsages,
  schema.userPrompts,
  schema.toolUsages,
  schema.modelThoughts,
  schema.recordParts,
  schema.cacheFingerprints,
];

const ROWS = 40;

/** A value for a column: left out (undefined), null where allowed, or one of its type. */
function sample(column: Column, next: () => number, index: number): unknown {
  if (column.primary) return `row-${index}`;
  const roll = next();
  if (roll < 0.2 && (column.hasDefault || !column.notNull)) return undefined;
  if (roll < 0.35 && !column.notNull) return null;
  switch (column.dataType) {
    case "boolean":
      return next() < 0.5;
    case "json":
      return { n: Math.floor(next() * 1000), text: `it's "quoted" ${index}`, list: [1, 2] };
    case "number":
      return Math.floor(next() * 1e12);
    default:
      return `${column.name} ${index} ${next().toString(36)} 'x' "y" é`;
  }
}

function sampleRows(table: Table, seed: number): Record<string, unknown>[] {
  const next = random(seed);
  const columns = Object.entries(getTableColumns(table));
  return Array.from({ length: ROWS }, (_, index) =>
    Object.fromEntries(columns.map(([key, column]) => [key, sample(column, next, index)])),
  );
}

/** Every row's values, and SQLite's storage class of each (an integer stored as REAL reads back the same). */
async function readBack(table: Table): Promise<Record<string, unknown>[]> {
  const columns = Object.values(getTableColumns(table));
  const primary = columns.find((c) => c.primary)!;
  const types = columns.map((c) => `typeof("${c.name}") as "${c.name}:type"`).join(", ");
  return rows(`select *, ${types} from "${getTableName(table)}" order by "${primary.name}"`);
}

async function clear(table: Table): Promise<void> {
  await env.DB.prepare(`delete from "${getTableName(table)}"`).run();
}

describe("insertStatements", () => {
  for (const [n, table] of TABLES.entries()) {
    it(`writes ${getTableName(table)} rows exactly as drizzle does`, async () => {
      const values = sampleRows(table, 1000 + n);
      const db = drizzle(env.DB);
      await clear(table);
      // drizzle: one row per statement keeps within the parameter limit whatever the table.
      await db.batch(values.map((row) => db.insert(table).values(row)) as never);
      const byDrizzle = await readBack(table);

      await clear(table);
      const statements = insertStatements(env.DB, table, values, ON_CONFLICT_DO_NOTHING);
      const columns = Object.keys(getTableColumns(table)).length;
      expect(statements.length).toBe(Math.ceil(ROWS / Math.floor(100 / columns)));
      await env.DB.batch(statements);
      const byStatements = await readBack(table);

      expect(byStatements).toHaveLength(ROWS);
      expect(byStatements).toEqual(byDrizzle);
    });
  }

  it("onConflictUpdate sets only the listed columns from the new row", async () => {
    const table = schema.userPrompts;
    await clear(table);
    const first = { id: "p1", interceptionId: "i1", providerResponseId: "r1", prompt: "first", createdAt: 1 };
    await env.DB.batch(insertStatements(env.DB, table, [first], ON_CONFLICT_DO_NOTHING));
    const again = { ...first, providerResponseId: "r2", prompt: "second", createdAt: 2 };
    await env.DB.batch(insertStatements(env.DB, table, [again], onConflictUpdate(table.id, [table.prompt])));
    const [row, ...none] = await readBack(table);
    expect(none).toEqual([]);
    expect(row).toMatchObject({
      id: "p1",
      interception_id: "i1",
      provider_response_id: "r1",
      prompt: "second",
      created_at: 1,
    });
    await env.DB.batch(insertStatements(env.DB, table, [again], ON_CONFLICT_DO_NOTHING));
    expect((await readBack(table))[0]).toMatchObject({ prompt: "second" });
  });
});
