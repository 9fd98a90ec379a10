/**
 * The `api-key` values the fake OpenAI upstream accepts on its Azure OpenAI v1 paths
 * (`/openai/v1/…`, test/fakes/openai.ts), shared with Worker tests (no node: imports). Two central
 * keys for an instance, and one a user brings (BYOK). `entraToken` stands for a Microsoft Entra ID
 * access token, which Azure takes in `Authorization: Bearer` instead of a key.
 */
export const FAKE_AZURE_KEYS = {
  central1: "azkey-central-one-0000MUSTneverLEAK1111",
  central2: "azkey-central-two-0000MUSTneverLEAK2222",
  user: "azkey-users-own-0000MUSTneverLEAK3333",
  entraToken: "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.fake-entra-MUSTneverLEAK4444.c2ln",
};
