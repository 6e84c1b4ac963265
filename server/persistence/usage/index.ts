export { AccountKeys, type KeyWithSpend } from "./accountKeys";
export { ModelProviderCounts, type ModelProviderCount } from "./modelProviderCounts";
export { UsageHistory, type DailySpend, type UsageEntry, type UsageFilter, type UsagePosition } from "./usageHistory";
