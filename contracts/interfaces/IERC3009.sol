// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title IERC3009
 * @notice The part of EIP-3009 (transfer with authorization) that USDC implements and the escrow uses.
 */
interface IERC3009 {
    /// @notice The authorization `nonce` of `authorizer` was used.
    event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);

    /// @notice The authorization `nonce` of `authorizer` was cancelled.
    event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce);

    /// @notice Whether `authorizer` has used or cancelled `nonce`.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);

    /// @notice Transfers `value` from `from` to `to` with `from`'s signed authorization; anyone may submit it.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Like {transferWithAuthorization}, but only `to` may submit it, so a front-runner cannot
    /// move the funds without the recipient's accounting.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /// @notice Cancels an unused authorization of `authorizer`.
    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external;
}
