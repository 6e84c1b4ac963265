/**
 * EIP-2612's `Permit` struct, as EIP-712 types for `signTypedData`: signed by
 * the local network's demo deposit and by the web app's permit deposits.
 */
export const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};
