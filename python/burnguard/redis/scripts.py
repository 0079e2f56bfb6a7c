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
  return redis.error_reply('BURNGUARD geometry: the SLO is shared under this name with another definition')
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
