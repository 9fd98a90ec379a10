/**
 * Realistic FAKE secrets of every kind the redaction must catch, and near-misses it must leave
 * alone. Values are assembled from pieces at run time so that secret scanners reading this
 * repository do not flag it; none of them is or was ever a live credential.
 */

/** Deterministic pseudo-random characters (the same corpus on every run). */
function chars(seed: number, length: number, alphabet: string): string {
  let x = seed >>> 0 || 1;
  let out = "";
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out += alphabet[(x >>> 0) % alphabet.length];
  }
  return out;
}
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64 = `${ALNUM}+/`;
const B64URL = `${ALNUM}-_`;
const HEX = "0123456789abcdef";

const pemBody = Array.from({ length: 25 }, (_, i) => chars(900 + i, 64, B64)).join("\n");

export interface FakeSecret {
  kind: string;
  value: string;
}

export const SECRETS = {
  awsAccessKeyId: { kind: "aws_access_key_id", value: `AKIA${chars(1, 16, UPPER)}` },
  awsSecret: { kind: "aws_secret_access_key", value: chars(2, 40, B64) },
  gcpKeyId: { kind: "gcp_service_account", value: chars(3, 40, HEX) },
  gcpApiKey: { kind: "gcp_api_key", value: `AIza${chars(4, 35, B64URL)}` },
  azureStorage: { kind: "azure_storage_key", value: `${chars(5, 86, B64)}==` },
  azureClientSecret: { kind: "azure_client_secret", value: `${chars(6, 3, ALNUM)}8Q~${chars(7, 34, ALNUM)}` },
  anthropic: { kind: "anthropic_api_key", value: `sk-ant-api03-${chars(8, 93, B64URL)}AA` },
  openai: {
    kind: "openai_api_key",
    value: `sk-proj-${chars(9, 74, B64URL)}T3BlbkFJ${chars(10, 74, B64URL)}`,
  },
  aibridge: { kind: "aibridge_key", value: `aib_${chars(11, 43, B64URL)}` },
  github: { kind: "github_token", value: `ghp_${chars(12, 36, ALNUM)}` },
  gitlab: { kind: "gitlab_token", value: `glpat-${chars(13, 20, ALNUM)}` },
  slack: {
    kind: "slack_token",
    value: `xoxb-${chars(14, 11, "0123456789")}-${chars(15, 13, "0123456789")}-${chars(16, 24, ALNUM)}`,
  },
  stripe: { kind: "stripe_key", value: `sk_live_${chars(17, 24, ALNUM)}` },
  jwt: {
    kind: "jwt",
    value: `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ${chars(18, 60, B64URL)}.${chars(19, 43, B64URL)}`,
  },
  pem: {
    kind: "private_key",
    value: `-----BEGIN RSA PRIVATE KEY-----\n${pemBody}\n-----END RSA PRIVATE KEY-----`,
  },
  databasePassword: { kind: "database_password", value: `pg-${chars(20, 18, ALNUM)}` },
  envSecret: { kind: "env_secret", value: chars(21, 32, HEX) },
  envPassword: { kind: "env_secret", value: `Hunter2-${chars(22, 10, ALNUM)}` },
} satisfies Record<string, FakeSecret>;

const s = SECRETS;

/** A `.env` file, as Claude Code's Read tool returns it (line-numbered). */
export const DOT_ENV = [
  "# app settings",
  "NODE_ENV=production",
  "PORT=8080",
  `DATABASE_URL=postgres://app:${s.databasePassword.value}@db.internal:5432/app`,
  `SESSION_SECRET=${s.envSecret.value}`,
  `ADMIN_PASSWORD="${s.envPassword.value}"`,
  `STRIPE_SECRET_KEY=${s.stripe.value}`,
  `GITHUB_TOKEN=${s.github.value}`,
  `GITLAB_TOKEN=${s.gitlab.value}`,
  `SLACK_BOT_TOKEN=${s.slack.value}`,
  `ANTHROPIC_API_KEY=${s.anthropic.value}`,
  `AIBRIDGE_KEY=${s.aibridge.value}`,
  `GOOGLE_MAPS_API_KEY=${s.gcpApiKey.value}`,
  `AZURE_STORAGE_CONNECTION_STRING=DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${s.azureStorage.value};EndpointSuffix=core.windows.net`,
  `AZURE_CLIENT_SECRET=${s.azureClientSecret.value}`,
]
  .map((line, i) => `${String(i + 1).padStart(6)}→${line}`)
  .join("\n");

/** A GCP service-account key file (the private key inside is JSON-escaped). */
export const GCP_JSON = JSON.stringify(
  {
    type: "service_account",
    project_id: "acme-prod",
    private_key_id: s.gcpKeyId.value,
    private_key: `${s.pem.value}\n`,
    client_email: "deployer@acme-prod.iam.gserviceaccount.com",
    client_id: "104729384756102938475",
  },
  null,
  2,
);

/** Output of a Bash tool call that printed AWS credentials. */
export const BASH_OUTPUT = [
  "$ cat ~/.aws/credentials",
  "[default]",
  `aws_access_key_id = ${s.awsAccessKeyId.value}`,
  `aws_secret_access_key = ${s.awsSecret.value}`,
  "region = eu-west-1",
].join("\n");

/** A user prompt with a pasted key and a bearer JWT. */
export const PROMPT = `Why does this fail? I set OPENAI_API_KEY to ${s.openai.value} and the call sends Authorization: Bearer ${s.jwt.value}`;

/** All of it, as one user text (what the echo fake repeats into thoughts and tool inputs). */
export const DOCUMENT = [
  PROMPT,
  "Here is my .env:",
  DOT_ENV,
  "And the key I am adding in deploy/key.pem:",
  s.pem.value,
  "The service account:",
  GCP_JSON,
  "Bash output:",
  BASH_OUTPUT,
].join("\n\n");

/** Things that look like secrets but are not: they must be stored as they are. */
export const NEAR_MISSES = [
  "Trace 0b9e2f8e-5c1d-4d3a-9f2e-7a6b5c4d3e2f and session 123e4567-e89b-12d3-a456-426614174000.",
  "Fixed in commit 9fceb02d0ae598e95dc970b74767f19372d61af8 (parent e83c5163316f89bfbde7d9ab23ca2e25604af290).",
  `![diagram](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==${chars(30, 600, B64)})`,
  [
    "```ts",
    "export function authHeader(token: string): Record<string, string> {",
    "  const apiKey = process.env.API_KEY ?? '';",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: source code as text, on purpose
    "  return { authorization: `Bearer ${token}`, 'x-api-key': apiKey };",
    "}",
    "const password = await prompt('Password: ');",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a .env placeholder, on purpose
    "API_KEY=${API_KEY}",
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "```",
  ].join("\n"),
].join("\n\n");
