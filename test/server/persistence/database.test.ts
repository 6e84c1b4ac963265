import { expect } from "chai";
import { openDatabase } from "../../../server/persistence";
import { createTestDatabase, type TestDatabase } from "../../support/database";
import { fundedKey, holdRequest, ledgerCounters, reserveOrFail, usageFor } from "./fixtures";

describe("openDatabase / close", () => {
  let testDatabase: TestDatabase;

  before(async () => {
    testDatabase = await createTestDatabase();
  });

  after(async () => {
    await testDatabase.drop();
  });

  it("is ready while open, not after close, and can be closed twice", async () => {
    const db = await openDatabase({ databaseUrl: testDatabase.url });
    await db.readiness.check();
    await db.close();
    await db.close();
    await db.readiness.check().then(
      () => expect.fail("a closed database is not ready"),
      (error: Error) => expect(error).to.be.instanceOf(Error),
    );
  });

  it("finishes the commits in progress before closing", async () => {
    const db = await openDatabase({ databaseUrl: testDatabase.url });
    const funded = await fundedKey(db, 1n);
    const requests = Array.from({ length: 20 }, () => holdRequest(funded, 10_000n));
    const holds = await Promise.all(requests.map((request) => reserveOrFail(db, request)));
    const commits = requests.map((request, index) => db.ledger.commit(usageFor(request, holds[index], 5_000n)));
    await db.close();
    await Promise.all(commits);

    const reopened = await openDatabase({ databaseUrl: testDatabase.url });
    try {
      expect(await ledgerCounters(reopened, funded.account, funded.key.id)).to.include({
        usageCount: 20,
        holdCount: 0,
        unsettled: 100_000n,
      });
    } finally {
      await reopened.close();
    }
  });
});
