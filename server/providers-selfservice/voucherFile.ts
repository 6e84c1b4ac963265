import { z } from "zod";
import type { VoucherRecord } from "../persistence/vouchers/voucherRows";
import { EscrowRefSchema, VoucherSchema, type EscrowRef } from "../settlement/receiptBundle";
import { AddressSchema, HexBytesSchema } from "../settlement/wire";

/**
 * A provider's latest signed vouchers, one per payer: what `GET /api/providers/{address}/vouchers`
 * returns and `shareai provider vouchers` writes, and what `shareai provider settle` reads. Enough
 * to be paid with no gateway at all: each voucher with its signature is what the escrow's
 * `settle` takes, and the newest one of a pair pays everything the pair owes (cumulative amounts).
 */
export const PROVIDER_VOUCHERS_FORMAT = "shareai-provider-vouchers/1";

export const SignedVoucherEntrySchema = z.object({
  voucher: VoucherSchema,
  signature: HexBytesSchema,
  signer: AddressSchema,
  /** The gateway's view when exported (pending, submitted, confirmed, final, superseded); informative only. */
  state: z.string().optional(),
});

export const ProviderVouchersSchema = z.object({
  format: z.literal(PROVIDER_VOUCHERS_FORMAT),
  provider: AddressSchema,
  /** The escrow the vouchers are signed for; null when the gateway does not know it. */
  escrow: EscrowRefSchema.nullable(),
  exportedAt: z.string(),
  vouchers: z.array(SignedVoucherEntrySchema),
});

export type ProviderVouchers = z.output<typeof ProviderVouchersSchema>;
export type ProviderVouchersJson = z.input<typeof ProviderVouchersSchema>;
export type SignedVoucherEntry = z.output<typeof SignedVoucherEntrySchema>;

export function providerVouchersOf(
  provider: string,
  escrow: EscrowRef | null,
  vouchers: readonly VoucherRecord[],
  now = new Date(),
): ProviderVouchers {
  return {
    format: PROVIDER_VOUCHERS_FORMAT,
    provider: provider.toLowerCase(),
    escrow,
    exportedAt: now.toISOString(),
    vouchers: [...vouchers]
      .sort((a, b) => (a.payer < b.payer ? -1 : a.payer > b.payer ? 1 : 0))
      .map((v) => ({
        voucher: {
          payer: v.payer,
          provider: v.provider,
          cumulativeAmount: v.cumulativeAmountBase,
          usageRoot: v.usageRoot,
        },
        signature: v.signature,
        signer: v.signer,
        state: v.state,
      })),
  };
}

export function providerVouchersToJson(file: ProviderVouchers): ProviderVouchersJson {
  return z.encode(ProviderVouchersSchema, file);
}

export function parseProviderVouchers(json: unknown): ProviderVouchers {
  return ProviderVouchersSchema.parse(json);
}
