import type { GatewayConfig } from "../config";
import { baseUnitsToUsdc } from "../domain/money/usdcDecimal";
import { describeDatabase } from "../main/gatewayDatabase";
import type { LocalNetwork } from "../main/localNetwork";

/**
 * What `shareai start` prints once the gateway serves: where it is, what it
 * runs on, and, with the demo, a key and a first request to paste.
 * Line prefixes (`Base URL`, `API key`) are stable: scripts and tests read them.
 */
export function startBanner(network: LocalNetwork, config: GatewayConfig): string[] {
  const chain = network.chain;
  const lines = [
    "",
    chain?.local ? "ShareAI local network is running." : "ShareAI gateway is running.",
    "",
    `  Base URL      ${network.url}`,
    `  Web API       ${network.url.replace(/\/v1$/, "")}/api  (OpenAPI: /api/openapi.json)`,
    `  Database      ${describeDatabase(config)}`,
    `  Rate limits   ${
      network.rateLimitBackend === "redis"
        ? "Redis (shared by every instance)"
        : "in memory (set REDIS_URL to share them between instances)"
    }`,
    "",
    ...chainLines(network),
  ];
  const demo = network.demo;
  if (!demo) {
    lines.push(
      "",
      `No demo (${network.demoDecision.reason}). Create a key for an account:`,
      "  npx shareai keys create --account 0x… --name <name>",
      "",
      "Press Ctrl-C to stop.",
      "",
    );
    return lines;
  }
  lines.push(
    "",
    `Local demo (${network.demoDecision.reason}): a built-in echo upstream serves one model.`,
    "",
    `  Model         ${demo.modelId}  (echoes your last message as "You said: …"; not a language model)`,
    `  Provider      ${demo.providerAddress}  (its payout address: Hardhat dev account #2)`,
    `  Account       ${demo.account}  (Hardhat dev account #1)`,
    demo.funding === "chain"
      ? `  Balance       ${baseUnitsToUsdc(demo.balanceBase)} USDC deposited in the escrow (MockUSDC, with a permit), as the chain watcher mirrors it`
      : `  Balance       ${baseUnitsToUsdc(demo.balanceBase)} USDC, a demo balance written to the ledger (no chain)`,
    `  API key       ${demo.apiKey}`,
    "                (new on every start, shown once; earlier demo keys keep working)",
    "",
    "First request, with curl:",
    "",
    ...curlExample(network.url, demo.apiKey, demo.modelId).map((line) => `  ${line}`),
    "",
    "or with the official OpenAI SDK (npm install openai), in an ES module (.mjs):",
    "",
    ...sdkExample(network.url, demo.apiKey, demo.modelId).map((line) => `  ${line}`),
    "",
    "Press Ctrl-C to stop.",
    "",
  );
  return lines;
}

function chainLines(network: LocalNetwork): string[] {
  const chain = network.chain;
  if (!chain) {
    return [
      "  Chain         none (--no-chain): no chain watcher, no settlement; balances from `shareai accounts set-balance`",
    ];
  }
  const interval = `${chain.settlementIntervalMs / 1000} s`;
  const lines = [
    chain.local
      ? `  Chain         local Hardhat chain, id ${chain.chainId} (in memory: a new chain on every start)`
      : `  Chain         chain id ${chain.chainId}`,
    `  RPC URL       ${chain.rpcUrl}`,
    `  Escrow        ${chain.escrowAddress}`,
    `  USDC token    ${chain.tokenAddress}${chain.local ? "  (MockUSDC: anyone may mint; permit domain \"USD Coin\" / \"2\")" : ""}`,
    `  Treasury      ${chain.treasury}${chain.local ? "  (Hardhat dev account #3)" : ""}`,
    `  Settlement    every ${interval} at the latest, after ${chain.confirmations} confirmations; chain watcher and settlement worker running`,
  ];
  if (chain.local) {
    lines.push(
      `  Owner         ${chain.local.owner}  (Hardhat #0; signer #4 ${chain.local.signer}, submitter #5 ${chain.local.submitter})`,
      `  Thawing       ${chain.local.thawingPeriodSeconds} s before a requested withdrawal can be withdrawn`,
      `  Fund others   npx shareai dev fund --account 0x… --usdc 5   (docs/local-network.md)`,
    );
  }
  return lines;
}

export function curlExample(url: string, apiKey: string, model: string): string[] {
  const body = JSON.stringify({ model, messages: [{ role: "user", content: "Hello, ShareAI!" }] });
  return [
    `curl ${url}/chat/completions \\`,
    `  -H "Authorization: Bearer ${apiKey}" \\`,
    `  -H "Content-Type: application/json" \\`,
    `  -d '${body}'`,
  ];
}

export function sdkExample(url: string, apiKey: string, model: string): string[] {
  return [
    `import OpenAI from "openai";`,
    `const client = new OpenAI({ baseURL: "${url}", apiKey: "${apiKey}" });`,
    `const stream = await client.chat.completions.create({`,
    `  model: "${model}",`,
    `  messages: [{ role: "user", content: "Hello, ShareAI!" }],`,
    `  stream: true,`,
    `});`,
    `for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta?.content ?? "");`,
  ];
}
