// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IERC3009} from "../interfaces/IERC3009.sol";

/**
 * @title MockUSDC
 * @notice TEST TOKEN ONLY: anyone can mint any amount. A stand-in for Circle's USDC (FiatTokenV2_2)
 * that matches it in everything ShareAI relies on: 6 decimals, the EIP-712 domain
 * ("USD Coin", version "2"), EIP-2612 `permit` and EIP-3009 transfer/receive/cancel with
 * authorization, with USDC's exact typehashes, so signatures made for the mock work on USDC.
 * @dev OpenZeppelin's ERC20Permit hard-codes domain version "1", so permit is written out here
 * against EIP712("USD Coin", "2"). Signatures go through OpenZeppelin's ECDSA, which, like USDC,
 * rejects malleable (high-s) signatures. Blacklisting, pausing and minter roles are left out:
 * ShareAI never depends on them.
 */
contract MockUSDC is ERC20, EIP712, Nonces, IERC20Permit, IERC3009 {
    bytes32 public constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    bytes32 public constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH =
        keccak256(
            "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
        );
    bytes32 public constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH =
        keccak256(
            "ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)"
        );
    bytes32 public constant CANCEL_AUTHORIZATION_TYPEHASH = keccak256("CancelAuthorization(address authorizer,bytes32 nonce)");

    mapping(address authorizer => mapping(bytes32 nonce => bool)) private _authorizationStates;

    /// @notice The permit's `deadline` has passed.
    error MockUSDCPermitExpired(uint256 deadline);

    /// @notice A signature recovers to `signer` where `expected` had to sign.
    error MockUSDCInvalidSigner(address signer, address expected);

    /// @notice The authorization is valid only after `validAfter` (exclusive).
    error MockUSDCAuthorizationNotYetValid(uint256 validAfter);

    /// @notice The authorization was valid only before `validBefore` (exclusive).
    error MockUSDCAuthorizationExpired(uint256 validBefore);

    /// @notice `authorizer` has already used or cancelled `nonce`.
    error MockUSDCAuthorizationUsed(address authorizer, bytes32 nonce);

    /// @notice `receiveWithAuthorization` was called by `caller`, but only the payee `to` may call it.
    error MockUSDCCallerNotPayee(address caller, address to);

    constructor() ERC20("USD Coin", "USDC") EIP712("USD Coin", "2") {}

    /// @notice Mints `amount` to `to`. Unrestricted on purpose: this is a test token.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice The EIP-712 domain version, exposed as USDC does (some wallets read it for permits).
    function version() external pure returns (string memory) {
        return "2";
    }

    // ---------------------------------------------------------------------------------------------
    // EIP-2612
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IERC20Permit
    function permit(
        address owner,
        address spender,
        uint256 value,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (block.timestamp > deadline) revert MockUSDCPermitExpired(deadline);
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, _useNonce(owner), deadline));
        _requireSigner(structHash, v, r, s, owner);
        _approve(owner, spender, value);
    }

    /// @inheritdoc IERC20Permit
    function nonces(address owner) public view override(IERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    /// @inheritdoc IERC20Permit
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------------------------------------
    // EIP-3009
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IERC3009
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool) {
        return _authorizationStates[authorizer][nonce];
    }

    /// @inheritdoc IERC3009
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
    ) external {
        _transferWithAuthorization(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, v, r, s);
    }

    /// @inheritdoc IERC3009
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
    ) external {
        if (msg.sender != to) revert MockUSDCCallerNotPayee(msg.sender, to);
        _transferWithAuthorization(RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, v, r, s);
    }

    /// @inheritdoc IERC3009
    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external {
        _requireUnusedAuthorization(authorizer, nonce);
        _requireSigner(keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce)), v, r, s, authorizer);
        _authorizationStates[authorizer][nonce] = true;
        emit AuthorizationCanceled(authorizer, nonce);
    }

    // Same order of checks and effects as FiatTokenV2: validity window, unused nonce, signature,
    // mark used, then move the tokens.
    function _transferWithAuthorization(
        bytes32 typehash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) private {
        if (block.timestamp <= validAfter) revert MockUSDCAuthorizationNotYetValid(validAfter);
        if (block.timestamp >= validBefore) revert MockUSDCAuthorizationExpired(validBefore);
        _requireUnusedAuthorization(from, nonce);
        bytes32 structHash = keccak256(abi.encode(typehash, from, to, value, validAfter, validBefore, nonce));
        _requireSigner(structHash, v, r, s, from);
        _authorizationStates[from][nonce] = true;
        emit AuthorizationUsed(from, nonce);
        _transfer(from, to, value);
    }

    function _requireUnusedAuthorization(address authorizer, bytes32 nonce) private view {
        if (_authorizationStates[authorizer][nonce]) revert MockUSDCAuthorizationUsed(authorizer, nonce);
    }

    function _requireSigner(bytes32 structHash, uint8 v, bytes32 r, bytes32 s, address expected) private view {
        address signer = ECDSA.recover(_hashTypedDataV4(structHash), v, r, s);
        if (signer != expected) revert MockUSDCInvalidSigner(signer, expected);
    }
}
