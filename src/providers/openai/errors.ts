/** OpenAI's error shape: {"error":{"message","type","param","code"}}. */

const BY_STATUS: Record<number, { type: string; code: string | null }> = {
  400: { type: "invalid_request_error", code: null },
  401: { type: "invalid_request_error", code: "invalid_api_key" },
  403: { type: "invalid_request_error", code: "forbidden" },
  404: { type: "invalid_request_error", code: "not_found" },
  405: { type: "invalid_request_error", code: "method_not_allowed" },
  413: { type: "invalid_request_error", code: "request_too_large" },
  429: { type: "rate_limit_error", code: "rate_limit_exceeded" },
  500: { type: "server_error", code: null },
  502: { type: "server_error", code: "upstream_unreachable" },
};

export function openaiErrorType(status: number): string {
  return BY_STATUS[status]?.type ?? (status >= 500 ? "server_error" : "invalid_request_error");
}

export function openaiErrorBody(
  status: number,
  message: string,
  type?: string,
  code?: string | null,
): string {
  const defaults = BY_STATUS[status];
  return JSON.stringify({
    error: {
      message,
      type: type ?? openaiErrorType(status),
      param: null,
      code: code === undefined ? (defaults?.code ?? null) : code,
    },
  });
}

export function openaiError(status: number, message: string, type?: string, code?: string | null): Response {
  return new Response(openaiErrorBody(status, message, type, code), {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Chat Completions' mid-stream error: a data-only chunk with the error object (the SDK throws on it). */
export function openaiChatStreamError(message: string): string {
  return `data: ${openaiErrorBody(500, message)}\n\n`;
}

/** The Responses API's mid-stream `error` event. */
export function openaiResponsesStreamError(message: string): string {
  const event = { type: "error", code: "server_error", message, param: null, sequence_number: 0 };
  return `event: error\ndata: ${JSON.stringify(event)}\n\n`;
}
