/** What the fake model received, per test (requests are tagged with an x-test-id header). */
import { inject } from "vitest";
import { decodeBase64, fakeRequests } from "../worker/helpers";

export async function upstreamRequests(test: string): Promise<{ url: string; text: string }[]> {
  const all = await fakeRequests(inject("mcpUpstreamUrl"));
  return all
    .filter((request) => request.headers["x-test-id"] === test)
    .map((request) => ({
      url: request.url,
      text: new TextDecoder().decode(decodeBase64(request.bodyBase64)),
    }));
}
