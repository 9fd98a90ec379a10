/** Types for rollup-sql.mjs (plain JavaScript so the rebuild CLI can import it too). */
export const DAY_MS: number;
export const HOUR_MS: number;
export const ROLLUPS: string;
export function foldByIdsSql(hourlySince: number): string[];
export function rebuildSql(from: number, to: number, hourlySince: number): string[];
