import { expect } from "chai";
import { HeldRequest } from "../../../server/domain/chat/heldRequest";
import { MemoryLedger } from "../../support/memoryPorts";

const ACCOUNT = "0x00000000000000000000000000000000000000aa";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const observer = { holdOpened: () => undefined, holdClosed: () => undefined, usageRecorded: () => undefined };

function recordingLogger() {
  const lines: string[] = [];
  return { lines, warn: (_: object, m: string) => void lines.push(`warn ${m}`), error: (_: object, m: string) => void lines.push(`error ${m}`) };
}

async function placeHold(ledger: MemoryLedger, ttlMs: number) {
  ledger.deposit(ACCOUNT, 1_000_000n);
  const result = await ledger.reserve({ requestId: "r1", account: ACCOUNT, keyId: "k1", modelId: "m", amountMicros: 5n, ttlMs });
  if (!result.ok) throw new Error("not placed");
  return result.hold;
}

describe("a hold outlives its TTL while its request runs", () => {
  it("is extended every third of the TTL, so a request running several TTLs long keeps it; commit stops the extensions", async () => {
    const ledger = new MemoryLedger();
    const logger = recordingLogger();
    const held = new HeldRequest(await placeHold(ledger, 150), ledger, observer, logger, 150);

    await sleep(700); // more than four TTLs
    expect(ledger.activeHolds().map((hold) => hold.id), "the sweeper finds nothing expired").to.deep.equal([held.hold.id]);
    expect(ledger.extensions).to.be.at.least(4);

    await held.release();
    const extensions = ledger.extensions;
    await sleep(300);
    expect(ledger.extensions, "no extension once the hold is closed").to.equal(extensions);
    expect(ledger.activeHolds()).to.deep.equal([]);
    expect(logger.lines).to.deep.equal([]);
  });

  it("without extensions (a crashed instance), the same hold expires after its TTL", async () => {
    const ledger = new MemoryLedger();
    await placeHold(ledger, 150);
    await sleep(250);
    expect(ledger.activeHolds()).to.deep.equal([]);
  });

  it("says so when the hold was swept before it could be extended, and stops trying", async () => {
    const ledger = new MemoryLedger();
    const logger = recordingLogger();
    const hold = await placeHold(ledger, 150);
    await ledger.release(hold.id); // as the sweeper would
    const held = new HeldRequest(hold, ledger, observer, logger, 150);
    await sleep(250);
    expect(logger.lines).to.deep.equal(["error hold expired while its request was still running"]);
    await sleep(200);
    expect(logger.lines).to.have.length(1);
    await held.release();
  });

  it("retries after an extension that failed (the database unreachable for a moment)", async () => {
    const ledger = new MemoryLedger();
    const logger = recordingLogger();
    const hold = await placeHold(ledger, 150);
    let failures = 1;
    const flaky = Object.assign(Object.create(ledger) as MemoryLedger, {
      extend: (id: string, ttl: number) => (failures-- > 0 ? Promise.reject(new Error("connection reset")) : ledger.extend(id, ttl)),
    });
    const held = new HeldRequest(hold, flaky, observer, logger, 150);
    await sleep(400);
    expect(logger.lines).to.deep.equal(["warn hold extension failed; retrying"]);
    expect(ledger.activeHolds().map((h) => h.id)).to.deep.equal([hold.id]);
    await held.release();
  });
});
