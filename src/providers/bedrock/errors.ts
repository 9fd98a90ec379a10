/**
 * Bedrock answers errors the AWS way (an `x-amzn-errortype` header and `{"message": …}`, or an
 * exception frame mid-stream); Anthropic clients expect Anthropic's error shape. The status is kept,
 * the type is mapped. Authentication failures get a fixed text: AWS's signature-mismatch message
 * quotes the canonical request, which may hold the session token.
 */
import { anthropicErrorBody, anthropicErrorType, anthropicStreamError } from "../anthropic/errors";

const TYPES: Record<string, string> = {
  validationexception: "invalid_request_error",
  accessdeniedexception: "permission_error",
  resourcenotfoundexception: "not_found_error",
  throttlingexception: "rate_limit_error",
  servicequotaexceededexception: "rate_limit_error",
  modelnotreadyexception: "overloaded_error",
  serviceunavailableexception: "overloaded_error",
  internalserverexception: "api_error",
  modelerrorexception: "api_error",
  modelstreamerrorexception: "api_error",
  modeltimeoutexception: "api_error",
};

const AUTH = new Set([
  "unrecognizedclientexception",
  "invalidsignatureexception",
  "incompletesignatureexception",
  "expiredtokenexception",
  "missingauthenticationtokenexception",
  "invalidclienttokenid",
  "signaturedoesnotmatch",
]);

/** `ThrottlingException:http://internal.amazon.com/…` → `throttlingexception`. */
export function awsErrorName(value: string | null): string | null {
  const name = value?.split(":")[0]?.trim();
  return name ? name.toLowerCase() : null;
}

export function mapAwsError(
  status: number,
  errorType: string | null,
  message: string,
): { type: string; message: string } {
  const name = awsErrorName(errorType);
  if (name && AUTH.has(name)) {
    return {
      type: "authentication_error",
      message: `Amazon Bedrock refused the gateway's AWS credentials (${errorType?.split(":")[0]}).`,
    };
  }
  return {
    type: (name && TYPES[name]) || anthropicErrorType(status),
    message: message || `Bedrock error ${status}`,
  };
}

/** An HTTP error response from Bedrock, answered in Anthropic's shape (status and request id kept). */
export async function anthropicShapedError(upstream: Response): Promise<Response> {
  const text = await upstream.text();
  let message = "";
  try {
    const parsed = JSON.parse(text) as { message?: unknown; Message?: unknown };
    message = String(parsed.message ?? parsed.Message ?? "");
  } catch {
    message = text.slice(0, 500);
  }
  const mapped = mapAwsError(upstream.status, upstream.headers.get("x-amzn-errortype"), message);
  const headers = new Headers(upstream.headers);
  headers.set("content-type", "application/json");
  headers.delete("content-length");
  headers.delete("x-amzn-errortype");
  return new Response(anthropicErrorBody(upstream.status, mapped.message, mapped.type), {
    status: upstream.status,
    headers,
  });
}

/** An exception frame mid-stream, as the `error` event Anthropic streams carry. */
export function exceptionEvent(exceptionType: string | null, message: string): string {
  const mapped = mapAwsError(500, exceptionType, message);
  return anthropicStreamError(mapped.message, mapped.type);
}
