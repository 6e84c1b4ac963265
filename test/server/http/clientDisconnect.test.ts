import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { expect } from "chai";
import { watchClientDisconnect } from "../../../server/http/streaming/clientDisconnect";

/** What the watch reads of a ServerResponse. */
function response(state: { writableFinished?: boolean; destroyed?: boolean; closed?: boolean } = {}) {
  return Object.assign(
    new EventEmitter(),
    { writableFinished: false, destroyed: false, closed: false, socket: null },
    state
  );
}

describe("watchClientDisconnect (a flag and callbacks, no AbortController)", () => {
  it("fires its listeners once when the connection closes before the response is finished", () => {
    const res = response();
    const watch = watchClientDisconnect(res as unknown as ServerResponse);
    const calls: string[] = [];
    const second = () => calls.push("second");
    watch.signal.addEventListener("abort", () => calls.push("first"));
    watch.signal.addEventListener("abort", second);
    watch.signal.removeEventListener("abort", second);
    expect(watch.signal.aborted).to.equal(false);
    res.emit("close");
    res.emit("close");
    expect(watch.signal.aborted).to.equal(true);
    expect(calls).to.deep.equal(["first"]);
  });

  it("does not fire for a response that finished, nor after dispose", () => {
    const finished = response();
    const watch = watchClientDisconnect(finished as unknown as ServerResponse);
    finished.writableFinished = true;
    finished.emit("close");
    expect(watch.signal.aborted).to.equal(false);

    const disposed = response();
    const other = watchClientDisconnect(disposed as unknown as ServerResponse);
    other.dispose();
    expect(disposed.listenerCount("close")).to.equal(0);
    disposed.emit("close");
    expect(other.signal.aborted).to.equal(false);
  });

  it("is aborted from the start when the connection closed before the watch began", () => {
    const res = response({ destroyed: true });
    const watch = watchClientDisconnect(res as unknown as ServerResponse);
    expect(watch.signal.aborted).to.equal(true);
    expect(res.listenerCount("close")).to.equal(0);
  });
});
