// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title ReentrantToken
 * @notice TEST TOKEN ONLY: anyone can mint. An adversarial ERC-20 that, once armed with
 * {setReentry}, calls back into a target during its next `transfer` or `transferFrom`, before any
 * balance moves: the point where a reentrancy bug in the caller would be exploitable.
 * @dev The callback's failure is recorded, not bubbled, so the outer transfer still completes and a
 * test can assert that the target refused the reentry (and with which error).
 */
contract ReentrantToken is ERC20 {
    address private _reentryTarget;
    bytes private _reentryData;

    /// @notice Whether the last reentrant call succeeded.
    bool public lastReentrySucceeded;

    /// @notice The revert data of the last reentrant call (empty if it succeeded).
    bytes public lastReentryRevertData;

    /// @notice The token called `target` back during a transfer; `returnData` is its return or revert data.
    event ReentryAttempted(address indexed target, bool success, bytes returnData);

    constructor() ERC20("Reentrant Token", "REENT") {}

    /// @notice Mints `amount` to `to`. Unrestricted on purpose: this is a test token.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Arms the hook: the next `transfer` or `transferFrom` calls `target` with `data`, once.
    function setReentry(address target, bytes calldata data) external {
        _reentryTarget = target;
        _reentryData = data;
    }

    /// @inheritdoc ERC20
    function transfer(address to, uint256 value) public override returns (bool) {
        _reenter();
        return super.transfer(to, value);
    }

    /// @inheritdoc ERC20
    function transferFrom(address from, address to, uint256 value) public override returns (bool) {
        _reenter();
        return super.transferFrom(from, to, value);
    }

    function _reenter() private {
        address target = _reentryTarget;
        if (target == address(0)) return;
        bytes memory data = _reentryData;
        // Disarm before calling out, or a reentered transfer would fire the hook again, forever.
        delete _reentryTarget;
        delete _reentryData;

        (bool success, bytes memory returnData) = target.call(data);
        lastReentrySucceeded = success;
        lastReentryRevertData = success ? bytes("") : returnData;
        emit ReentryAttempted(target, success, returnData);
    }
}
