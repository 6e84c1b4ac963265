// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/**
 * @title IUsageEscrow
 * @notice The ShareAI escrow. Users deposit USDC; signed cumulative usage vouchers move money from a
 * user's deposit to the provider that served the usage (`paid - fee`) and to the platform treasury
 * (`fee`); both collect their earnings with {claim}.
 *
 * A voucher states everything `payer` has ever owed `provider`, in token base units. The escrow
 * remembers, per pair, how much it has already paid and pays only the difference, so a voucher
 * can be submitted any number of times, by anyone, in any order, and never pays twice.
 *
 * Vouchers are EIP-712 typed data under the domain (name "ShareAI UsageEscrow", version "1",
 * chainId, this contract), signed by a key the owner has authorised as a settlement signer.
 *
 * Withdrawals thaw: a payer moves funds from `available` to `thawing`, waits {thawingPeriod}, then
 * withdraws. Thawing funds still pay vouchers, so usage metered before the request can still be
 * settled. The owner chooses signers and the treasury; no function lets the owner, a signer or
 * anyone but the payer move a deposit, or anyone but a payee move its earnings.
 */
interface IUsageEscrow {
    /// @notice A signed statement of all usage of `payer` at `provider`, ever.
    /// @param payer The depositor whose balance pays.
    /// @param provider The payout address of the provider that served the usage.
    /// @param cumulativeAmount Everything `payer` owes `provider` since the beginning, in token base units.
    /// @param usageRoot Merkle root of the request receipts metered since the pair's previous voucher.
    struct Voucher {
        address payer;
        address provider;
        uint128 cumulativeAmount;
        bytes32 usageRoot;
    }

    // ------------------------------------------------------------------------------------------
    // Events
    // ------------------------------------------------------------------------------------------

    /// @notice `amount` base units, as received by the escrow, were credited to `payer`'s available balance; `from` paid them.
    event Deposited(address indexed payer, address indexed from, uint256 amount);

    /// @notice `payer` now has `thawing` base units thawing in total, withdrawable from `thawEndsAt`.
    event WithdrawalRequested(address indexed payer, uint256 thawing, uint64 thawEndsAt);

    /// @notice `payer` moved `amount` thawing base units back to its available balance.
    event WithdrawalCancelled(address indexed payer, uint256 amount);

    /// @notice `payer` withdrew `amount` thawed base units to `to`.
    event Withdrawn(address indexed payer, address indexed to, uint256 amount);

    /**
     * @notice A voucher paid `paid` base units from `payer` to `provider` (`providerShare`) and the treasury (`fee`).
     * @param cumulativeAmount The pair's new settled amount: the voucher's amount, or less when the deposit was short.
     * @param usageRoot The voucher's usage root, so every payment can be traced to its receipts.
     */
    event Settled(
        address indexed payer,
        address indexed provider,
        uint128 cumulativeAmount,
        uint256 paid,
        uint256 providerShare,
        uint256 fee,
        bytes32 usageRoot
    );

    /// @notice `payee` claimed `amount` base units of earnings to `to`.
    event Claimed(address indexed payee, address indexed to, uint256 amount);

    /// @notice The owner authorised `signer` to sign vouchers.
    event SignerAuthorized(address indexed signer);

    /// @notice The owner revoked `signer`; its signatures no longer settle anything.
    event SignerRevoked(address indexed signer);

    /// @notice Future fees accrue to `newTreasury`; fees already accrued stay with `previousTreasury`.
    event TreasuryChanged(address indexed previousTreasury, address indexed newTreasury);

    // ------------------------------------------------------------------------------------------
    // Errors
    // ------------------------------------------------------------------------------------------

    /// @notice An amount was zero where something had to move.
    error UsageEscrowZeroAmount();

    /// @notice An address argument (or a voucher's payer or provider) was the zero address.
    error UsageEscrowZeroAddress();

    /// @notice The fee in basis points was above 10,000.
    error UsageEscrowInvalidFeeBps(uint16 feeBps);

    /// @notice `vouchers` and `signatures` have different lengths.
    error UsageEscrowLengthMismatch();

    /// @notice The voucher at `index` carries a malformed or malleable signature.
    error UsageEscrowInvalidSignature(uint256 index);

    /// @notice A voucher's signature recovers to `signer`, which is not an authorised signer.
    error UsageEscrowInvalidSigner(address signer);

    /// @notice The payer's available balance `available` cannot cover `needed`.
    error UsageEscrowInsufficientBalance(uint256 available, uint256 needed);

    /// @notice Nothing is thawing for the caller.
    error UsageEscrowNothingThawing();

    /// @notice The thawing funds can be withdrawn only from `thawEndsAt`.
    error UsageEscrowStillThawing(uint64 thawEndsAt);

    /// @notice `signer` is already authorised.
    error UsageEscrowSignerAlreadyAuthorized(address signer);

    /// @notice `signer` is not an authorised signer.
    error UsageEscrowSignerNotAuthorized(address signer);

    /// @notice The escrow must always have an owner who can revoke a compromised signer.
    error UsageEscrowRenounceOwnershipDisabled();

    /// @notice A balance would exceed what the escrow's 128-bit accounting can hold.
    error UsageEscrowAmountTooLarge(uint256 amount);

    // ------------------------------------------------------------------------------------------
    // Payers
    // ------------------------------------------------------------------------------------------

    /// @notice Deposits `amount` from the caller (after `approve`) to the caller's available balance.
    function deposit(uint256 amount) external;

    /// @notice Deposits `amount` from the caller (after `approve`) to `payer`'s available balance.
    function depositFor(address payer, uint256 amount) external;

    /**
     * @notice Deposits `amount` from the caller with an EIP-2612 permit in the same transaction.
     * @dev If the permit fails (for example because someone front-ran it on the token) the deposit
     * goes on with the allowance already in place, so a front-run permit cannot block a deposit.
     */
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;

    /**
     * @notice Deposits `amount` from `from` with an EIP-3009 `receiveWithAuthorization` signed by `from`,
     * who becomes the payer. The token checks that the authorisation names this escrow as recipient.
     */
    function depositWithAuthorization(
        address from,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /**
     * @notice Moves `amount` of the caller's available balance to thawing and restarts the thawing
     * timer for everything thawing: it can be withdrawn {thawingPeriod} seconds from now.
     */
    function requestWithdrawal(uint256 amount) external;

    /// @notice Moves everything the caller has thawing back to its available balance.
    function cancelWithdrawal() external;

    /// @notice Sends everything the caller has thawing to `to`, once the thawing period has passed.
    function withdraw(address to) external returns (uint256 amount);

    // ------------------------------------------------------------------------------------------
    // Settlement and earnings
    // ------------------------------------------------------------------------------------------

    /**
     * @notice Pays each voucher's difference to what its pair has already been paid.
     * @dev Reverts as a whole if the arrays differ in length or any signature (of a stale voucher
     * too) is malformed or not from a currently authorised signer. A voucher not above the pair's
     * settled amount pays nothing and emits nothing. When a deposit is short the escrow pays what it
     * can, from available first and then thawing, earlier vouchers in the batch first, and records
     * only what it paid.
     * @return totalPaid The sum of all payments this call made.
     */
    function settle(Voucher[] calldata vouchers, bytes[] calldata signatures) external returns (uint256 totalPaid);

    /// @notice Sends all of the caller's earnings to `to`.
    function claim(address to) external returns (uint256 amount);

    // ------------------------------------------------------------------------------------------
    // Administration (owner only)
    // ------------------------------------------------------------------------------------------

    /// @notice Authorises `signer` to sign vouchers.
    function authorizeSigner(address signer) external;

    /// @notice Revokes `signer` at once: vouchers it signed no longer settle.
    function revokeSigner(address signer) external;

    /// @notice Sends future fees to `treasury`; fees already accrued stay claimable by the old one.
    function setTreasury(address treasury) external;

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @notice The token held in escrow (USDC).
    function token() external view returns (IERC20);

    /// @notice `payer`'s balance: spendable, thawing, and when the thawing part can be withdrawn (0 if none).
    function balanceOf(address payer) external view returns (uint256 available, uint256 thawing, uint64 thawEndsAt);

    /// @notice What `payer` has paid `provider` so far, in base units.
    function settledAmount(address payer, address provider) external view returns (uint128);

    /// @notice The earnings `payee` can claim.
    function earningsOf(address payee) external view returns (uint256);

    /// @notice The address that accrues future fees.
    function treasury() external view returns (address);

    /// @notice The platform fee in basis points of every payment.
    function feeBps() external view returns (uint16);

    /// @notice Seconds between a withdrawal request and the earliest withdrawal.
    function thawingPeriod() external view returns (uint64);

    /// @notice Whether `signer` is an authorised settlement signer.
    function isSigner(address signer) external view returns (bool);

    /// @notice The EIP-712 digest of `voucher` under this escrow's domain: what a signer signs.
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32);
}
