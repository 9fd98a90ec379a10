/** Types for rollup-sql.mjs (plain JavaScript so the CLIs can import it too). */
export const DAY_MS: number;
export const HOUR_MS: number;
export const ROLLUPS: string;
export const HOURLY_ROLLUP_DAYS: number;
export function hourlySince(now: number): number;

/** The rollup buckets that answer a usage range: hours at the edges, whole days in between. */
export interface BucketPlan {
  /** The range actually answered (whole hours; whole days for edges past the hourly rows). */
  from: number;
  to: number;
  hoursBefore: [number, number];
  days: [number, number];
  hoursAfter: [number, number];
}
export function planBuckets(from: number, to: number, now: number): BucketPlan;
export const PLAN_ROWS: string;
export function planParams(plan: BucketPlan): number[];

export function foldByIdsSql(hourlySince: number): string[];
export function foldRangeSql(from: number, to: number, hourlySince: number): string[];
export function rebuildSql(from: number, to: number, hourlySince: number): string[];
