import { expect } from "chai";
import { CircuitBreaker } from "../../../server/providers/routing/circuitBreaker";

describe("CircuitBreaker", () => {
  let nowMs = 0;
  const breaker = () => new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, now: () => nowMs });

  beforeEach(() => {
    nowMs = 1_000_000;
  });

  it("opens after N consecutive failures, not before", () => {
    const b = breaker();
    b.onFailure();
    b.onFailure();
    expect(b.currentState).to.equal("closed");
    expect(b.tryAcquire()).to.equal(true);
    b.onFailure();
    expect(b.currentState).to.equal("open");
    expect(b.isAvailable()).to.equal(false);
    expect(b.tryAcquire()).to.equal(false);
  });

  it("counts only consecutive failures: a success resets the count", () => {
    const b = breaker();
    b.onFailure();
    b.onFailure();
    b.onSuccess();
    b.onFailure();
    b.onFailure();
    expect(b.currentState).to.equal("closed");
  });

  it("lets exactly one trial through after the cooldown; its success closes the circuit", () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    nowMs += 999;
    expect(b.tryAcquire()).to.equal(false);
    nowMs += 1;
    expect(b.isAvailable()).to.equal(true);
    expect(b.tryAcquire()).to.equal(true);
    expect(b.currentState).to.equal("half_open");
    expect(b.tryAcquire(), "a second request during the trial").to.equal(false);
    b.onSuccess();
    expect(b.currentState).to.equal("closed");
    expect(b.tryAcquire()).to.equal(true);
  });

  it("reopens for a full cooldown when the trial fails", () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    nowMs += 1000;
    expect(b.tryAcquire()).to.equal(true);
    b.onFailure();
    expect(b.currentState).to.equal("open");
    nowMs += 500;
    expect(b.tryAcquire()).to.equal(false);
    nowMs += 500;
    expect(b.tryAcquire()).to.equal(true);
  });

  it("frees the trial slot when the trial is abandoned (the client left)", () => {
    const b = breaker();
    for (let i = 0; i < 3; i++) b.onFailure();
    nowMs += 1000;
    expect(b.tryAcquire()).to.equal(true);
    b.onAbandoned();
    expect(b.tryAcquire()).to.equal(true);
  });
});
