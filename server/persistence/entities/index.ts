import { AccountBalanceEntity, AccountEntity } from "./account";
import { ApiKeyEntity, ApiKeySpendEntity } from "./apiKey";
import { HoldEntity } from "./hold";
import { ModelEntity } from "./model";
import { ProviderEntity, UpstreamEntity, UpstreamModelEntity } from "./provider";
import { UsageRecordEntity } from "./usageRecord";

/** Every table, for the DataSource. The migrations create them; these schemas describe them to TypeORM. */
export const entities = [
  AccountEntity,
  AccountBalanceEntity,
  ApiKeyEntity,
  ApiKeySpendEntity,
  ModelEntity,
  ProviderEntity,
  UpstreamEntity,
  UpstreamModelEntity,
  HoldEntity,
  UsageRecordEntity,
];
