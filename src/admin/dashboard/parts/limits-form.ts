/**
 * The form that edits one user's limits (or the "*" default): PUT /admin/v1/limits/{user} with the
 * policy as JSON, DELETE to remove it. The server validates (docs/limits.md); its message is shown
 * as it is, next to the form. Fields left empty are left out of the policy (no limit of that kind).
 */
import { ApiError, type LimitPolicy, send } from "../api";
import { el } from "../dom";

const PERIODS = ["", "day", "week", "month"];
const RECORD = ["", "redacted", "full", "none"];

function field(label: string, input: HTMLElement, hint?: string): HTMLLabelElement {
  const node = el("label", {}, label);
  node.appendChild(input);
  if (hint) node.appendChild(el("small", {}, hint));
  return node;
}

function select(name: string, values: string[], current: string | undefined): HTMLSelectElement {
  const node = el("select", { name, id: `limit-${name}` });
  for (const value of values) node.appendChild(el("option", { value }, value || "–"));
  node.value = current ?? "";
  return node;
}

function text(name: string, current: string | number | undefined, placeholder = ""): HTMLInputElement {
  // Text, not type=number: what the admin typed goes to the server, whose message says what is wrong.
  return el("input", {
    name,
    id: `limit-${name}`,
    type: "text",
    value: current ?? "",
    placeholder,
    autocomplete: "off",
  });
}

/** A number when the text is one, else the text itself (the server says why it is not). */
function numberOrText(value: string): number | string | undefined {
  const trimmed = value.trim();
  if (!trimmed) return undefined;
  const n = Number(trimmed);
  return Number.isFinite(n) ? n : trimmed;
}

/** The policy the form describes; empty fields are left out. */
export function policyOf(form: HTMLFormElement): Record<string, unknown> {
  const data = new FormData(form);
  const value = (name: string) => String(data.get(name) ?? "").trim();
  const policy: Record<string, unknown> = {};
  const budget = numberOrText(value("budget_usd"));
  if (budget !== undefined) policy.budget_usd = budget;
  if (value("period")) policy.period = value("period");
  for (const name of ["requests_per_minute", "tokens_per_minute"]) {
    const n = numberOrText(value(name));
    if (n !== undefined) policy[name] = n;
  }
  const models: Record<string, string> = {};
  if (value("allow")) models.allow = value("allow");
  if (value("deny")) models.deny = value("deny");
  if (Object.keys(models).length > 0) policy.models = models;
  if (value("record_content")) policy.record_content = value("record_content");
  return policy;
}

/**
 * The form for `user` ("" = the admin types the user); `current` fills it. `done` runs after a
 * successful save or delete.
 */
export function limitsForm(
  user: string,
  current: LimitPolicy | null,
  ownPolicy: boolean,
  done: () => void,
): HTMLElement {
  const form = el("form", { id: "limits-form", class: "limits-form" });
  const who = text("user", user, "alice@example.com, or * for everyone without their own");
  if (user) who.readOnly = true;
  form.append(
    field("User", who),
    field("Budget (USD)", text("budget_usd", current?.budget_usd, "e.g. 50")),
    field("Period", select("period", PERIODS, current?.period), "default: month"),
    field("Requests / minute", text("requests_per_minute", current?.requests_per_minute)),
    field("Tokens / minute", text("tokens_per_minute", current?.tokens_per_minute)),
    field("Models allowed (regex)", text("allow", current?.models?.allow, "e.g. ^claude-(sonnet|haiku)")),
    field("Models denied (regex)", text("deny", current?.models?.deny, "e.g. opus")),
    field("Record content", select("record_content", RECORD, current?.record_content)),
  );
  const actions = form.appendChild(el("div", { class: "actions" }));
  actions.appendChild(el("button", { type: "submit", id: "limits-save" }, "Save limits"));
  const remove = actions.appendChild(el("button", { type: "button", id: "limits-delete" }, "Remove policy"));
  remove.hidden = !ownPolicy;
  const message = form.appendChild(el("p", { id: "limits-error", class: "error", role: "alert" }));

  const target = () => encodeURIComponent(who.value.trim());
  const run = async (action: () => Promise<unknown>) => {
    message.textContent = "";
    try {
      await action();
      done();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      message.textContent = error.message;
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!who.value.trim()) {
      message.textContent = "Name the user (or * for the default).";
      return;
    }
    void run(() => send("PUT", `/limits/${target()}`, policyOf(form)));
  });
  remove.addEventListener("click", () => void run(() => send("DELETE", `/limits/${target()}`)));
  return form;
}
