/**
 * Changing one member of a JSON request body in its text, leaving every other byte as the client
 * sent it (the provider's prompt cache is an exact byte-prefix match). Builds on the member finder
 * of the OpenAI bridge; positions are found again after each change, so calls can be chained.
 */
import { lastMember, objectMembers } from "../providers/openai/json-text";

function root(text: string) {
  return objectMembers(text, text.indexOf("{"));
}

/** Sets a top-level member: its value is replaced where it stands, or the member is added at the end. */
export function setMember(text: string, key: string, valueJson: string): string {
  const object = root(text);
  const member = lastMember(object, key);
  if (member) return text.slice(0, member.valueStart) + valueJson + text.slice(member.valueEnd);
  const comma = object.members.length > 0 ? "," : "";
  return `${text.slice(0, object.close)}${comma}${JSON.stringify(key)}:${valueJson}${text.slice(object.close)}`;
}

/**
 * Appends elements (JSON text, comma-separated) to a top-level array member; a missing or null
 * member becomes an array of just those elements.
 */
export function appendToArray(text: string, key: string, elementsJson: string): string {
  const member = lastMember(root(text), key);
  if (!member || text[member.valueStart] !== "[") return setMember(text, key, `[${elementsJson}]`);
  const close = member.valueEnd - 1;
  const empty = text.slice(member.valueStart + 1, close).trim() === "";
  return `${text.slice(0, close)}${empty ? "" : ","}${elementsJson}${text.slice(close)}`;
}
