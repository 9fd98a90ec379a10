/**
 * The worst-case cost of one upstream call, from what is known before it is made (docs/limits.md,
 * "The upper bound"). Reserving this much and admitting only while spent + reserved + this ≤ budget
 * is what guarantees the recorded spend never passes the budget.
 *
 *   input tokens  ≤ body bytes × 1 + PROMPT_OVERHEAD_TOKENS + media allowances
 *   output tokens ≤ the request's own cap (max_tokens, max_completion_tokens, max_output_tokens;
 *                   × n for several chat choices), else the model's output cap
 *   cost          ≤ input tokens × the dearest input price (max of input, cache write 5m/1h, cache read)
 *                   + output tokens × the output price
 *
 * One token per byte is a floor on bytes per token: every text token a tokenizer emits stands for at
 * least one byte of UTF-8, and the JSON around the text (keys, quotes, escapes) only adds bytes. So
 * the body's size bounds the text tokens whatever the language or tokenizer. What bytes do not bound
 * is added explicitly: the provider's own prompt additions (tool-use system prompt, per-message
 * markers) and images or documents, whose tokens depend on pixels and pages rather than on bytes.
 */
import type { Price } from "../pricing";

/** Tokens the provider adds around the request (Anthropic's tool-use system prompt is ≤ ~350). */
export const PROMPT_OVERHEAD_TOKENS = 1_000;
/** An image, whatever its size: providers downscale to ≤ ~1.2 MP (Anthropic ≤ ~1,600 tokens, OpenAI high detail ≤ ~2,500 with the mini multipliers). */
export const IMAGE_TOKENS = 5_000;
/** A document or file (PDF): up to 100 pages at ≤ 3,000 tokens each (text plus the page image). */
export const DOCUMENT_TOKENS = 300_000;
/** When neither the request nor the table below caps the output. */
export const DEFAULT_OUTPUT_CAP = 128_000;

/** Largest output per model family (prefix match on the lower-cased id), for requests without a cap. */
const OUTPUT_CAPS: [prefix: string, tokens: number][] = [
  ["gpt-4o", 16_384],
  ["gpt-4.1", 32_768],
  ["gpt-4-turbo", 4_096],
  ["gpt-3.5", 4_096],
  ["o1-mini", 65_536],
  ["o1", 100_000],
  ["o3", 100_000],
  ["o4-mini", 100_000],
  ["gpt-5", 128_000],
  ["claude-opus-4", 32_000],
  ["claude-sonnet-4", 64_000],
  ["claude-haiku-4", 64_000],
  ["claude-3-5", 8_192],
  ["claude-3-7", 64_000],
];

const IMAGE_TYPES = /"type"\s*:\s*"(?:image|image_url|input_image)"/g;
const DOCUMENT_TYPES = /"type"\s*:\s*"(?:document|file|input_file)"/g;

export interface BoundInput {
  model: string;
  /** Size of the body sent upstream, in bytes. */
  bodyBytes: number;
  /** The body as JSON (its output cap) and as text (media items), as the client or the loop built it. */
  json: Record<string, unknown>;
  text: string;
}

export function inputTokenBound(input: BoundInput): number {
  const images = input.text.match(IMAGE_TYPES)?.length ?? 0;
  const documents = input.text.match(DOCUMENT_TYPES)?.length ?? 0;
  return input.bodyBytes + PROMPT_OVERHEAD_TOKENS + images * IMAGE_TOKENS + documents * DOCUMENT_TOKENS;
}

export function outputTokenBound(model: string, json: Record<string, unknown>): number {
  const requested = [json.max_tokens, json.max_completion_tokens, json.max_output_tokens].find(
    (v): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0,
  );
  const lowered = model.toLowerCase();
  const cap = OUTPUT_CAPS.find(([prefix]) => lowered.startsWith(prefix))?.[1] ?? DEFAULT_OUTPUT_CAP;
  const choices = typeof json.n === "number" && Number.isInteger(json.n) && json.n > 1 ? json.n : 1;
  return Math.ceil(requested ?? cap) * choices;
}

/** The bound in micro-dollars (prices are USD per million tokens, so tokens × price = micro-dollars). */
export function worstCaseMicros(input: BoundInput, price: Price): number {
  const dearestInput = Math.max(price.input, price.cacheWrite5m, price.cacheWrite1h, price.cacheRead);
  return Math.ceil(
    inputTokenBound(input) * dearestInput + outputTokenBound(input.model, input.json) * price.output,
  );
}
