// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IUsageEscrow} from "./interfaces/IUsageEscrow.sol";
import {IERC3009} from "./interfaces/IERC3009.sol";

/**
 * @title UsageEscrow
 * @notice Holds users' USDC deposits and pays providers and the platform from signed cumulative
 * usage vouchers. See {IUsageEscrow} for the rules.
 */
contract UsageEscrow is IUsageEscrow, Ownable2Step, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    bytes32 private constant _VOUCHER_TYPEHASH =
        keccak256("Voucher(address payer,address provider,uint128 cumulativeAmount,bytes32 usageRoot)");

    uint16 private constant _MAX_BPS = 10_000;

    /// @dev Settlement reads and writes only `available` and `thawing`, so they share one slot;
    /// `thawEndsAt` is touched only by the withdrawal functions.
    struct PayerBalance {
        uint128 available;
        uint128 thawing;
    }

    IERC20 private immutable _token;
    uint16 private immutable _feeBps;
    uint64 private immutable _thawingPeriod;

    address private _treasury;
    mapping(address signer => bool) private _signers;
    mapping(address payer => PayerBalance) private _balances;
    mapping(address payer => uint64) private _thawEndsAt;
    mapping(address payer => mapping(address provider => uint128)) private _settled;
    mapping(address payee => uint256) private _earnings;

    constructor(IERC20 token_, address initialOwner, address treasury_, uint16 feeBps_, uint64 thawingPeriodSeconds)
        Ownable(initialOwner)
        EIP712("ShareAI UsageEscrow", "1")
    {
        if (address(token_) == address(0) || treasury_ == address(0)) revert UsageEscrowZeroAddress();
        if (feeBps_ > _MAX_BPS) revert UsageEscrowInvalidFeeBps(feeBps_);
        if (thawingPeriodSeconds == 0) revert UsageEscrowZeroAmount();
        _token = token_;
        _feeBps = feeBps_;
        _thawingPeriod = thawingPeriodSeconds;
        _treasury = treasury_;
        emit TreasuryChanged(address(0), treasury_);
    }

    // ------------------------------------------------------------------------------------------
    // Payers
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IUsageEscrow
    function deposit(uint256 amount) external nonReentrant {
        _pullDeposit(msg.sender, msg.sender, amount);
    }

    /// @inheritdoc IUsageEscrow
    function depositFor(address payer, uint256 amount) external nonReentrant {
        _pullDeposit(payer, msg.sender, amount);
    }

    /// @inheritdoc IUsageEscrow
    function depositWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        // A permit seen in the mempool can be submitted to the token by anyone first; the allowance
        // it set is then already in place, so a failed permit must not stop the deposit.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _pullDeposit(msg.sender, msg.sender, amount);
    }

    /// @inheritdoc IUsageEscrow
    function depositWithAuthorization(
        address from,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant {
        if (from == address(0)) revert UsageEscrowZeroAddress();
        if (amount == 0) revert UsageEscrowZeroAmount();
        uint256 balanceBefore = _token.balanceOf(address(this));
        // receiveWithAuthorization (not transferWithAuthorization) makes the token check that this
        // escrow is the caller, so nobody can move the authorised funds without crediting `from`.
        IERC3009(address(_token)).receiveWithAuthorization(
            from, address(this), amount, validAfter, validBefore, nonce, v, r, s
        );
        _creditDeposit(from, from, _token.balanceOf(address(this)) - balanceBefore);
    }

    /// @inheritdoc IUsageEscrow
    function requestWithdrawal(uint256 amount) external nonReentrant {
        if (amount == 0) revert UsageEscrowZeroAmount();
        PayerBalance storage balance = _balances[msg.sender];
        uint128 available = balance.available;
        if (amount > available) revert UsageEscrowInsufficientBalance(available, amount);
        uint128 thawing;
        // amount <= available, and available + thawing never exceeds the token's supply held here.
        unchecked {
            balance.available = available - uint128(amount);
            thawing = balance.thawing + uint128(amount);
        }
        balance.thawing = thawing;
        uint64 thawEndsAt = uint64(block.timestamp) + _thawingPeriod;
        _thawEndsAt[msg.sender] = thawEndsAt;
        emit WithdrawalRequested(msg.sender, thawing, thawEndsAt);
    }

    /// @inheritdoc IUsageEscrow
    function cancelWithdrawal() external nonReentrant {
        PayerBalance storage balance = _balances[msg.sender];
        uint128 thawing = balance.thawing;
        if (thawing == 0) revert UsageEscrowNothingThawing();
        // Both parts together never exceed the tokens held by the escrow, which fit in 128 bits.
        unchecked {
            balance.available += thawing;
        }
        balance.thawing = 0;
        delete _thawEndsAt[msg.sender];
        emit WithdrawalCancelled(msg.sender, thawing);
    }

    /// @inheritdoc IUsageEscrow
    function withdraw(address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert UsageEscrowZeroAddress();
        PayerBalance storage balance = _balances[msg.sender];
        amount = balance.thawing;
        if (amount == 0) revert UsageEscrowNothingThawing();
        uint64 thawEndsAt = _thawEndsAt[msg.sender];
        if (block.timestamp < thawEndsAt) revert UsageEscrowStillThawing(thawEndsAt);
        balance.thawing = 0;
        delete _thawEndsAt[msg.sender];
        emit Withdrawn(msg.sender, to, amount);
        _token.safeTransfer(to, amount);
    }

    // ------------------------------------------------------------------------------------------
    // Settlement and earnings
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IUsageEscrow
    function settle(Voucher[] calldata vouchers, bytes[] calldata signatures)
        external
        nonReentrant
        returns (uint256 totalPaid)
    {
        uint256 count = vouchers.length;
        if (count != signatures.length) revert UsageEscrowLengthMismatch();

        uint256 totalFee;
        // A batch is usually signed by one key: remember the last signer checked so each further
        // voucher costs no storage read for it.
        address verifiedSigner;
        for (uint256 i; i < count; ++i) {
            Voucher calldata voucher = vouchers[i];
            address signer = _recoverSigner(voucher, signatures[i], i);
            if (signer != verifiedSigner) {
                if (!_signers[signer]) revert UsageEscrowInvalidSigner(signer);
                verifiedSigner = signer;
            }
            (uint256 paid, uint256 fee) = _settleOne(voucher);
            // Sums of token amounts held by the escrow cannot overflow 256 bits.
            unchecked {
                totalPaid += paid;
                totalFee += fee;
            }
        }
        if (totalFee != 0) {
            // The batch's fees accrue in one write; Settled events carry each voucher's share.
            _earnings[_treasury] += totalFee;
        }
    }

    /// @inheritdoc IUsageEscrow
    function claim(address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert UsageEscrowZeroAddress();
        amount = _earnings[msg.sender];
        if (amount == 0) revert UsageEscrowZeroAmount();
        delete _earnings[msg.sender];
        emit Claimed(msg.sender, to, amount);
        _token.safeTransfer(to, amount);
    }

    // ------------------------------------------------------------------------------------------
    // Administration
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IUsageEscrow
    function authorizeSigner(address signer) external onlyOwner {
        if (signer == address(0)) revert UsageEscrowZeroAddress();
        if (_signers[signer]) revert UsageEscrowSignerAlreadyAuthorized(signer);
        _signers[signer] = true;
        emit SignerAuthorized(signer);
    }

    /// @inheritdoc IUsageEscrow
    function revokeSigner(address signer) external onlyOwner {
        if (!_signers[signer]) revert UsageEscrowSignerNotAuthorized(signer);
        delete _signers[signer];
        emit SignerRevoked(signer);
    }

    /// @inheritdoc IUsageEscrow
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert UsageEscrowZeroAddress();
        address previous = _treasury;
        _treasury = treasury_;
        emit TreasuryChanged(previous, treasury_);
    }

    /// @notice Disabled: without an owner nobody could revoke a compromised signer.
    function renounceOwnership() public view override onlyOwner {
        revert UsageEscrowRenounceOwnershipDisabled();
    }

    // ------------------------------------------------------------------------------------------
    // Views
    // ------------------------------------------------------------------------------------------

    /// @inheritdoc IUsageEscrow
    function token() external view returns (IERC20) {
        return _token;
    }

    /// @inheritdoc IUsageEscrow
    function balanceOf(address payer) external view returns (uint256 available, uint256 thawing, uint64 thawEndsAt) {
        PayerBalance storage balance = _balances[payer];
        thawing = balance.thawing;
        // Settlement can drain the thawing part without touching the timer; report no timer then.
        return (balance.available, thawing, thawing == 0 ? 0 : _thawEndsAt[payer]);
    }

    /// @inheritdoc IUsageEscrow
    function settledAmount(address payer, address provider) external view returns (uint128) {
        return _settled[payer][provider];
    }

    /// @inheritdoc IUsageEscrow
    function earningsOf(address payee) external view returns (uint256) {
        return _earnings[payee];
    }

    /// @inheritdoc IUsageEscrow
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc IUsageEscrow
    function feeBps() external view returns (uint16) {
        return _feeBps;
    }

    /// @inheritdoc IUsageEscrow
    function thawingPeriod() external view returns (uint64) {
        return _thawingPeriod;
    }

    /// @inheritdoc IUsageEscrow
    function isSigner(address signer) external view returns (bool) {
        return _signers[signer];
    }

    /// @inheritdoc IUsageEscrow
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32) {
        return _hashVoucher(voucher);
    }

    // ------------------------------------------------------------------------------------------
    // Internals
    // ------------------------------------------------------------------------------------------

    /// @dev Pulls `amount` from `from` and credits what actually arrived, so a token that takes a
    /// fee on transfer can never credit more than the escrow holds.
    function _pullDeposit(address payer, address from, uint256 amount) private {
        if (payer == address(0)) revert UsageEscrowZeroAddress();
        if (amount == 0) revert UsageEscrowZeroAmount();
        uint256 balanceBefore = _token.balanceOf(address(this));
        _token.safeTransferFrom(from, address(this), amount);
        _creditDeposit(payer, from, _token.balanceOf(address(this)) - balanceBefore);
    }

    function _creditDeposit(address payer, address from, uint256 received) private {
        if (received == 0) revert UsageEscrowZeroAmount();
        PayerBalance storage balance = _balances[payer];
        uint256 newAvailable = uint256(balance.available) + received;
        if (newAvailable + balance.thawing > type(uint128).max) revert UsageEscrowAmountTooLarge(newAvailable);
        balance.available = uint128(newAvailable);
        emit Deposited(payer, from, received);
    }

    /// @dev Pays what `voucher` adds to its pair's settled amount, as far as the payer's balance reaches.
    function _settleOne(Voucher calldata voucher) private returns (uint256 paid, uint256 fee) {
        address payer = voucher.payer;
        address provider = voucher.provider;
        if (payer == address(0) || provider == address(0)) revert UsageEscrowZeroAddress();

        uint128 alreadySettled = _settled[payer][provider];
        if (voucher.cumulativeAmount <= alreadySettled) return (0, 0);

        uint128 newSettled;
        // cumulativeAmount > alreadySettled by the check above, and the draw never exceeds what is due.
        unchecked {
            paid = _draw(_balances[payer], voucher.cumulativeAmount - alreadySettled);
            if (paid == 0) return (0, 0);
            newSettled = alreadySettled + uint128(paid);
            fee = (paid * _feeBps) / _MAX_BPS;
        }
        _settled[payer][provider] = newSettled;
        // fee <= paid because feeBps <= 10,000.
        unchecked {
            _earnings[provider] += paid - fee;
            emit Settled(payer, provider, newSettled, paid, paid - fee, fee, voucher.usageRoot);
        }
    }

    /// @dev Takes up to `due` from a payer's balance, available first, then thawing; returns what it took.
    function _draw(PayerBalance storage balance, uint128 due) private returns (uint128 drawn) {
        PayerBalance memory current = balance;
        // Every subtraction is guarded by the comparison before it.
        unchecked {
            if (due <= current.available) {
                balance.available = current.available - due;
                return due;
            }
            uint128 fromThawing = due - current.available;
            if (fromThawing > current.thawing) fromThawing = current.thawing;
            drawn = current.available + fromThawing;
            if (drawn == 0) return 0;
            balance.available = 0;
            balance.thawing = current.thawing - fromThawing;
        }
    }

    function _recoverSigner(Voucher calldata voucher, bytes calldata signature, uint256 index)
        private
        view
        returns (address signer)
    {
        ECDSA.RecoverError err;
        (signer, err,) = ECDSA.tryRecoverCalldata(_hashVoucher(voucher), signature);
        if (err != ECDSA.RecoverError.NoError) revert UsageEscrowInvalidSignature(index);
    }

    function _hashVoucher(Voucher calldata voucher) private view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    _VOUCHER_TYPEHASH, voucher.payer, voucher.provider, voucher.cumulativeAmount, voucher.usageRoot
                )
            )
        );
    }
}
