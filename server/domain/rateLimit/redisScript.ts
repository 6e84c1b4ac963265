import { EXPIRY_GRACE_MS, MAX_LEVEL, WINDOW_MS } from "./gcra";

/**
 * The Lua side of the Redis rate limiter: `gcra.ts`'s `drain`, `fits`,
 * `chargedLevel`, `drainMs` and `adjustedLevel`, line for line, on one hash per
 * API key (`rl`/`rt`: requests level and its time, `tl`/`tt`: tokens). Each
 * script is one atomic round trip (EVALSHA through ioredis `defineCommand`).
 *
 * Numbers are Lua doubles, exact because every value stays below 2^53; they are
 * written with `%.0f` so no digit is lost to Lua's default 14-digit formatting.
 * ARGV[1] is the time in ms, or "" to take Redis's own `TIME`.
 */
const PRELUDE = `
local W = ${WINDOW_MS}
local GRACE = ${EXPIRY_GRACE_MS}
local MAX_LEVEL = ${MAX_LEVEL}

local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function num(field)
  if field then return tonumber(field) end
  return nil
end

local function drain(level, updated, per_minute, now)
  if level == nil or level <= 0 then return 0 end
  local elapsed = now - updated
  if elapsed < 0 then elapsed = 0 end
  if elapsed >= math.ceil(level / per_minute) then return 0 end
  return level - elapsed * per_minute
end

local function fmt(n)
  return string.format('%.0f', n)
end
`;

/**
 * KEYS[1]: the key's hash. ARGV: now | "", requests/min (0: none), requests cost,
 * tokens/min (0: none), tokens cost. Charges both limits or neither.
 * Returns { allowed (1|0), requests level before, tokens level before }, levels drained to now.
 */
export const CHECK_SCRIPT = `${PRELUDE}
local key = KEYS[1]
local now = clock(ARGV[1])
local r_limit, r_cost = tonumber(ARGV[2]), tonumber(ARGV[3])
local t_limit, t_cost = tonumber(ARGV[4]), tonumber(ARGV[5])
local state = redis.call('HMGET', key, 'rl', 'rt', 'tl', 'tt')

local allowed = 1
local r_level, t_level = 0, 0
if r_limit > 0 then
  r_level = drain(num(state[1]), num(state[2]), r_limit, now)
  if r_level + r_cost * W > r_limit * W then allowed = 0 end
end
if t_limit > 0 then
  t_level = drain(num(state[3]), num(state[4]), t_limit, now)
  if t_level + t_cost * W > t_limit * W then allowed = 0 end
end

if allowed == 1 then
  local empty_in = 0
  if r_limit > 0 then
    local level = r_level + r_cost * W
    redis.call('HSET', key, 'rl', fmt(level), 'rt', fmt(now))
    empty_in = math.max(empty_in, math.ceil(level / r_limit))
  end
  if t_limit > 0 then
    local level = t_level + t_cost * W
    redis.call('HSET', key, 'tl', fmt(level), 'tt', fmt(now))
    empty_in = math.max(empty_in, math.ceil(level / t_limit))
  end
  redis.call('PEXPIRE', key, fmt(empty_in + GRACE))
end
return { allowed, r_level, t_level }
`;

/**
 * KEYS[1]: the key's hash. ARGV: now | "", requests/min (0: none), tokens/min, delta tokens.
 * Adds `delta` tokens (negative: a refund, never below 0) to the drained token level.
 */
export const ADJUST_SCRIPT = `${PRELUDE}
local key = KEYS[1]
local now = clock(ARGV[1])
local r_limit, t_limit, delta = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', key, 'rl', 'rt', 'tl', 'tt')
if not state[1] and not state[3] and delta < 0 then return 0 end

local tokens = drain(num(state[3]), num(state[4]), t_limit, now) + delta * W
if tokens < 0 then tokens = 0 end
if tokens > MAX_LEVEL then tokens = MAX_LEVEL end
redis.call('HSET', key, 'tl', fmt(tokens), 'tt', fmt(now))
local empty_in = math.ceil(tokens / t_limit)
if r_limit > 0 then
  empty_in = math.max(empty_in, math.ceil(drain(num(state[1]), num(state[2]), r_limit, now) / r_limit))
end
redis.call('PEXPIRE', key, fmt(empty_in + GRACE))
return 1
`;
