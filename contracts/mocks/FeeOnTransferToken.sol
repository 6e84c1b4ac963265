// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title FeeOnTransferToken
 * @notice TEST TOKEN ONLY: anyone can mint and anyone can change the fee. Burns {feeBps} of every
 * transfer, so the recipient gets less than `value`: it shows whether a contract credits what it
 * actually received rather than what it asked for.
 */
contract FeeOnTransferToken is ERC20 {
    /// @notice The share of every transfer that is burnt, in basis points.
    uint16 public feeBps;

    /// @notice The fee was set to `feeBps` basis points.
    event FeeBpsChanged(uint16 feeBps);

    /// @notice A fee above 10,000 basis points (100%).
    error FeeOnTransferTokenInvalidFeeBps(uint16 feeBps);

    constructor(uint16 initialFeeBps) ERC20("Fee On Transfer Token", "FOT") {
        _setFeeBps(initialFeeBps);
    }

    /// @notice Mints `amount` to `to`, free of fee. Unrestricted on purpose: this is a test token.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Sets the fee to `newFeeBps` basis points.
    function setFeeBps(uint16 newFeeBps) external {
        _setFeeBps(newFeeBps);
    }

    /// @inheritdoc ERC20
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    // Mints and burns pass untaxed; only transfers between two accounts pay the fee.
    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0)) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = (value * feeBps) / 10_000;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }

    function _setFeeBps(uint16 newFeeBps) private {
        if (newFeeBps > 10_000) revert FeeOnTransferTokenInvalidFeeBps(newFeeBps);
        feeBps = newFeeBps;
        emit FeeBpsChanged(newFeeBps);
    }
}
