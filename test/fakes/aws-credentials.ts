/** The fake Bedrock's AWS credentials (test/fakes/bedrock.ts), shared with Worker tests (no node: imports). */
export const FAKE_AWS = {
  accessKeyId: "AKIAFAKEBEDROCK00001",
  secretAccessKey: "fakeBedrockSecret/Key+MUST-never-leak-0042",
  sessionToken: "FakeSessionToken//MUST-never-leak==",
  region: "us-east-1",
};
