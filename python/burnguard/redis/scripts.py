"""The Lua scripts the Redis backend runs: each is one atomic step on one hash slot.

Every key a script touches is passed in ``KEYS`` and carries the entity's hash tag
(``{<namespace>:slo:<name>}``), so they all live in one slot of a Redis Cluster.
"""

from __future__ import annotations

#: One SLO writer's flush, and the fleet's changes since the reader's cursor.
#:
#: KEYS: the fleet hash, the change log (a list of tier-0 bucket indices), the writer's hash.
#: ARGV: seq, buckets per tier, tiers, writer ttl ms, fleet ttl ms, log cap, cursor,
#: geometry, full ("1"/"0"), oldest live index, the writer's known ``created``, last
#: acknowledged seq, then the count of changed buckets and ``index good bad`` for each
#: (absolute counts), then the count of forgotten buckets and their indices.
#:
#: The fleet hash keeps every tier complete: field ``t<k>:<slot>`` is the lap tag of the
#: bucket in that slot of tier ``k``, ``g<k>:<slot>`` and ``b<k>:<slot>`` its good and bad
#: counts. The writer's hash keeps ``g<index>``/``b<index>``: the counts of its own it has
#: applied for each tier-0 bucket, so a batch applied twice adds nothing the second time.
#:
#: Reply: TIME seconds, TIME microseconds, applied (1/0), status (``ok``, ``stale`` for a seq
#: already applied, ``lost`` when the writer's counts expired while the fleet's were kept),
#: created, log length, then ``full`` or ``delta`` and ``tier slot tag good bad`` entries.
SLO_FLUSH = """
local fleet, log, writer = KEYS[1], KEYS[2], KEYS[3]
local seq = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local tiers = tonumber(ARGV[3])
local cap = tonumber(ARGV[6])
local cursor = tonumber(ARGV[7])
local geometry = ARGV[8]
local known_created = ARGV[11]
local acknowledged = tonumber(ARGV[12])

local held = redis.call('HGET', fleet, 'geometry')
if held and held ~= geometry then
  return redis.error_reply(
    'BURNGUARD geometry: the SLO is shared under this name with another definition')
end
local time = redis.call('TIME')
local created = redis.call('HGET', fleet, 'created')
if not created then
  created = time[1] .. '.' .. time[2]
  redis.call('HSET', fleet, 'geometry', geometry, 'created', created, 'logn', 0)
end

local last = tonumber(redis.call('HGET', writer, 'seq') or '0')
local status = 'ok'
if seq <= last then
  status = 'stale'
elseif last < acknowledged and created == known_created then
  status = 'lost'
end

local applied = 0
if status == 'ok' then
  applied = 1
  local i = 14
  for _ = 1, tonumber(ARGV[13]) do
    local index = ARGV[i]
    local good, bad = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
    i = i + 3
    local dg = good - tonumber(redis.call('HGET', writer, 'g' .. index) or '0')
    local db = bad - tonumber(redis.call('HGET', writer, 'b' .. index) or '0')
    redis.call('HSET', writer, 'g' .. index, good, 'b' .. index, bad)
    if dg > 0 or db > 0 then
      if dg < 0 then dg = 0 end
      if db < 0 then db = 0 end
      local x = tonumber(index)
      for k = 0, tiers - 1 do
        local ik = math.floor(x / 4 ^ k)
        local slot = ik % n
        local tag = math.floor(ik / n) + 1
        local key = k .. ':' .. slot
        local t = tonumber(redis.call('HGET', fleet, 't' .. key) or '0')
        if t == tag then
          redis.call('HINCRBY', fleet, 'g' .. key, dg)
          redis.call('HINCRBY', fleet, 'b' .. key, db)
        elseif t < tag then
          redis.call('HSET', fleet, 't' .. key, tag, 'g' .. key, dg, 'b' .. key, db)
        end
      end
      redis.call('RPUSH', log, index)
      redis.call('HINCRBY', fleet, 'logn', 1)
    end
  end
  for _ = 1, tonumber(ARGV[i]) do
    i = i + 1
    redis.call('HDEL', writer, 'g' .. ARGV[i], 'b' .. ARGV[i])
  end
  if ARGV[9] == '1' then
    local oldest = tonumber(ARGV[10])
    for _, field in ipairs(redis.call('HKEYS', writer)) do
      local index = string.match(field, '^[gb](%d+)$')
      if index and tonumber(index) < oldest then
        redis.call('HDEL', writer, field)
      end
    end
  end
  redis.call('HSET', writer, 'seq', seq)
  redis.call('LTRIM', log, -cap, -1)
end
redis.call('PEXPIRE', writer, ARGV[4])
redis.call('PEXPIRE', fleet, ARGV[5])
redis.call('PEXPIRE', log, ARGV[5])

local logn = tonumber(redis.call('HGET', fleet, 'logn'))
local reply = {time[1], time[2], applied, status, created, logn}
local pending = logn - cursor
if cursor == 0 or created ~= known_created or cursor > logn or pending > redis.call('LLEN', log) then
  table.insert(reply, 'full')
  local all = redis.call('HGETALL', fleet)
  local values = {}
  for j = 1, #all, 2 do
    values[all[j]] = all[j + 1]
  end
  for j = 1, #all, 2 do
    local k, slot = string.match(all[j], '^t(%d+):(%d+)$')
    if k then
      local key = k .. ':' .. slot
      table.insert(reply, k)
      table.insert(reply, slot)
      table.insert(reply, all[j + 1])
      table.insert(reply, values['g' .. key] or '0')
      table.insert(reply, values['b' .. key] or '0')
    end
  end
  return reply
end
table.insert(reply, 'delta')
if pending > 0 then
  local seen = {}
  for _, index in ipairs(redis.call('LRANGE', log, -pending, -1)) do
    if not seen[index] then
      seen[index] = true
      local x = tonumber(index)
      for k = 0, tiers - 1 do
        local ik = math.floor(x / 4 ^ k)
        local slot = ik % n
        local key = k .. ':' .. slot
        local fields = redis.call('HMGET', fleet, 't' .. key, 'g' .. key, 'b' .. key)
        table.insert(reply, k)
        table.insert(reply, slot)
        table.insert(reply, fields[1] or '0')
        table.insert(reply, fields[2] or '0')
        table.insert(reply, fields[3] or '0')
      end
    end
  end
end
return reply
"""

#: One breaker host's sync: its window and any transition it made; the fleet's state back.
#:
#: KEYS: the breaker's state hash, its writers' hash.
#: ARGV: writer, geometry, the fleet epoch the host last adopted (-1: none), the host's
#: state, changed ("1": it moved by itself since), manual ("1": moved by hand), its window's
#: calls, failed, slow, then minimum calls, failure and slow thresholds (percent), the OPEN
#: wait (ms), backoff multiplier, longest wait (ms), the probe lease (ms), the writer ttl
#: (ms), the host's backoff level.
#:
#: The state hash holds ``state``, ``epoch`` (+1 at every fleet transition), ``level`` (the
#: backoff), ``until`` (Redis ms: OPEN's end, or HALF_OPEN's probe lease) and ``holder`` (the
#: writer holding the lease). The writers' hash holds each host's window (``c:``, ``f:``,
#: ``s:``) and when it expires (``x:``); a CLOSED fleet opens when their sum crosses the
#: thresholds, as one breaker would.
#:
#: Reply: TIME seconds, TIME microseconds, state, epoch, level, ms left of ``until`` (-1 when
#: none), 1 if this writer holds the probe lease.
BREAKER_SYNC = """
local state_key, writers = KEYS[1], KEYS[2]
local writer, geometry = ARGV[1], ARGV[2]
local known = tonumber(ARGV[3])
local local_state = ARGV[4]
local changed, manual = ARGV[5] == '1', ARGV[6] == '1'
local calls, failed, slow = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local min_calls = tonumber(ARGV[10])
local failure_threshold, slow_threshold = tonumber(ARGV[11]), tonumber(ARGV[12])
local wait_ms, multiplier, max_wait_ms = tonumber(ARGV[13]), tonumber(ARGV[14]), tonumber(ARGV[15])
local lease_ms, writer_ttl = tonumber(ARGV[16]), tonumber(ARGV[17])
local local_level = tonumber(ARGV[18])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local f = redis.call('HMGET', state_key, 'geometry', 'state', 'epoch', 'level', 'until', 'holder')
if f[1] and f[1] ~= geometry then
  return redis.error_reply(
    'BURNGUARD geometry: the breaker is shared under this name with another configuration')
end
local state = f[2] or 'CLOSED'
local epoch = tonumber(f[3] or '0')
local level = tonumber(f[4] or '0')
local until_ms = tonumber(f[5] or '0')
local holder = f[6] or ''

local function move(to, new_level)
  epoch, state, level, holder, until_ms = epoch + 1, to, math.min(new_level, 31), '', 0
  if to == 'OPEN' then
    until_ms = now + math.min(wait_ms * multiplier ^ level, max_wait_ms)
  elseif to == 'HALF_OPEN' then
    holder, until_ms = writer, now + lease_ms
  elseif to == 'CLOSED' then
    redis.call('DEL', writers)
  end
end

if manual then
  move(local_state, local_state == 'CLOSED' and 0 or local_level)
elseif changed and known == epoch then
  if state == 'CLOSED' and local_state == 'OPEN' then
    move('OPEN', 0)
  elseif state == 'HALF_OPEN' and holder == writer and local_state == 'CLOSED' then
    move('CLOSED', 0)
  elseif state == 'HALF_OPEN' and holder == writer and local_state == 'OPEN' then
    move('OPEN', level + 1)
  end
end
if state == 'OPEN' and now >= until_ms and local_state == 'HALF_OPEN' then
  move('HALF_OPEN', level)
elseif state == 'HALF_OPEN' and now >= until_ms then
  move('OPEN', level + 1)
end

local mine = {'c:' .. writer, 'f:' .. writer, 's:' .. writer, 'x:' .. writer}
if state == 'CLOSED' and known == epoch then
  redis.call('HSET', writers, mine[1], calls, mine[2], failed, mine[3], slow, mine[4], now + writer_ttl)
  local all = redis.call('HGETALL', writers)
  local values = {}
  for j = 1, #all, 2 do
    values[all[j]] = all[j + 1]
  end
  local total, failures, slows = 0, 0, 0
  for field, value in pairs(values) do
    local who = string.match(field, '^x:(.*)$')
    if who then
      if tonumber(value) < now then
        redis.call('HDEL', writers, 'c:' .. who, 'f:' .. who, 's:' .. who, field)
      else
        total = total + tonumber(values['c:' .. who] or '0')
        failures = failures + tonumber(values['f:' .. who] or '0')
        slows = slows + tonumber(values['s:' .. who] or '0')
      end
    end
  end
  if total > 0 and total >= min_calls
      and (failures * 100 / total >= failure_threshold or slows * 100 / total >= slow_threshold) then
    move('OPEN', 0)
  end
else
  redis.call('HDEL', writers, mine[1], mine[2], mine[3], mine[4])
end

redis.call('HSET', state_key, 'geometry', geometry, 'state', state, 'epoch', epoch, 'level', level,
  'until', until_ms, 'holder', holder)
local left = -1
if state == 'OPEN' or state == 'HALF_OPEN' then
  left = math.max(until_ms - now, 0)
end
return {time[1], time[2], state, epoch, level, left, holder == writer and 1 or 0}
"""
