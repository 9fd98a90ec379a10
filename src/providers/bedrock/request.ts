/**
 * An Anthropic Messages request → Bedrock InvokeModel / InvokeModelWithResponseStream, as the
 * official @anthropic-ai/bedrock-sdk adapts it: the model (mapped through the instance's
 * model_map) and `stream` leave the body and choose the path; `anthropic_version` becomes
 * Bedrock's `bedrock-2023-05-31`; the `anthropic-beta` header becomes `anthropic_beta`; the
 * request is signed with SigV4 (service `bedrock`) by aws4fetch.
 */
import { AwsClient } from "aws4fetch";
import type { ProviderInstance } from "../instances";

export const BEDROCK_ANTHROPIC_VERSION = "bedrock-2023-05-31";

// Headers that mean something only to Anthropic's API or to the gateway: not sent to AWS.
const NOT_FORWARDED = ["anthropic-version", "anthropic-beta", "x-api-key", "authorization", "content-length"];

const clients = new WeakMap<ProviderInstance, AwsClient>();

function awsClient(instance: ProviderInstance): AwsClient {
  let client = clients.get(instance);
  const bedrock = instance.bedrock;
  if (!bedrock) throw new Error(`instance ${instance.name} is not a bedrock instance`);
  if (!client) {
    client = new AwsClient({
      accessKeyId: bedrock.accessKeyId,
      secretAccessKey: bedrock.secretAccessKey,
      sessionToken: bedrock.sessionToken,
      service: "bedrock",
      region: bedrock.region,
      retries: 0,
    });
    clients.set(instance, client);
  }
  return client;
}

export function bedrockModelId(instance: ProviderInstance, model: string): string {
  return instance.bedrock?.modelMap[model] ?? model;
}

/** The signed request, or a message for the client (400) when the body cannot be adapted. */
export async function bedrockRequest(
  instance: ProviderInstance,
  body: Uint8Array | string,
  headers: Headers,
): Promise<{ ok: true; url: string; init: RequestInit } | { ok: false; message: string }> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(typeof body === "string" ? body : new TextDecoder().decode(body));
  } catch {
    return { ok: false, message: "The request body is not valid JSON." };
  }
  const model = json.model;
  if (typeof model !== "string" || model === "")
    return { ok: false, message: "model: a model id is required." };
  const stream = json.stream === true;
  delete json.model;
  delete json.stream;
  // The client's anthropic-version names the Anthropic API's version; Bedrock has its own.
  if (json.anthropic_version === undefined) json.anthropic_version = BEDROCK_ANTHROPIC_VERSION;
  const betas = headers.get("anthropic-beta");
  if (betas && json.anthropic_beta === undefined) {
    json.anthropic_beta = betas
      .split(",")
      .map((beta) => beta.trim())
      .filter(Boolean);
  }

  const outgoing = new Headers(headers);
  for (const name of NOT_FORWARDED) outgoing.delete(name);
  outgoing.set("content-type", "application/json");
  outgoing.set("accept", stream ? "application/vnd.amazon.eventstream" : "application/json");

  const modelId = encodeURIComponent(bedrockModelId(instance, model));
  const url = `${instance.baseUrl}/model/${modelId}/${stream ? "invoke-with-response-stream" : "invoke"}`;
  const text = JSON.stringify(json);
  const signed = await awsClient(instance).sign(url, { method: "POST", headers: outgoing, body: text });
  return { ok: true, url: signed.url, init: { method: "POST", headers: signed.headers, body: text } };
}
