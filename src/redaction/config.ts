/**
 * RECORD_CONTENT and REDACTION_KEY, read once with the rest of the configuration (src/config.ts
 * turns a returned problem into a ConfigError naming the variable).
 *
 * The marker key, in order of preference:
 *  1. REDACTION_KEY (a secret, at least 16 characters): markers stay the same as long as it does.
 *  2. Derived from ADMIN_TOKEN: a deployment that has an admin (anyone who can read records) has a
 *     secret already; markers then change when the admin token is rotated, so set REDACTION_KEY.
 *  3. Neither (a newcomer's `npm start` with no .dev.vars): a built-in development key, and a
 *     warning in the log. Records are still redacted; only the 6-hex hashes could be checked
 *     against guessed secrets by someone who reads this source. Nobody can read records through
 *     the admin API in that state (it is disabled without ADMIN_TOKEN).
 */
import { log } from "../log";
import { isRecordMode, type RecordMode } from "./mode";

export interface RecordingConfig {
  recordContent: RecordMode;
  redactionKey: string;
  redactionKeySource: "REDACTION_KEY" | "ADMIN_TOKEN" | "development";
}

const DEVELOPMENT_KEY = "aibridge-development-redaction-key: set REDACTION_KEY in production";

type Problem = { variable: string; problem: string };

export function parseRecordingConfig(
  vars: { RECORD_CONTENT?: string; REDACTION_KEY?: string },
  adminToken: string | undefined,
): RecordingConfig | Problem {
  const mode = vars.RECORD_CONTENT?.trim().toLowerCase() || "redacted";
  if (!isRecordMode(mode)) {
    return { variable: "RECORD_CONTENT", problem: "must be redacted, full or none" };
  }
  const key = vars.REDACTION_KEY;
  if (key) {
    if (key.length < 16) return { variable: "REDACTION_KEY", problem: "must be at least 16 characters" };
    return { recordContent: mode, redactionKey: key, redactionKeySource: "REDACTION_KEY" };
  }
  if (adminToken) {
    return {
      recordContent: mode,
      // Domain-separated: the HMAC key is not the admin token itself.
      redactionKey: `aibridge-redaction-v1:${adminToken}`,
      redactionKeySource: "ADMIN_TOKEN",
    };
  }
  // Configuration is parsed once per isolate, so this is said once per isolate.
  log.warn("redaction_key_missing", {
    detail: "set REDACTION_KEY (or ADMIN_TOKEN); markers use a development key",
  });
  return { recordContent: mode, redactionKey: DEVELOPMENT_KEY, redactionKeySource: "development" };
}
