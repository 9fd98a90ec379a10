/**
 * The secret patterns. A compact table rather than secretlint's recommended preset, because that
 * preset does not run in workerd: its bundle imports `node:path` and `node:fs` (the Worker fails
 * to start with `No such module "node:path"` unless the whole gateway turns on nodejs_compat), its
 * GCP rule only looks at whole `.json` files, and it has no rule for JWTs, Stripe, Azure or `.env`
 * lines. The patterns below are taken from secretlint's rules (v12) and gitleaks' default config,
 * narrowed where noted; docs/redaction.md lists the sources and the measured cost.
 *
 * Each rule finds a value to hide (the whole match, or capture group 1 when the rule needs context
 * around the value, like `AWS_SECRET_ACCESS_KEY=`). Patterns must be global and linear-time: no
 * nested quantifiers, bounded spans.
 */

export interface Rule {
  /** The kind named in the marker: [REDACTED:<kind>:<hash>]. */
  kind: string | ((match: RegExpExecArray) => string);
  pattern: RegExp;
  /** Hide this capture group instead of the whole match. */
  group?: number;
}

const DATABASE_SCHEMES =
  /^(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|redis|rediss|mssql|sqlserver|cockroachdb|clickhouse|amqps?|jdbc:[a-z]+)$/i;

export const RULES: readonly Rule[] = [
  // PEM private keys (gitleaks private-key). Also matches a key inside JSON with `\n` escapes, as in
  // a GCP service-account file. The body is bounded so an unterminated BEGIN cannot scan forever.
  {
    kind: "private_key",
    pattern:
      /-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----[\s\S]{16,16384}?-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----/g,
  },
  // GCP service-account JSON: the private key is caught above; its id names the key.
  { kind: "gcp_service_account", pattern: /private_key_id\\*"\s*:\s*\\*"([a-f0-9]{40})\\*"/g, group: 1 },
  // GCP API keys (gitleaks gcp-api-key).
  { kind: "gcp_api_key", pattern: /\bAIza[\w-]{35}\b/g },
  // AWS (secretlint-rule-aws, with its ID rule on: an access key id alone is worth hiding).
  {
    kind: "aws_access_key_id",
    pattern: /\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA)[A-Z0-9]{16}\b/g,
  },
  {
    kind: "aws_secret_access_key",
    pattern:
      /(?:SECRET|secret|Secret)_?(?:ACCESS|access|Access)_?(?:KEY|key|Key)\\*["']?\s*(?::|=>|=)\s*\\*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])/g,
    group: 1,
  },
  // Azure: storage account keys in connection strings, and Entra ID (AD) client secrets (gitleaks).
  { kind: "azure_storage_key", pattern: /\bAccountKey=([A-Za-z0-9+/]{86}==)/g, group: 1 },
  {
    kind: "azure_client_secret",
    pattern: /(?:^|[\\'"`\s>=:(,)])([a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34})(?=$|[\\'"`\s<),])/gm,
    group: 1,
  },
  // AI providers. Anthropic: any sk-ant- key (api03, admin01, oat01, …). OpenAI (gitleaks openai-api-key,
  // widened to the project/service-account/admin keys that lost the T3BlbkFJ marker).
  { kind: "anthropic_api_key", pattern: /\bsk-ant-[A-Za-z0-9_-]{20,}/g },
  {
    kind: "openai_api_key",
    pattern: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}/g,
  },
  { kind: "openai_api_key", pattern: /\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}/g },
  // This gateway's own keys: aib_ + 43 base64url characters.
  { kind: "aibridge_key", pattern: /\baib_[A-Za-z0-9_-]{40,}/g },
  { kind: "huggingface_token", pattern: /\bhf_[A-Za-z0-9]{34,}\b/g },
  // Code hosts and chat (secretlint-rule-github / -gitlab / -slack, gitleaks).
  { kind: "github_token", pattern: /\bgh[pousr]_[A-Za-z0-9]{36,255}\b/g },
  { kind: "github_token", pattern: /\bgithub_pat_[A-Za-z0-9_]{22,255}\b/g },
  {
    kind: "gitlab_token",
    pattern: /\bgl(?:pat|dt|rt|ptt|cbt|oas|ft|imt|soat|ffct|agent)-[A-Za-z0-9_-]{20,}/g,
  },
  { kind: "slack_token", pattern: /\bxox[abposre]-[A-Za-z0-9-]{10,}/g },
  {
    kind: "slack_webhook",
    pattern: /https:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9+/]{43,56}/g,
  },
  { kind: "npm_token", pattern: /\bnpm_[A-Za-z0-9]{36}\b/g },
  { kind: "sendgrid_key", pattern: /\bSG\.[\w-]{22}\.[\w-]{43}\b/g },
  // Stripe secret and restricted keys (publishable pk_ keys are public by design).
  { kind: "stripe_key", pattern: /\b(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}\b/g },
  // JWTs: header and payload are base64url JSON objects (gitleaks jwt, narrowed to `eyJ`).
  { kind: "jwt", pattern: /\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g },
  // Passwords in URLs (secretlint-rule-basicauth / -database-connection-string): only the password.
  {
    kind: (m) => (DATABASE_SCHEMES.test(m[1] ?? "") ? "database_password" : "url_password"),
    // The scheme is read behind `://`, so the scan only stops at `://`, not at every word.
    pattern:
      /:\/\/(?<=\b(jdbc:[a-z]+|[a-z][a-z0-9+.-]{1,20}):\/\/)[^\s:/@'"<>\\]{1,256}:([^\s@'"<>/\\]{1,256})@/gi,
    group: 2,
  },
  // `.env` lines whose upper-case name says secret/password/token/key: NAME=value (quotes optional).
  // Upper-case names only: that is the .env convention, and it keeps `key = value` in code alone.
  // A line may start after a JSON-escaped newline (tool inputs are JSON text) and after the line
  // number Claude Code's Read tool puts in front (`    12→`). Placeholders (${X}, <x>) are left.
  {
    kind: "env_secret",
    pattern:
      /(?:^|\\[nr])[ \t]*(?:\d{1,7}(?:→|\t)[ \t]*)?(?:export[ \t]+)?[A-Z][A-Z0-9_]*(?:SECRET|PASSWORD|PASSWD|PASSPHRASE|TOKEN|KEY|CREDENTIALS?|AUTH)[A-Z0-9_]*[ \t]*=[ \t]*(?:\\*["'])?(?![$<{%])([^\s"'#\\]{6,})/gm,
    group: 1,
  },
  // The same in JSON and YAML configs: "password": "…", client_secret: …
  {
    kind: "config_secret",
    pattern:
      /\b(?:password|passwd|secret|client_secret|api_key|apikey|access_token|refresh_token|auth_token|private_key)\\*["']?[ \t]*:[ \t]*\\*["']([^"'\s\\]{6,})\\*["']/gi,
    group: 1,
  },
];
