import { z } from "zod";

/**
 * The fields of OpenAI's Chat Completions request that the gateway reads or
 * that a client commonly gets wrong. Every object is loose: fields we do not
 * know (new OpenAI parameters, vLLM's `top_k`, …) are accepted. Validation only
 * decides whether to answer 400; what goes upstream is the client's own body
 * with `model` (and `stream_options` when streaming) replaced, so nothing the
 * schema does not list is ever lost or reshaped.
 */

const optionalString = z.string().nullish();
const positiveInt = z.number().int().min(1);
const penalty = z.number().min(-2).max(2).nullish();

const TextPart = z.looseObject({ type: z.literal("text"), text: z.string() });
const KNOWN_PARTS: Record<string, z.ZodType> = {
  text: TextPart,
  image_url: z.looseObject({
    type: z.literal("image_url"),
    image_url: z.looseObject({ url: z.string().min(1), detail: optionalString }),
  }),
  input_audio: z.looseObject({
    type: z.literal("input_audio"),
    input_audio: z.looseObject({ data: z.string(), format: z.string() }),
  }),
  file: z.looseObject({ type: z.literal("file"), file: z.looseObject({}) }),
  refusal: z.looseObject({ type: z.literal("refusal"), refusal: z.string() }),
};

/** A content part: the known types are checked; other types (an upstream's extensions) pass as they are. */
const ContentPart = z.looseObject({ type: z.string().min(1) }).superRefine((part, ctx) => {
  const schema = KNOWN_PARTS[part.type];
  if (!schema) return;
  const parsed = schema.safeParse(part);
  if (parsed.success) return;
  for (const issue of parsed.error.issues) {
    ctx.addIssue({ code: "custom", message: issue.message, path: issue.path as PropertyKey[] });
  }
});

function content(parts: z.ZodType, what: string) {
  return z.union([z.string(), z.array(parts)], { error: `expected a string or an array of ${what}` });
}

const ToolCall = z.looseObject({
  id: z.string(),
  type: z.string(),
  function: z.looseObject({ name: z.string(), arguments: z.string() }).optional(),
});

const FunctionCall = z.looseObject({ name: z.string(), arguments: z.string() });

const Message = z.discriminatedUnion(
  "role",
  [
    z.looseObject({ role: z.literal("system"), content: content(TextPart, "text parts"), name: optionalString }),
    z.looseObject({ role: z.literal("developer"), content: content(TextPart, "text parts"), name: optionalString }),
    z.looseObject({ role: z.literal("user"), content: content(ContentPart, "content parts"), name: optionalString }),
    z.looseObject({
      role: z.literal("assistant"),
      content: content(ContentPart, "content parts").nullish(),
      name: optionalString,
      refusal: optionalString,
      tool_calls: z.array(ToolCall).nullish(),
      function_call: FunctionCall.nullish(),
    }),
    z.looseObject({ role: z.literal("tool"), content: content(TextPart, "text parts"), tool_call_id: z.string() }),
    z.looseObject({ role: z.literal("function"), content: z.string().nullable(), name: z.string() }),
  ],
  { error: "expected a message whose role is one of system, developer, user, assistant, tool, function" }
);

const Tool = z.looseObject({
  type: z.string().min(1),
  function: z
    .looseObject({
      name: z.string().min(1).max(64),
      description: optionalString,
      parameters: z.record(z.string(), z.unknown()).nullish(),
      strict: z.boolean().nullish(),
    })
    .optional(),
});

export const ChatCompletionRequestSchema = z.looseObject({
  model: z.string().min(1).max(256),
  messages: z.array(Message).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().nullish() }).nullish(),
  max_tokens: positiveInt.nullish(),
  max_completion_tokens: positiveInt.nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  presence_penalty: penalty,
  frequency_penalty: penalty,
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  stop: z
    .union([z.string(), z.array(z.string()).max(4)], { error: "expected a string or an array of up to 4 strings" })
    .nullish(),
  seed: z.number().int().nullish(),
  user: optionalString,
  tools: z.array(Tool).nullish(),
  tool_choice: z
    .union([z.enum(["none", "auto", "required"]), z.looseObject({ type: z.string() })], {
      error: 'expected "none", "auto", "required" or an object naming a tool',
    })
    .nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: z.looseObject({ type: z.string().min(1) }).nullish(),
  functions: z.array(z.looseObject({ name: z.string().min(1) })).nullish(),
  function_call: z.union([z.string(), z.looseObject({ name: z.string() })]).nullish(),
  reasoning_effort: optionalString,
  metadata: z.record(z.string(), z.unknown()).nullish(),
});

export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequestSchema>;
export type ChatMessage = ChatCompletionRequest["messages"][number];
