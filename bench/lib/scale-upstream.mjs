/**
 * The scale benchmark's fake upstream (in-process, 127.0.0.1): answers Anthropic Messages and
 * OpenAI Responses with complete, realistic blocking responses for agentic coding turns (the
 * recorded bytes do not depend on streaming): a thinking block / reasoning summary, a short text,
 * and one tool call whose arguments vary like a coding session's (reads and searches are small,
 * edits and patches carry code). Usage is shaped like a cached long session. The turn number comes
 * in the `x-scale-turn` header, so every run answers the same.
 */
import { createServer } from "node:http";
import { prose } from "../fixtures/claude-code-body.mjs";

/** A coding turn's tool call: mostly reads/searches, some edits, an occasional whole-file write. */
function toolCall(turn) {
  const kind = turn % 10;
  if (kind < 4) return { name: "Read", input: { file_path: `/work/project/src/module${turn}.ts` } };
  if (kind < 6)
    return {
      name: "Bash",
      input: { command: `npm test -- src/module${turn}.test.ts`, description: "Run the tests" },
    };
  if (kind < 7)
    return {
      name: "Grep",
      input: { pattern: `retention|batch${turn}`, path: "src", output_mode: "content" },
    };
  if (kind < 9) {
    return {
      name: "Edit",
      input: {
        file_path: `/work/project/src/module${turn}.ts`,
        old_string: prose(700, turn),
        new_string: prose(900, turn + 1),
      },
    };
  }
  return {
    name: "Write",
    input: { file_path: `/work/project/src/new${turn}.ts`, content: prose(4000, turn) },
  };
}

function anthropicMessage(model, turn) {
  const call = toolCall(turn);
  return {
    id: `msg_01Scale${String(turn).padStart(16, "0")}`,
    type: "message",
    role: "assistant",
    model,
    content: [
      { type: "thinking", thinking: prose(800 + (turn % 4) * 300, turn), signature: prose(400, turn + 3) },
      { type: "text", text: prose(200 + (turn % 3) * 100, turn + 2) },
      {
        type: "tool_use",
        id: `toolu_01Scale${String(turn).padStart(12, "0")}`,
        name: call.name,
        input: call.input,
      },
    ],
    stop_reason: "tool_use",
    stop_sequence: null,
    usage: {
      input_tokens: 12 + (turn % 7),
      cache_creation_input_tokens: 1500 + (turn % 5) * 400,
      cache_read_input_tokens: 30_000 + turn * 1800,
      cache_creation: { ephemeral_5m_input_tokens: 1500 + (turn % 5) * 400, ephemeral_1h_input_tokens: 0 },
      output_tokens: 350 + (turn % 6) * 120,
      service_tier: "standard",
    },
  };
}

function openaiResponse(model, turn) {
  const patch = turn % 3 === 2;
  const args = patch
    ? {
        input: `*** Begin Patch\n*** Update File: src/retention.ts\n@@\n-${prose(500, turn)}\n+${prose(700, turn + 1)}\n*** End Patch`,
      }
    : { command: ["bash", "-lc", `rg -n "batch" src/module${turn}.ts`], workdir: "/work/project" };
  return {
    id: `resp_scale${String(turn).padStart(20, "0")}`,
    object: "response",
    created_at: 1_760_000_000 + turn,
    status: "completed",
    model,
    output: [
      {
        id: `rs_scale${turn}`,
        type: "reasoning",
        summary: [{ type: "summary_text", text: prose(300 + (turn % 4) * 150, turn) }],
        encrypted_content: prose(2400, turn),
      },
      {
        id: `fc_scale${turn}`,
        type: "function_call",
        status: "completed",
        name: patch ? "apply_patch" : "shell",
        call_id: `call_scale_${turn}`,
        arguments: JSON.stringify(args),
      },
    ],
    usage: {
      input_tokens: 28_000 + turn * 2200,
      input_tokens_details: { cached_tokens: 26_000 + turn * 2100 },
      output_tokens: 420 + (turn % 5) * 90,
      output_tokens_details: { reasoning_tokens: 256 + (turn % 3) * 64 },
      total_tokens: 28_420 + turn * 2300,
    },
  };
}

/** Starts the fake; resolves { url, close }. */
export function startScaleUpstream() {
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      const turn = Number(req.headers["x-scale-turn"] ?? 0);
      const answer = req.url.endsWith("/messages")
        ? anthropicMessage(body.model, turn)
        : req.url.endsWith("/responses")
          ? openaiResponse(body.model, turn)
          : null;
      res.writeHead(answer ? 200 : 404, { "content-type": "application/json" });
      res.end(JSON.stringify(answer ?? { error: { message: "not found" } }));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}`,
        close: () => new Promise((done) => server.close(done)),
      });
    });
  });
}
