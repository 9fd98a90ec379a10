/**
 * Multi-row INSERT statements bound straight to D1, for the queue consumer's batches. drizzle's
 * query builder rebuilt the same SQL text for every batch, value by value, and was most of the
 * consumer's CPU (about 85% of a small chat's batch, profiled). Here the text for a (table, row
 * count, conflict clause) is built once from the drizzle schema and reused. Values are bound as
 * drizzle binds them: every insertable column in the table's order, a missing one as its default
 * (else null), each through the column's own mapToDriverValue (booleans as 0/1, JSON as text).
 */
import { type Column, getTableColumns, getTableName, is, SQL, type Table } from "drizzle-orm";

/** D1 binds at most 100 parameters per statement; multi-row inserts are cut to fit. */
const MAX_PARAMS = 100;

interface TableShape {
  name: string;
  /** Insertable columns, in the table's order: [property name, column]. */
  columns: [string, Column][];
}

const shapes = new WeakMap<Table, TableShape>();
const texts = new Map<string, string>();

export function insertStatements<T extends Table>(
  d1: D1Database,
  table: T,
  rows: readonly T["$inferInsert"][],
  conflict: string,
): D1PreparedStatement[] {
  const shape = shapeOf(table);
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / shape.columns.length));
  const statements: D1PreparedStatement[] = [];
  for (let start = 0; start < rows.length; start += perStatement) {
    const slice = rows.slice(start, start + perStatement);
    const values: unknown[] = [];
    for (const row of slice) {
      for (const [key, column] of shape.columns) {
        const value = columnValue(row as Record<string, unknown>, key, column);
        values.push(value === null ? null : column.mapToDriverValue(value));
      }
    }
    statements.push(d1.prepare(insertText(shape, slice.length, conflict)).bind(...values));
  }
  return statements;
}

/** `on conflict (target) do update set c = excluded.c, …`: the listed columns take the new row's values. */
export function onConflictUpdate(target: Column, set: Column[]): string {
  const assignments = set.map((c) => `${quote(c.name)} = excluded.${quote(c.name)}`).join(", ");
  return `on conflict (${quote(target.name)}) do update set ${assignments}`;
}

export const ON_CONFLICT_DO_NOTHING = "on conflict do nothing";

function columnValue(row: Record<string, unknown>, key: string, column: Column): unknown {
  const value = row[key];
  if (value !== undefined) return value;
  if (column.default !== undefined && column.default !== null) return column.default;
  if (column.defaultFn) return column.defaultFn();
  return null;
}

function shapeOf(table: Table): TableShape {
  let shape = shapes.get(table);
  if (!shape) {
    // As drizzle inserts: generated columns (other than "by default") take no value.
    const columns = Object.entries(getTableColumns(table)).filter(
      ([, c]) => c.generated === undefined || c.generated.type === "byDefault",
    );
    for (const [key, column] of columns) {
      // A default that is SQL would have to be inlined into the text; no column has one.
      if (is(column.default, SQL)) {
        throw new Error(`${getTableName(table)}.${key}: SQL defaults are not supported`);
      }
    }
    shape = { name: getTableName(table), columns };
    shapes.set(table, shape);
  }
  return shape;
}

function insertText(shape: TableShape, rows: number, conflict: string): string {
  const key = `${shape.name}\n${rows}\n${conflict}`;
  let text = texts.get(key);
  if (text === undefined) {
    const names = shape.columns.map(([, c]) => quote(c.name)).join(", ");
    const row = `(${shape.columns.map(() => "?").join(", ")})`;
    text = `insert into ${quote(shape.name)} (${names}) values ${Array(rows).fill(row).join(", ")} ${conflict}`;
    texts.set(key, text);
  }
  return text;
}

function quote(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
