import type { EscrowEvent } from "./escrowEvents";

/** A payer's escrow balance, as `balanceOf(payer)` returns it; amounts in base units. */
export interface PayerBalance {
  availableBase: bigint;
  thawingBase: bigint;
  /** Unix seconds from which the thawing funds can be withdrawn; 0 when nothing thaws. */
  thawEndsAt: bigint;
}

export const EMPTY_PAYER_BALANCE: PayerBalance = Object.freeze({ availableBase: 0n, thawingBase: 0n, thawEndsAt: 0n });

/**
 * The mirror met an event that the escrow could not have emitted from the
 * state the mirror holds: an event was missed or applied twice. Applying
 * stops (the tick's transaction rolls back) rather than writing a wrong balance.
 */
export class EscrowMirrorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EscrowMirrorError";
  }
}

/**
 * `balance` after `event`, by the escrow's own rules (UsageEscrow.sol); events
 * that do not concern a payer's balance leave it as it is. Pure, so replaying a
 * payer's events from EMPTY_PAYER_BALANCE always gives the same balance, which
 * is what makes a rollback exact.
 */
export function applyToPayerBalance(balance: PayerBalance, event: EscrowEvent): PayerBalance {
  switch (event.name) {
    case "Deposited":
      return { ...balance, availableBase: balance.availableBase + event.args.amount };
    case "WithdrawalRequested": {
      // The event carries the new thawing total; what it added came out of `available`.
      const moved = event.args.thawing - balance.thawingBase;
      if (moved <= 0n || moved > balance.availableBase) {
        throw mismatch(
          event,
          `thawing ${event.args.thawing} after ${balance.thawingBase}, available ${balance.availableBase}`,
        );
      }
      return {
        availableBase: balance.availableBase - moved,
        thawingBase: event.args.thawing,
        thawEndsAt: event.args.thawEndsAt,
      };
    }
    case "WithdrawalCancelled":
      if (event.args.amount !== balance.thawingBase) {
        throw mismatch(event, `cancelled ${event.args.amount} while ${balance.thawingBase} was thawing`);
      }
      return { availableBase: balance.availableBase + event.args.amount, thawingBase: 0n, thawEndsAt: 0n };
    case "Withdrawn":
      if (event.args.amount !== balance.thawingBase) {
        throw mismatch(event, `withdrew ${event.args.amount} while ${balance.thawingBase} was thawing`);
      }
      return { ...balance, thawingBase: 0n, thawEndsAt: 0n };
    case "Settled": {
      // Drawn from `available` first, then from `thawing` (UsageEscrow._draw).
      const { paid } = event.args;
      if (paid > balance.availableBase + balance.thawingBase) {
        throw mismatch(event, `paid ${paid} from ${balance.availableBase} + ${balance.thawingBase}`);
      }
      const fromAvailable = paid < balance.availableBase ? paid : balance.availableBase;
      const thawingBase = balance.thawingBase - (paid - fromAvailable);
      // balanceOf reports no timer once settlement has drained the thawing part.
      return {
        availableBase: balance.availableBase - fromAvailable,
        thawingBase,
        thawEndsAt: thawingBase === 0n ? 0n : balance.thawEndsAt,
      };
    }
    default:
      return balance;
  }
}

export function replayPayerBalance(
  events: readonly EscrowEvent[],
  from: PayerBalance = EMPTY_PAYER_BALANCE,
): PayerBalance {
  return events.reduce(applyToPayerBalance, from);
}

function mismatch(event: EscrowEvent, detail: string): EscrowMirrorError {
  return new EscrowMirrorError(
    `${event.name} in tx ${event.txHash} (log ${event.logIndex}, block ${event.blockNumber}) does not follow ` +
      `from the mirrored balance: ${detail}`,
  );
}
