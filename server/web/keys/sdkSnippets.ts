/** Ready-to-paste code for a new key: the official SDKs pointed at this gateway. */
export interface SdkSnippets {
  python: string;
  javascript: string;
  curl: string;
}

export function sdkSnippets(apiBaseUrl: string, secret: string, model: string): SdkSnippets {
  const base = JSON.stringify(apiBaseUrl);
  const key = JSON.stringify(secret);
  const modelId = JSON.stringify(model);
  const python = [
    "from openai import OpenAI",
    "",
    `client = OpenAI(base_url=${base}, api_key=${key})`,
    "",
    "response = client.chat.completions.create(",
    `    model=${modelId},`,
    '    messages=[{"role": "user", "content": "Hello!"}],',
    ")",
    "print(response.choices[0].message.content)",
    "",
  ].join("\n");
  const javascript = [
    'import OpenAI from "openai";',
    "",
    `const client = new OpenAI({ baseURL: ${base}, apiKey: ${key} });`,
    "",
    "const response = await client.chat.completions.create({",
    `  model: ${modelId},`,
    '  messages: [{ role: "user", content: "Hello!" }],',
    "});",
    "console.log(response.choices[0].message.content);",
    "",
  ].join("\n");
  const body = JSON.stringify({ model, messages: [{ role: "user", content: "Hello!" }] });
  const curl = [
    `curl ${shellQuote(`${apiBaseUrl}/chat/completions`)} \\`,
    `  -H ${shellQuote(`Authorization: Bearer ${secret}`)} \\`,
    "  -H 'Content-Type: application/json' \\",
    `  -d ${shellQuote(body)}`,
    "",
  ].join("\n");
  return { python, javascript, curl };
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}
