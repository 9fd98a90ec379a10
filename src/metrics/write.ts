/**
 * Writes metric datapoints to Analytics Engine (the METRICS binding). Writing is fire-and-forget
 * and never fails a request; a deployment without the binding simply records no metrics.
 */
import { LAYOUT, type Labels, type MetricName, type Values } from "./layout";

/** Analytics Engine limits a blob to 5 KB in total; labels are short, so cap each one. */
const MAX_LABEL_LENGTH = 256;

export interface MetricsSink {
  writeDataPoint(point: AnalyticsEngineDataPoint): void;
}

export function writeMetric<M extends MetricName>(
  sink: MetricsSink | undefined,
  metric: M,
  labels: Labels<M>,
  values: Values<M>,
): void {
  if (!sink) return;
  const layout = LAYOUT[metric];
  const blobs = [
    metric,
    ...layout.blobs.map((name) =>
      String((labels as Record<string, string>)[name] ?? "").slice(0, MAX_LABEL_LENGTH),
    ),
  ];
  const doubles = layout.doubles.map((name) => {
    const value = (values as Record<string, number>)[name];
    return value !== undefined && Number.isFinite(value) ? value : 0;
  });
  try {
    sink.writeDataPoint({ indexes: [metric], blobs, doubles });
  } catch {
    // Metrics must never break a request (e.g. the per-invocation datapoint limit).
  }
}
