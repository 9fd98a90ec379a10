/**
 * The request fields the gateway itself acts on must have the types the providers document: a
 * lenient upstream might stream for `"stream": "true"` (a string) while the gateway, reading it as
 * not streaming, would not ask for the usage chunk, and the usage would be lost. Such a request is
 * refused with a 400 in the provider's shape, as the provider itself would.
 */

/** What is wrong with the fields the gateway relies on, or null. */
export function relayedFieldProblem(json: Record<string, unknown>): string | null {
  for (const name of ["stream", "background"] as const) {
    const value = json[name];
    if (value !== undefined && value !== null && typeof value !== "boolean")
      return wrongType(name, "a boolean", value);
  }
  const options = json.stream_options;
  if (options !== undefined && options !== null) {
    if (typeof options !== "object" || Array.isArray(options))
      return wrongType("stream_options", "an object", options);
    const includeUsage = (options as Record<string, unknown>).include_usage;
    if (includeUsage !== undefined && includeUsage !== null && typeof includeUsage !== "boolean")
      return wrongType("stream_options.include_usage", "a boolean", includeUsage);
  }
  return null;
}

function wrongType(name: string, expected: string, value: unknown): string {
  const got = Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
  return `Invalid type for '${name}': expected ${expected}, but got ${got} instead.`;
}
