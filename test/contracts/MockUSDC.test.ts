import { expect } from "chai";
import { ethers, network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { TypedDataDomain, TypedDataField } from "ethers";
import type { MockUSDC } from "../../typechain-types";

const USDC = 1_000_000n;
// secp256k1 group order: s and n - s both verify, which is why ECDSA must refuse the high one.
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

const AUTHORIZATION_FIELDS: TypedDataField[] = [
  { name: "from", type: "address" },
  { name: "to", type: "address" },
  { name: "value", type: "uint256" },
  { name: "validAfter", type: "uint256" },
  { name: "validBefore", type: "uint256" },
  { name: "nonce", type: "bytes32" },
];
const TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
  TransferWithAuthorization: AUTHORIZATION_FIELDS,
  ReceiveWithAuthorization: AUTHORIZATION_FIELDS,
  CancelAuthorization: [
    { name: "authorizer", type: "address" },
    { name: "nonce", type: "bytes32" },
  ],
} satisfies Record<string, TypedDataField[]>;
type PrimaryType = keyof typeof TYPES;

interface Authorization {
  from: string;
  to: string;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: string;
}

async function deployFixture() {
  const [deployer, alice, bob, carol] = await ethers.getSigners();
  const usdc: MockUSDC = await ethers.deployContract("MockUSDC");
  await usdc.mint(alice.address, 1_000n * USDC);
  // Deliberately the domain real USDC uses: a signature that verifies here must verify there.
  const domain: TypedDataDomain = {
    name: "USD Coin",
    version: "2",
    chainId: network.config.chainId ?? 31337,
    verifyingContract: await usdc.getAddress(),
  };
  const sign = async (by: HardhatEthersSigner, type: PrimaryType, message: Record<string, unknown>) => {
    const signature = await by.signTypedData(domain, { [type]: TYPES[type] }, message);
    // Signature keeps v, r, s behind getters, so they are copied out by name.
    const { v, r, s } = ethers.Signature.from(signature);
    return { signature, v, r, s };
  };
  const recover = (type: PrimaryType, message: Record<string, unknown>, signature: string) =>
    ethers.verifyTypedData(domain, { [type]: TYPES[type] }, message, signature);
  // An authorization valid from now for an hour, unless a test overrides a field.
  const authorization = async (overrides: Partial<Authorization> = {}): Promise<Authorization> => ({
    from: alice.address,
    to: carol.address,
    value: 100n * USDC,
    validAfter: 0n,
    validBefore: BigInt(await time.latest()) + 3600n,
    nonce: ethers.hexlify(ethers.randomBytes(32)),
    ...overrides,
  });
  return { usdc, domain, sign, recover, authorization, deployer, alice, bob, carol };
}

const authArgs = (a: Authorization) => [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce] as const;

describe("MockUSDC", function () {
  describe("metadata", function () {
    it("looks like USDC: name, symbol and 6 decimals", async function () {
      const { usdc } = await loadFixture(deployFixture);
      expect(await usdc.name()).to.equal("USD Coin");
      expect(await usdc.symbol()).to.equal("USDC");
      expect(await usdc.decimals()).to.equal(6n);
    });

    it("signs under the EIP-712 domain (USD Coin, version 2)", async function () {
      const { usdc, domain } = await loadFixture(deployFixture);
      const [, name, version, chainId, verifyingContract] = await usdc.eip712Domain();
      expect([name, version, chainId, verifyingContract]).to.deep.equal([
        "USD Coin",
        "2",
        BigInt(domain.chainId!),
        domain.verifyingContract,
      ]);
      expect(await usdc.version()).to.equal("2");
      expect(await usdc.DOMAIN_SEPARATOR()).to.equal(ethers.TypedDataEncoder.hashDomain(domain));
    });

    it("exposes USDC's typehashes", async function () {
      const { usdc } = await loadFixture(deployFixture);
      const typehash = (type: PrimaryType) => ethers.id(ethers.TypedDataEncoder.from({ [type]: TYPES[type] }).encodeType(type));
      expect(await usdc.PERMIT_TYPEHASH()).to.equal(typehash("Permit"));
      expect(await usdc.TRANSFER_WITH_AUTHORIZATION_TYPEHASH()).to.equal(
        ethers.id(
          "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)",
        ),
      );
      expect(await usdc.TRANSFER_WITH_AUTHORIZATION_TYPEHASH()).to.equal(typehash("TransferWithAuthorization"));
      expect(await usdc.RECEIVE_WITH_AUTHORIZATION_TYPEHASH()).to.equal(typehash("ReceiveWithAuthorization"));
      expect(await usdc.CANCEL_AUTHORIZATION_TYPEHASH()).to.equal(ethers.id("CancelAuthorization(address authorizer,bytes32 nonce)"));
    });
  });

  describe("mint", function () {
    it("lets anyone mint to anyone", async function () {
      const { usdc, bob, carol } = await loadFixture(deployFixture);
      await expect(usdc.connect(bob).mint(carol.address, 5n * USDC))
        .to.emit(usdc, "Transfer")
        .withArgs(ethers.ZeroAddress, carol.address, 5n * USDC);
      expect(await usdc.balanceOf(carol.address)).to.equal(5n * USDC);
      expect(await usdc.totalSupply()).to.equal(1_005n * USDC);
    });
  });

  describe("permit", function () {
    async function signedPermit(deadlineOffset = 3600n) {
      const fixture = await loadFixture(deployFixture);
      const { alice, bob } = fixture;
      const message = {
        owner: alice.address,
        spender: bob.address,
        value: 50n * USDC,
        nonce: 0n,
        deadline: BigInt(await time.latest()) + deadlineOffset,
      };
      return { ...fixture, message };
    }

    it("sets the allowance and uses the owner's nonce", async function () {
      const { usdc, sign, alice, bob, carol, message } = await signedPermit();
      const { v, r, s } = await sign(alice, "Permit", message);
      // Anyone may submit the permit; only the owner's signature matters.
      await expect(usdc.connect(carol).permit(alice.address, bob.address, message.value, message.deadline, v, r, s))
        .to.emit(usdc, "Approval")
        .withArgs(alice.address, bob.address, message.value);
      expect(await usdc.allowance(alice.address, bob.address)).to.equal(message.value);
      expect(await usdc.nonces(alice.address)).to.equal(1n);
    });

    it("accepts a permit in the block of its deadline", async function () {
      const { usdc, sign, alice, bob, message } = await signedPermit();
      const { v, r, s } = await sign(alice, "Permit", message);
      await time.setNextBlockTimestamp(message.deadline);
      await expect(usdc.permit(alice.address, bob.address, message.value, message.deadline, v, r, s)).to.emit(
        usdc,
        "Approval",
      );
    });

    it("refuses a permit after its deadline", async function () {
      const { usdc, sign, alice, bob, message } = await signedPermit();
      const { v, r, s } = await sign(alice, "Permit", message);
      await time.setNextBlockTimestamp(message.deadline + 1n);
      await expect(usdc.permit(alice.address, bob.address, message.value, message.deadline, v, r, s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCPermitExpired")
        .withArgs(message.deadline);
    });

    it("refuses a permit signed by someone other than the owner", async function () {
      const { usdc, sign, alice, bob, message } = await signedPermit();
      const { v, r, s } = await sign(bob, "Permit", message);
      await expect(usdc.permit(alice.address, bob.address, message.value, message.deadline, v, r, s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCInvalidSigner")
        .withArgs(bob.address, alice.address);
    });

    it("refuses a replayed permit, because the nonce has moved on", async function () {
      const { usdc, sign, recover, alice, bob, message } = await signedPermit();
      const { signature, v, r, s } = await sign(alice, "Permit", message);
      await usdc.permit(alice.address, bob.address, message.value, message.deadline, v, r, s);
      const recoveredUnderNextNonce = recover("Permit", { ...message, nonce: 1n }, signature);
      await expect(usdc.permit(alice.address, bob.address, message.value, message.deadline, v, r, s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCInvalidSigner")
        .withArgs(recoveredUnderNextNonce, alice.address);
    });
  });

  describe("transferWithAuthorization", function () {
    it("moves the tokens for any relayer and marks the nonce used", async function () {
      const { usdc, sign, authorization, alice, bob, carol } = await loadFixture(deployFixture);
      const auth = await authorization();
      const { v, r, s } = await sign(alice, "TransferWithAuthorization", { ...auth });
      const tx = usdc.connect(bob).transferWithAuthorization(...authArgs(auth), v, r, s);
      await expect(tx).to.emit(usdc, "AuthorizationUsed").withArgs(alice.address, auth.nonce);
      await expect(tx).to.emit(usdc, "Transfer").withArgs(alice.address, carol.address, auth.value);
      await expect(tx).to.changeTokenBalances(usdc, [alice, carol], [-auth.value, auth.value]);
      expect(await usdc.authorizationState(alice.address, auth.nonce)).to.equal(true);
    });

    it("is valid strictly after validAfter", async function () {
      const { usdc, sign, authorization, alice } = await loadFixture(deployFixture);
      const validAfter = BigInt(await time.latest()) + 100n;
      const auth = await authorization({ validAfter, validBefore: validAfter + 3600n });
      const { v, r, s } = await sign(alice, "TransferWithAuthorization", { ...auth });
      await time.setNextBlockTimestamp(validAfter);
      await expect(usdc.transferWithAuthorization(...authArgs(auth), v, r, s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCAuthorizationNotYetValid")
        .withArgs(validAfter);

      await time.setNextBlockTimestamp(validAfter + 1n);
      await expect(usdc.transferWithAuthorization(...authArgs(auth), v, r, s)).to.emit(usdc, "AuthorizationUsed");
    });

    it("is valid strictly before validBefore", async function () {
      const { usdc, sign, authorization, alice } = await loadFixture(deployFixture);
      const auth = await authorization();
      const { v, r, s } = await sign(alice, "TransferWithAuthorization", { ...auth });
      await time.setNextBlockTimestamp(auth.validBefore);
      await expect(usdc.transferWithAuthorization(...authArgs(auth), v, r, s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCAuthorizationExpired")
        .withArgs(auth.validBefore);
    });

    it("refuses a replayed nonce", async function () {
      const { usdc, sign, authorization, alice } = await loadFixture(deployFixture);
      const auth = await authorization();
      const { v, r, s } = await sign(alice, "TransferWithAuthorization", { ...auth });
      await usdc.transferWithAuthorization(...authArgs(auth), v, r, s);
      await expect(usdc.transferWithAuthorization(...authArgs(auth), v, r, s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCAuthorizationUsed")
        .withArgs(alice.address, auth.nonce);
    });

    it("refuses a signature by someone other than `from`", async function () {
      const { usdc, sign, authorization, alice, bob } = await loadFixture(deployFixture);
      const auth = await authorization();
      const { v, r, s } = await sign(bob, "TransferWithAuthorization", { ...auth });
      await expect(usdc.transferWithAuthorization(...authArgs(auth), v, r, s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCInvalidSigner")
        .withArgs(bob.address, alice.address);
    });

    it("refuses a ReceiveWithAuthorization signature, so a relayer cannot bypass the payee check", async function () {
      const { usdc, sign, recover, authorization, alice } = await loadFixture(deployFixture);
      const auth = await authorization();
      const { signature, v, r, s } = await sign(alice, "ReceiveWithAuthorization", { ...auth });
      await expect(usdc.transferWithAuthorization(...authArgs(auth), v, r, s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCInvalidSigner")
        .withArgs(recover("TransferWithAuthorization", { ...auth }, signature), alice.address);
    });

    it("refuses the malleable high-s twin of a valid signature", async function () {
      const { usdc, sign, authorization, alice } = await loadFixture(deployFixture);
      const auth = await authorization();
      const { v, r, s } = await sign(alice, "TransferWithAuthorization", { ...auth });
      const highS = ethers.toBeHex(SECP256K1_N - BigInt(s), 32);
      const flippedV = v === 27 ? 28 : 27;
      await expect(usdc.transferWithAuthorization(...authArgs(auth), flippedV, r, highS))
        .to.be.revertedWithCustomError(usdc, "ECDSAInvalidSignatureS")
        .withArgs(highS);
    });
  });

  describe("receiveWithAuthorization", function () {
    it("may be submitted only by the payee", async function () {
      const { usdc, sign, authorization, alice, bob, carol } = await loadFixture(deployFixture);
      const auth = await authorization();
      const { v, r, s } = await sign(alice, "ReceiveWithAuthorization", { ...auth });
      await expect(usdc.connect(bob).receiveWithAuthorization(...authArgs(auth), v, r, s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCCallerNotPayee")
        .withArgs(bob.address, carol.address);
    });

    it("moves the tokens when the payee submits it", async function () {
      const { usdc, sign, authorization, alice, carol } = await loadFixture(deployFixture);
      const auth = await authorization();
      const { v, r, s } = await sign(alice, "ReceiveWithAuthorization", { ...auth });
      const tx = usdc.connect(carol).receiveWithAuthorization(...authArgs(auth), v, r, s);
      await expect(tx).to.emit(usdc, "AuthorizationUsed").withArgs(alice.address, auth.nonce);
      await expect(tx).to.changeTokenBalances(usdc, [alice, carol], [-auth.value, auth.value]);
    });

    it("refuses a TransferWithAuthorization signature", async function () {
      const { usdc, sign, recover, authorization, alice, carol } = await loadFixture(deployFixture);
      const auth = await authorization();
      const { signature, v, r, s } = await sign(alice, "TransferWithAuthorization", { ...auth });
      await expect(usdc.connect(carol).receiveWithAuthorization(...authArgs(auth), v, r, s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCInvalidSigner")
        .withArgs(recover("ReceiveWithAuthorization", { ...auth }, signature), alice.address);
    });
  });

  describe("cancelAuthorization", function () {
    it("burns an unused nonce so its authorization can no longer be used", async function () {
      const { usdc, sign, authorization, alice, bob } = await loadFixture(deployFixture);
      const auth = await authorization();
      const transfer = await sign(alice, "TransferWithAuthorization", { ...auth });
      const cancel = await sign(alice, "CancelAuthorization", { authorizer: alice.address, nonce: auth.nonce });
      await expect(usdc.connect(bob).cancelAuthorization(alice.address, auth.nonce, cancel.v, cancel.r, cancel.s))
        .to.emit(usdc, "AuthorizationCanceled")
        .withArgs(alice.address, auth.nonce);
      expect(await usdc.authorizationState(alice.address, auth.nonce)).to.equal(true);
      await expect(usdc.transferWithAuthorization(...authArgs(auth), transfer.v, transfer.r, transfer.s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCAuthorizationUsed")
        .withArgs(alice.address, auth.nonce);
    });

    it("refuses to cancel a nonce that was already used", async function () {
      const { usdc, sign, authorization, alice } = await loadFixture(deployFixture);
      const auth = await authorization();
      const transfer = await sign(alice, "TransferWithAuthorization", { ...auth });
      await usdc.transferWithAuthorization(...authArgs(auth), transfer.v, transfer.r, transfer.s);
      const cancel = await sign(alice, "CancelAuthorization", { authorizer: alice.address, nonce: auth.nonce });
      await expect(usdc.cancelAuthorization(alice.address, auth.nonce, cancel.v, cancel.r, cancel.s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCAuthorizationUsed")
        .withArgs(alice.address, auth.nonce);
    });

    it("refuses a cancellation signed by someone other than the authorizer", async function () {
      const { usdc, sign, alice, bob } = await loadFixture(deployFixture);
      const nonce = ethers.hexlify(ethers.randomBytes(32));
      const cancel = await sign(bob, "CancelAuthorization", { authorizer: alice.address, nonce });
      await expect(usdc.cancelAuthorization(alice.address, nonce, cancel.v, cancel.r, cancel.s))
        .to.be.revertedWithCustomError(usdc, "MockUSDCInvalidSigner")
        .withArgs(bob.address, alice.address);
    });
  });
});
