import { z } from "zod";

/** Postgres `integer`, the column type of the per-minute limits. */
const MAX_INT4 = 2_147_483_647;

const baseUnits = z
  .string()
  .regex(/^\d{1,30}$/, 'must be a whole number of USDC base units, as a string of digits (1 USDC = "1000000")')
  .transform((digits) => BigInt(digits));

const perMinute = z.number().int().min(1).max(MAX_INT4);

const modelList = z
  .array(z.string().min(1).max(200))
  .min(1)
  .max(100)
  .refine((models) => new Set(models).size === models.length, "must not repeat a model");

/** A key's name, caps and limits; null lifts a limit (every model, no cap, no rate limit). */
const keySettings = {
  name: z.string().trim().min(1).max(100),
  allowed_models: modelList.nullable(),
  daily_spend_cap_base: baseUnits.nullable(),
  total_spend_cap_base: baseUnits.nullable(),
  requests_per_minute: perMinute.nullable(),
  tokens_per_minute: perMinute.nullable(),
};

/** `POST /api/keys`: only the name is required. Unknown fields are refused, so a typo is not silently ignored. */
export const CreateKeyBodySchema = z
  .object({
    ...keySettings,
    allowed_models: keySettings.allowed_models.optional(),
    daily_spend_cap_base: keySettings.daily_spend_cap_base.optional(),
    total_spend_cap_base: keySettings.total_spend_cap_base.optional(),
    requests_per_minute: keySettings.requests_per_minute.optional(),
    tokens_per_minute: keySettings.tokens_per_minute.optional(),
  })
  .strict();
export type CreateKeyBody = z.infer<typeof CreateKeyBodySchema>;

/** `PATCH /api/keys/{id}`: what is present changes, what is absent stays; at least one field. */
export const UpdateKeyBodySchema = z
  .object(keySettings)
  .partial()
  .strict()
  .refine((body) => Object.keys(body).length > 0, "must change at least one field");
export type UpdateKeyBody = z.infer<typeof UpdateKeyBodySchema>;
