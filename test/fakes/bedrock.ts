/**
 * A fake Amazon Bedrock runtime (InvokeModel, InvokeModelWithResponseStream) for Anthropic models,
 * written from AWS's public documentation:
 *
 * - SigV4 ("Create a signed AWS API request"): the Authorization header is checked by recomputing
 *   the signature: canonical request (method, URI with each path segment URI-encoded once more,
 *   sorted query, the signed headers, SHA-256 of the payload), string to sign with the credential
 *   scope date/region/bedrock/aws4_request, signing key HMAC chain from "AWS4" + secret. A wrong
 *   signature gets 403 InvalidSignatureException whose message quotes the canonical request, like
 *   AWS's, so tests can prove the gateway never passes that text on.
 * - Event stream encoding ("Event stream encoding", Lex/Transcribe guides): prelude (total length,
 *   headers length, prelude CRC32), typed string headers, payload, message CRC32. Each `chunk`
 *   event's payload is `{"bytes": base64(one Anthropic event JSON), "p": padding}`; the last event
 *   carries `amazon-bedrock-invocationMetrics`. Frames are written in uneven small pieces so chunk
 *   boundaries fall inside preludes, headers and payloads.
 * - Errors (API reference, InvokeModel / ResponseStream): `x-amzn-errortype` + `{"message": …}` for
 *   HTTP errors; exception frames (`:message-type: exception`, `:exception-type`) mid-stream.
 * - Like Bedrock, the body must carry `anthropic_version` (documented: "bedrock-2023-05-31") and must not carry
 *   `model` or `stream` (400 ValidationException: extraneous key).
 *
 * Scenarios: request header `x-fake-bedrock`:
 *   default          text answer ("Hello from Bedrock"), usage with a cache read
 *   tools            text plus one tool_use (input streamed as input_json_delta)
 *   throttle         429 ThrottlingException
 *   unavailable      503 ServiceUnavailableException
 *   stream-exception stream: message_start, one delta, then a throttlingException frame
 *   corrupt          stream: message_start, then a frame whose message CRC is wrong
 *   quiet            stream: message_start, then 2.5 s of silence, then the rest
 */
import { createHash, createHmac } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { FAKE_AWS } from "./aws-credentials";
import { type FakeServer, startFakeServer } from "./server";

export { FAKE_AWS };

type Json = Record<string, unknown>;

// ---- event stream encoding ---------------------------------------------------------------------

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** One event stream message with string headers (type 7). */
export function encodeFrame(headers: Record<string, string>, payload: Buffer, corrupt = false): Buffer {
  const headerBytes = Buffer.concat(
    Object.entries(headers).map(([name, value]) => {
      const nameBytes = Buffer.from(name, "utf8");
      const valueBytes = Buffer.from(value, "utf8");
      const head = Buffer.alloc(1 + nameBytes.length + 1 + 2);
      head.writeUInt8(nameBytes.length, 0);
      nameBytes.copy(head, 1);
      head.writeUInt8(7, 1 + nameBytes.length);
      head.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
      return Buffer.concat([head, valueBytes]);
    }),
  );
  const total = 12 + headerBytes.length + payload.length + 4;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0);
  prelude.writeUInt32BE(headerBytes.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const body = Buffer.concat([prelude, headerBytes, payload]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((crc32(body) ^ (corrupt ? 1 : 0)) >>> 0, 0);
  return Buffer.concat([body, crc]);
}

export function chunkFrame(event: Json): Buffer {
  const bytes = Buffer.from(JSON.stringify(event), "utf8").toString("base64");
  const payload = Buffer.from(
    JSON.stringify({ bytes, p: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ".slice(0, 7) }),
  );
  return encodeFrame(
    { ":event-type": "chunk", ":content-type": "application/json", ":message-type": "event" },
    payload,
  );
}

export function exceptionFrame(type: string, message: string): Buffer {
  return encodeFrame(
    { ":exception-type": type, ":content-type": "application/json", ":message-type": "exception" },
    Buffer.from(JSON.stringify({ message })),
  );
}

// ---- SigV4 verification ------------------------------------------------------------------------

const rfc3986 = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

export type SignatureCheck = { ok: true; region: string } | { ok: false; type: string; message: string };

export function verifySigV4(request: IncomingMessage, body: Buffer): SignatureCheck {
  const authorization = String(request.headers.authorization ?? "");
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  if (!match)
    return {
      ok: false,
      type: "MissingAuthenticationTokenException",
      message: "Missing Authentication Token",
    };
  const [, keyId, date, region, service, signedHeaderList, signature] = match as unknown as string[];
  if (keyId !== FAKE_AWS.accessKeyId) {
    return {
      ok: false,
      type: "UnrecognizedClientException",
      message: "The security token included in the request is invalid.",
    };
  }
  if (service !== "bedrock") {
    return {
      ok: false,
      type: "InvalidSignatureException",
      message: `Credential should be scoped to correct service: 'bedrock'.`,
    };
  }
  const amzDate = String(request.headers["x-amz-date"] ?? "");
  if (!amzDate.startsWith(date as string)) {
    return {
      ok: false,
      type: "InvalidSignatureException",
      message: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP",
    };
  }
  const when = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"),
  );
  if (!Number.isFinite(when) || Math.abs(Date.now() - when) > 15 * 60_000) {
    return { ok: false, type: "InvalidSignatureException", message: "Signature expired" };
  }
  const signedHeaders = (signedHeaderList as string).split(";");
  if (!signedHeaders.includes("host") || !signedHeaders.includes("x-amz-date")) {
    return { ok: false, type: "InvalidSignatureException", message: "host and x-amz-date must be signed" };
  }
  const token = request.headers["x-amz-security-token"];
  if (token !== undefined && token !== FAKE_AWS.sessionToken) {
    return {
      ok: false,
      type: "UnrecognizedClientException",
      message: "The security token included in the request is invalid.",
    };
  }

  const [rawPath = "/", rawQuery = ""] = (request.url ?? "/").split("?");
  const canonicalUri = rawPath
    .split("/")
    .map((segment) => rfc3986(segment))
    .join("/");
  const canonicalQuery = rawQuery
    .split("&")
    .filter(Boolean)
    .map((pair) => pair.split("=").map((part) => rfc3986(decodeURIComponent(part.replace(/\+/g, " ")))))
    .sort(([a = "", av = ""], [b = "", bv = ""]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([name = "", value = ""]) => `${name}=${value}`)
    .join("&");
  const canonicalHeaders = signedHeaders
    .map((name) => {
      const value = request.headers[name];
      const text = Array.isArray(value) ? value.join(",") : (value ?? "");
      return `${name}:${String(text).trim().replace(/\s+/g, " ")}\n`;
    })
    .join("");
  const payloadHash = String(request.headers["x-amz-content-sha256"] ?? sha256(body));
  const canonicalRequest = [
    request.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedHeaderList,
    payloadHash,
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256(canonicalRequest)].join("\n");
  const key = hmac(
    hmac(hmac(hmac(`AWS4${FAKE_AWS.secretAccessKey}`, date as string), region as string), service as string),
    "aws4_request",
  );
  const expected = createHmac("sha256", key).update(stringToSign).digest("hex");
  if (expected !== signature) {
    return {
      ok: false,
      type: "InvalidSignatureException",
      message: `The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String for this request should have been\n'${canonicalRequest}'\n\nThe String-to-Sign should have been\n'${stringToSign}'\n`,
    };
  }
  return { ok: true, region: region as string };
}

// ---- answers -----------------------------------------------------------------------------------

const REQUEST_ID = "5c0f3d2e-fake-4bed-rock-000000000001";

function awsError(response: ServerResponse, status: number, type: string, message: string) {
  response.writeHead(status, {
    "content-type": "application/json",
    "x-amzn-requestid": REQUEST_ID,
    "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
  });
  response.end(JSON.stringify({ message }));
}

interface Answer {
  id: string;
  model: string;
  blocks: ({ type: "text"; text: string } | { type: "tool_use"; id: string; name: string; input: Json })[];
  stopReason: string;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_read_input_tokens: number;
    cache_creation_input_tokens: number;
  };
}

function answerFor(scenario: string, model: string): Answer {
  const blocks: Answer["blocks"] = [{ type: "text", text: "Hello from Bedrock, wörld 🌍!" }];
  if (scenario === "tools") {
    blocks.push({
      type: "tool_use",
      id: "toolu_bdrk_01",
      name: "get_weather",
      input: { city: "Paris", unit: "c" },
    });
  }
  return {
    id: "msg_bdrk_01FakeBedrockMessage",
    model,
    blocks,
    stopReason: scenario === "tools" ? "tool_use" : "end_turn",
    usage: {
      input_tokens: 21,
      output_tokens: 13,
      cache_read_input_tokens: 8,
      cache_creation_input_tokens: 0,
    },
  };
}

function blockingBody(answer: Answer): Json {
  return {
    id: answer.id,
    type: "message",
    role: "assistant",
    model: answer.model,
    content: answer.blocks,
    stop_reason: answer.stopReason,
    stop_sequence: null,
    usage: answer.usage,
  };
}

function streamEvents(answer: Answer): Json[] {
  const events: Json[] = [
    {
      type: "message_start",
      message: {
        ...blockingBody(answer),
        content: [],
        stop_reason: null,
        usage: { ...answer.usage, output_tokens: 1 },
      },
    },
  ];
  answer.blocks.forEach((block, index) => {
    if (block.type === "text") {
      events.push({ type: "content_block_start", index, content_block: { type: "text", text: "" } });
      const middle = Math.floor(block.text.length / 2);
      for (const text of [block.text.slice(0, middle), block.text.slice(middle)]) {
        events.push({ type: "content_block_delta", index, delta: { type: "text_delta", text } });
      }
    } else {
      events.push({
        type: "content_block_start",
        index,
        content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
      });
      const json = JSON.stringify(block.input);
      for (const partial_json of [json.slice(0, 9), json.slice(9)]) {
        events.push({
          type: "content_block_delta",
          index,
          delta: { type: "input_json_delta", partial_json },
        });
      }
    }
    events.push({ type: "content_block_stop", index });
  });
  events.push({
    type: "message_delta",
    delta: { stop_reason: answer.stopReason, stop_sequence: null },
    usage: { output_tokens: answer.usage.output_tokens },
  });
  events.push({
    type: "message_stop",
    "amazon-bedrock-invocationMetrics": {
      inputTokenCount: answer.usage.input_tokens,
      outputTokenCount: answer.usage.output_tokens,
      invocationLatency: 321,
      firstByteLatency: 123,
      cacheReadInputTokenCount: answer.usage.cache_read_input_tokens,
      cacheWriteInputTokenCount: 0,
    },
  });
  return events;
}

const PIECES = [1, 5, 13, 64, 3, 200];

async function writePieces(response: ServerResponse, bytes: Buffer, start: number): Promise<number> {
  let offset = 0;
  let i = start;
  while (offset < bytes.length) {
    const size = PIECES[i % PIECES.length] as number;
    if (response.destroyed) return i;
    response.write(bytes.subarray(offset, offset + size));
    offset += size;
    i++;
    await new Promise((resolve) => setImmediate(resolve));
  }
  return i;
}

async function handle(request: IncomingMessage, body: Buffer, response: ServerResponse) {
  const path = (request.url ?? "/").split("?")[0] ?? "/";
  const route = /^\/model\/([^/]+)\/(invoke|invoke-with-response-stream)$/.exec(path);
  if (request.method !== "POST" || !route) {
    awsError(response, 404, "UnknownOperationException", "Unknown operation");
    return;
  }
  const signature = verifySigV4(request, body);
  if (!signature.ok) {
    awsError(response, 403, signature.type, signature.message);
    return;
  }
  const modelId = decodeURIComponent(route[1] as string);
  const streaming = route[2] === "invoke-with-response-stream";
  let json: Json;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    awsError(
      response,
      400,
      "ValidationException",
      "Malformed input request, please reformat your input and try again.",
    );
    return;
  }
  for (const key of ["model", "stream"]) {
    if (key in json) {
      awsError(
        response,
        400,
        "ValidationException",
        `Malformed input request: #: extraneous key [${key}] is not permitted, please reformat your input and try again.`,
      );
      return;
    }
  }
  // AWS documents "bedrock-2023-05-31"; the official SDK copies its own anthropic-version header
  // value here, so the fake requires only that the key is present.
  if (typeof json.anthropic_version !== "string" || json.anthropic_version === "") {
    awsError(
      response,
      400,
      "ValidationException",
      "Malformed input request: #: required key [anthropic_version] not found or invalid",
    );
    return;
  }
  if (!/^((us|eu|apac|global)\.)?anthropic\.claude-[a-z0-9.-]+(:\d+)?$/.test(modelId)) {
    awsError(response, 400, "ValidationException", "The provided model identifier is invalid.");
    return;
  }
  const scenario = String(request.headers["x-fake-bedrock"] ?? "default");
  if (scenario === "throttle") {
    awsError(response, 429, "ThrottlingException", "Too many requests, please wait before trying again.");
    return;
  }
  if (scenario === "unavailable") {
    awsError(response, 503, "ServiceUnavailableException", "Bedrock is unable to process your request.");
    return;
  }
  const answer = answerFor(scenario, modelId);
  if (!streaming) {
    response.writeHead(200, {
      "content-type": "application/json",
      "x-amzn-requestid": REQUEST_ID,
      "x-amzn-bedrock-input-token-count": String(answer.usage.input_tokens),
      "x-amzn-bedrock-output-token-count": String(answer.usage.output_tokens),
      "x-amzn-bedrock-invocation-latency": "321",
    });
    response.end(JSON.stringify(blockingBody(answer)));
    return;
  }
  response.writeHead(200, {
    "content-type": "application/vnd.amazon.eventstream",
    "x-amzn-requestid": REQUEST_ID,
    "x-amzn-bedrock-content-type": "application/json",
  });
  const events = streamEvents(answer);
  let piece = 0;
  for (const [i, event] of events.entries()) {
    if (i === 1 && scenario === "corrupt") {
      const bad = Buffer.from(chunkFrame(event));
      bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
      await writePieces(response, bad, piece);
      response.end();
      return;
    }
    if (i === 2 && scenario === "stream-exception") {
      await writePieces(
        response,
        exceptionFrame("throttlingException", "Too many tokens, please wait."),
        piece,
      );
      response.end();
      return;
    }
    if (i === 1 && scenario === "quiet") await new Promise((resolve) => setTimeout(resolve, 2500));
    piece = await writePieces(response, chunkFrame(event), piece);
  }
  response.end();
}

export function startFakeBedrock(port = 0): Promise<FakeServer> {
  return startFakeServer(handle, port);
}
