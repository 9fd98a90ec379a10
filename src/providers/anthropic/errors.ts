/** Anthropic's error shape: {"type":"error","error":{"type":…,"message":…}}. */

const TYPE_BY_STATUS: Record<number, string> = {
  400: "invalid_request_error",
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  405: "invalid_request_error",
  413: "request_too_large",
  429: "rate_limit_error",
  500: "api_error",
  502: "api_error",
  503: "api_error",
  529: "overloaded_error",
};

export function anthropicErrorType(status: number): string {
  return TYPE_BY_STATUS[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
}

export function anthropicErrorBody(
  status: number,
  message: string,
  type = anthropicErrorType(status),
): string {
  return JSON.stringify({ type: "error", error: { type, message } });
}

export function anthropicError(status: number, message: string, type?: string): Response {
  return new Response(anthropicErrorBody(status, message, type), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** The mid-stream form Anthropic uses: an `error` event with the same JSON. */
export function anthropicStreamError(message: string, type = "api_error"): string {
  return `event: error\ndata: ${anthropicErrorBody(500, message, type)}\n\n`;
}
