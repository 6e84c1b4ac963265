import { expect } from "chai";
import { decryptSecret, encryptSecret } from "../../../server/persistence/secretBox";

describe("secretBox", () => {
  const key = Buffer.alloc(32, 1);
  const upstreamId = "b3b0c2a4-1111-4000-8000-000000000001";

  it("opens what it sealed, and seals the same secret differently each time", () => {
    const first = encryptSecret("sk-upstream-secret", key, upstreamId);
    const second = encryptSecret("sk-upstream-secret", key, upstreamId);
    expect(decryptSecret(first, key, upstreamId)).to.equal("sk-upstream-secret");
    expect(first.equals(second)).to.equal(false);
    expect(first.includes(Buffer.from("sk-upstream-secret"))).to.equal(false);
  });

  it("round-trips an empty and a non-ASCII secret", () => {
    for (const secret of ["", "ключ-🔑"]) {
      expect(decryptSecret(encryptSecret(secret, key), key)).to.equal(secret);
    }
  });

  it("detects a change to any byte of the IV, the tag or the ciphertext", () => {
    const sealed = encryptSecret("sk-upstream-secret", key, upstreamId);
    for (let index = 1; index < sealed.length; index += 1) {
      const tampered = Buffer.from(sealed);
      tampered[index] ^= 0x01;
      expect(() => decryptSecret(tampered, key, upstreamId), `byte ${index}`).to.throw();
    }
  });

  it("refuses the wrong key, another row's associated data, a truncated value and an unknown version", () => {
    const sealed = encryptSecret("sk-upstream-secret", key, upstreamId);
    expect(() => decryptSecret(sealed, Buffer.alloc(32, 2), upstreamId)).to.throw();
    expect(() => decryptSecret(sealed, key, "another-upstream")).to.throw();
    expect(() => decryptSecret(sealed.subarray(0, 20), key, upstreamId)).to.throw(/unknown format/);
    const otherVersion = Buffer.from(sealed);
    otherVersion[0] = 2;
    expect(() => decryptSecret(otherVersion, key, upstreamId)).to.throw(/unknown format/);
  });

  it("wants a 32-byte key", () => {
    expect(() => encryptSecret("x", Buffer.alloc(16))).to.throw(RangeError, /32 bytes/);
    expect(() => decryptSecret(Buffer.alloc(40), Buffer.alloc(31))).to.throw(RangeError, /32 bytes/);
  });
});
