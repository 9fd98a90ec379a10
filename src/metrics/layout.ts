/**
 * The one place that says where each metric's labels and values sit in an Analytics Engine
 * datapoint. Every datapoint: index1 = blob1 = the event name; then the event's labels as
 * blob2, blob3, … in the order listed; then its values as double1, double2, … in the order listed.
 * docs/metrics.md documents the same layout with a ready SQL query per Prometheus-style metric,
 * and test/worker/metrics.test.ts checks both against this table.
 */

export const LAYOUT = {
  /** One per bridged request as it opens. interceptions_inflight = starts − ends (see docs). */
  interception_start: {
    blobs: ["provider", "model", "route", "method", "client", "initiator"],
    doubles: ["count"],
  },
  /** One per bridged request as it ends: counts, duration and the gateway's own overhead. */
  interception_end: {
    blobs: ["provider", "model", "route", "method", "client", "initiator", "status"],
    doubles: [
      "count",
      "duration_seconds",
      "auth_ms",
      "parse_ms",
      "inject_ms",
      "upstream_headers_ms",
      "first_byte_ms",
      "overhead_ms",
      "estimated_usages",
    ],
  },
  /**
   * One per bridged request as it ends, by provider instance: the one addressed, the one that
   * answered (a fallback, or empty when none did), the API, and the token totals.
   */
  instance_usage: {
    blobs: ["instance", "upstream_instance", "fallback", "provider", "api", "model", "status"],
    doubles: ["count", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"],
  },
  /** One per token type with a non-zero count per interception. */
  tokens: {
    blobs: ["provider", "model", "type", "initiator", "client"],
    doubles: ["tokens"],
  },
  prompt: {
    blobs: ["provider", "model", "initiator", "client"],
    doubles: ["count"],
  },
  /** A tool the gateway ran itself (MCP). */
  injected_tool: {
    blobs: ["provider", "model", "server", "name", "outcome"],
    doubles: ["count"],
  },
  /** A tool call the model addressed to the client's own tools. */
  tool_selection: {
    blobs: ["provider", "model", "name", "client"],
    doubles: ["count"],
  },
  /** Secrets replaced by markers before records were stored, per kind, per interception (src/redaction). */
  redaction: {
    blobs: ["provider", "model", "kind", "initiator", "client"],
    doubles: ["count"],
  },
  passthrough: {
    blobs: ["provider", "route", "method", "status"],
    doubles: ["count", "duration_ms"],
  },
  /** Operational events: MCP server unreachable, records written around the queue, … */
  gateway_event: {
    blobs: ["event", "detail"],
    doubles: ["count"],
  },
} as const satisfies Record<string, { blobs: readonly string[]; doubles: readonly string[] }>;

export type MetricName = keyof typeof LAYOUT;
export type Labels<M extends MetricName> = Record<(typeof LAYOUT)[M]["blobs"][number], string>;
export type Values<M extends MetricName> = Record<(typeof LAYOUT)[M]["doubles"][number], number>;
