/** docs/metrics.md must describe exactly the datapoint layout the code writes. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { LAYOUT } from "../../src/metrics/layout";

describe("docs/metrics.md", () => {
  const doc = readFileSync(new URL("../../docs/metrics.md", import.meta.url), "utf8");

  it("lists every event with its blobs and doubles in the code's order", () => {
    const rows = new Map<string, { blobs: string[]; doubles: string[] }>();
    for (const match of doc.matchAll(/^\| `(\w+)` \| ([^|]+) \| ([^|]+) \|$/gm)) {
      const split = (cell: string) => cell.split(",").map((s) => s.trim());
      rows.set(match[1]!, { blobs: split(match[2]!), doubles: split(match[3]!) });
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(LAYOUT).sort());
    for (const [metric, layout] of Object.entries(LAYOUT)) {
      expect(rows.get(metric)).toEqual({ blobs: [...layout.blobs], doubles: [...layout.doubles] });
    }
  });

  it("has a query for every event", () => {
    for (const metric of Object.keys(LAYOUT)) expect(doc).toContain(`'${metric}'`);
  });
});
