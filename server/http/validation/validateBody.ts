import type { z } from "zod";
import { invalidRequest } from "../../domain/errors/gatewayErrors";

/**
 * Parses a request body, or throws the 400 OpenAI would: `invalid_request_error`
 * with `param` naming the first bad field in OpenAI's notation
 * (`messages.[0].content`) and a message a person can act on.
 */
export function validateBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const param = openAiParam(issue.path);
  throw invalidRequest(describeIssue(issue, param), param || null);
}

export function openAiParam(path: readonly PropertyKey[]): string {
  return path.map((part) => (typeof part === "number" ? `[${part}]` : String(part))).join(".");
}

function describeIssue(issue: z.core.$ZodIssue, param: string): string {
  const where = param ? `'${param}'` : "the request body";
  switch (issue.code) {
    case "invalid_type":
      if (issue.message.endsWith("received undefined")) return `Missing required parameter: ${where}.`;
      return `Invalid type for ${where}: ${stripPrefix(issue.message)}.`;
    case "too_small":
    case "too_big":
      return `Invalid value for ${where}: ${bound(issue)}.`;
    case "invalid_value":
      return `Invalid value for ${where}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}.`;
    default:
      return `Invalid value for ${where}: ${stripPrefix(issue.message)}.`;
  }
}

function bound(issue: z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall): string {
  const big = issue.code === "too_big";
  const limit = big ? (issue as z.core.$ZodIssueTooBig).maximum : (issue as z.core.$ZodIssueTooSmall).minimum;
  const most = big ? "at most" : "at least";
  if (issue.origin === "array") return `must have ${most} ${limit} item${Number(limit) === 1 ? "" : "s"}`;
  if (issue.origin === "string") return `must be ${most} ${limit} characters long`;
  if (issue.origin === "int" && big) return `must be an integer no larger than ${limit}`;
  return `must be ${most} ${limit}`;
}

function stripPrefix(message: string): string {
  return message.replace(/^Invalid input: /, "").replace(/\.$/, "");
}
