import { expect } from "chai";
import { Lifecycle, startAll } from "../../../server/main/lifecycle";

describe("Lifecycle", () => {
  it("stops in reverse order of start, once", async () => {
    const stopped: string[] = [];
    const lifecycle = new Lifecycle();
    for (const name of ["database", "rate limiter", "HTTP server"])
      lifecycle.add(name, name, (n) => void stopped.push(n));
    await Promise.all([lifecycle.stop(), lifecycle.stop()]);
    expect(stopped).to.deep.equal(["HTTP server", "rate limiter", "database"]);
    expect(() => lifecycle.add("late", 1, () => undefined)).to.throw(/already stopping/);
  });

  it("stops everything even when one part fails, then reports every failure", async () => {
    const stopped: string[] = [];
    const lifecycle = new Lifecycle();
    lifecycle.add("database", null, () => void stopped.push("database"));
    lifecycle.add("sweeper", null, () => {
      throw new Error("sweep stuck");
    });
    lifecycle.add("server", null, async () => {
      stopped.push("server");
      throw new Error("socket error");
    });
    await lifecycle.stop().then(
      () => expect.fail("should reject"),
      (error: Error) =>
        expect(error.message).to.equal("could not stop cleanly (server: socket error; sweeper: sweep stuck)"),
    );
    expect(stopped).to.deep.equal(["server", "database"]);
  });

  it("startAll stops what had started when a later step fails", async () => {
    const stopped: string[] = [];
    await startAll(async (lifecycle) => {
      lifecycle.add("database", null, () => void stopped.push("database"));
      lifecycle.add("echo", null, () => void stopped.push("echo"));
      throw new Error("port in use");
    }).then(
      () => expect.fail("should reject"),
      (error: Error) => expect(error.message).to.equal("port in use"),
    );
    expect(stopped).to.deep.equal(["echo", "database"]);
  });
});
