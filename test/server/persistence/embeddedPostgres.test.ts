import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Client } from "pg";
import { openDatabase } from "../../../server/persistence";
import { startEmbeddedPostgres } from "../../../server/persistence/embeddedPostgres";
import { isProcessAlive } from "../../../server/persistence/processes";

const EMBEDDED_MODULE = path.resolve(__dirname, "../../../server/persistence/embeddedPostgres.ts");

function temporaryDataDir(): string {
  return path.join(os.tmpdir(), `shareai-embedded-test-${process.pid}-${randomBytes(4).toString("hex")}`);
}

/** The postmaster's PID, as the server itself records it. */
async function serverPid(url: string): Promise<number> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query("SELECT pg_read_file('postmaster.pid') AS content");
    return Number(String(result.rows[0].content).split("\n")[0]);
  } finally {
    await client.end();
  }
}

describe("embedded Postgres (no DATABASE_URL)", function () {
  this.timeout(180_000);
  const dataDirs: string[] = [];

  after(async () => {
    await Promise.all(dataDirs.map((dir) => fs.rm(dir, { recursive: true, force: true })));
  });

  it("is initialised in its data folder on first open, migrated, reused on the next open, and stopped on close", async () => {
    const dataDir = temporaryDataDir();
    dataDirs.push(dataDir);

    const first = await openDatabase({ embeddedDataDir: dataDir });
    await first.models.upsert({
      id: "persisted-model",
      ownedBy: "test",
      created: 1_700_000_000,
      contextLength: 4096,
      maxOutputTokens: 512,
      promptRatePerMTok: 1n,
      completionRatePerMTok: 2n,
    });
    await first.readiness.check();
    const pid = await serverPid(String((first.dataSource.options as { url: string }).url));
    await first.close();
    expect(isProcessAlive(pid), "the server stopped").to.equal(false);

    const password = await fs.readFile(path.join(dataDir, "superuser-password"), "utf8");
    const second = await openDatabase({ embeddedDataDir: dataDir });
    try {
      expect(await second.modelCatalog.get("persisted-model")).to.include({ completionRatePerMTok: 2n });
      expect(await fs.readFile(path.join(dataDir, "superuser-password"), "utf8")).to.equal(password);
    } finally {
      await second.close();
    }
  });

  it("takes over the server left running by a process killed with SIGKILL", async () => {
    const dataDir = temporaryDataDir();
    dataDirs.push(dataDir);
    const child = spawn(
      process.execPath,
      [
        "--require",
        "tsx/cjs",
        "-e",
        `require(${JSON.stringify(EMBEDDED_MODULE)}).startEmbeddedPostgres({ dataDir: process.argv[1] })
           .then((server) => { console.log(server.url); setInterval(() => {}, 1000); })`,
        dataDir,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => resolve(chunk.toString().trim()));
      child.on("exit", (code) => reject(new Error(`the child exited with ${code}`)));
    });
    const orphanPid = await serverPid(url);
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    expect(isProcessAlive(orphanPid), "the orphan keeps running").to.equal(true);

    const adopted = await startEmbeddedPostgres({ dataDir, ephemeral: true });
    expect(new URL(adopted.url).port).to.equal(new URL(url).port);
    expect(await serverPid(adopted.url)).to.equal(orphanPid);
    await adopted.stop();
    expect(isProcessAlive(orphanPid), "the adopted server stopped").to.equal(false);
    await fs.access(dataDir).then(
      () => expect.fail("an ephemeral data folder is removed"),
      () => undefined,
    );
  });
});
