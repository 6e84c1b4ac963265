export { createRateLimiter, type RateLimiterConfig, type RateLimiterHandle } from "./createRateLimiter";
export { MemoryRateLimiter, type MemoryRateLimiterOptions } from "./memoryRateLimiter";
export { RedisRateLimiter, type RedisRateLimiterOptions, DEFAULT_KEY_PREFIX } from "./redisRateLimiter";
export { type RateLimitFailMode, type WarnLogger, RateLimiterUnavailableError } from "./failurePolicy";
export { formatResetDuration } from "./headers";
export { MAX_LIMIT_PER_MINUTE } from "./gcra";
