/** Small builders for the OpenAPI document's JSON. */
export type Json = Record<string, unknown>;

export const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
export const nullable = (schema: Json): Json => ({ oneOf: [schema, { type: "null" }] });
export const json = (schema: Json): Json => ({ "application/json": { schema } });

export const errorResponse = (description: string): Json => ({ description, content: json(ref("Error")) });
export const ok = (description: string, schema: Json): Json => ({ description, content: json(schema) });
