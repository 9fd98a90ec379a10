/** Types for wrangler.mjs (used from the TypeScript tests). */
export const PROJECT_ROOT: string;
export const WRANGLER_BIN: string;
export const QUIET_WRANGLER_ENV: Record<string, string>;
export const OFFLINE_ENV: Record<string, string>;
export function freePort(): Promise<number>;
export class PortTakenError extends Error {}
export function withFreePorts<T>(count: number, start: (ports: number[]) => Promise<T>): Promise<T>;
export function wranglerRun(
  args: string[],
  options?: { cwd?: string; timeout?: number },
): Promise<{ stdout: string; stderr: string }>;
export function envFileValue(value: string): string;
export interface DevServer {
  name: string;
  url: string;
  pid: number;
  output(): string;
  stop(): Promise<void>;
}
export function startWranglerDev(options: {
  vars: Record<string, string>;
  persistTo: string;
  config?: string;
  script?: string;
  extraArgs?: string[];
  readyPath?: string;
  timeoutMs?: number;
  name?: string;
}): Promise<DevServer>;
