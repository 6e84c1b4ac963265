"use strict";
/**
 * Preloaded (`node --require`) into the `hardhat node` child of the local
 * network, so that the chain never outlives the process that started it, even
 * when that process is killed with SIGKILL and cannot stop it: every half
 * second the child checks that its parent is still the process that spawned
 * it (SHAREAI_PARENT_PID) and exits otherwise (an orphan is re-parented to
 * init or a subreaper, so its ppid changes). Plain JavaScript: it runs before
 * any TypeScript loader.
 */
const expected = Number(process.env.SHAREAI_PARENT_PID);
if (Number.isInteger(expected) && expected > 0) {
  const parentGone = () => {
    if (process.ppid !== expected) return true;
    try {
      process.kill(expected, 0);
      return false;
    } catch (error) {
      return error && error.code === "ESRCH";
    }
  };
  const timer = setInterval(() => {
    if (parentGone()) process.exit(0);
  }, 500);
  timer.unref();
}
