"""The Lua scripts the Redis backend runs: each is one atomic step on one hash slot.

Every key a script touches is passed in ``KEYS`` and carries the entity's hash tag
(``{<namespace>:slo:<name>}``), so they all live in one slot of a Redis Cluster.
"""

from __future__ import annotations


def is_response_error(err: Exception) -> bool:
    """Whether Redis answered with an error (a script's fault), rather than not at all (an
    outage, which a retry or the next flush may get past)."""
    try:
        import redis
    except ImportError:  # pragma: no cover - the extra is installed wherever this runs
        return False
    return isinstance(err, redis.ResponseError)


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

-- HMGET and HSET/RPUSH over long lists, a few thousand arguments per call.
local function hmget(key, fields)
  local out = {}
  for start = 1, #fields, 4000 do
    local part = redis.call('HMGET', key, unpack(fields, start, math.min(start + 3999, #fields)))
    for _, v in ipairs(part) do out[#out + 1] = v end
  end
  return out
end
local function push(command, key, values)
  for start = 1, #values, 4000 do
    redis.call(command, key, unpack(values, start, math.min(start + 3999, #values)))
  end
end
-- The slot and lap tag of tier-0 bucket x in tier k.
local function locate(x, k)
  local ik = math.floor(x / 4 ^ k)
  return ik % n, math.floor(ik / n) + 1
end

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
  local count = tonumber(ARGV[13])
  local own = {}
  for j = 0, count - 1 do
    own[2 * j + 1] = 'g' .. ARGV[14 + 3 * j]
    own[2 * j + 2] = 'b' .. ARGV[14 + 3 * j]
  end
  local before = hmget(writer, own)
  local updates, changed, deltas, ids = {'seq', seq}, {}, {}, {}
  for j = 0, count - 1 do
    local index = ARGV[14 + 3 * j]
    local good, bad = tonumber(ARGV[15 + 3 * j]), tonumber(ARGV[16 + 3 * j])
    local dg = math.max(good - tonumber(before[2 * j + 1] or '0'), 0)
    local db = math.max(bad - tonumber(before[2 * j + 2] or '0'), 0)
    local u = #updates
    updates[u + 1], updates[u + 2], updates[u + 3], updates[u + 4] = own[2 * j + 1], good, own[2 * j + 2], bad
    if dg > 0 or db > 0 then
      changed[#changed + 1] = index
      local x = tonumber(index)
      for k = 0, tiers - 1 do
        -- Deltas are summed per slot of each tier; a newer lap in the batch replaces an older.
        local slot, tag = locate(x, k)
        local id = k * n + slot
        local d = deltas[id]
        if d == nil then
          d = {tag, 0, 0}
          deltas[id] = d
          ids[#ids + 1] = id
        elseif d[1] < tag then
          d[1], d[2], d[3] = tag, 0, 0
        end
        if d[1] == tag then
          d[2], d[3] = d[2] + dg, d[3] + db
        end
      end
    end
  end
  if #ids > 0 then
    local fields, names = {}, {}
    for m, id in ipairs(ids) do
      local name = math.floor(id / n) .. ':' .. (id % n)
      names[m] = name
      fields[3 * m - 2], fields[3 * m - 1], fields[3 * m] = 't' .. name, 'g' .. name, 'b' .. name
    end
    local current = hmget(fleet, fields)
    local sets = {}
    for m, id in ipairs(ids) do
      local d = deltas[id]
      local t = tonumber(current[3 * m - 2] or '0')
      local g, b = tonumber(current[3 * m - 1] or '0'), tonumber(current[3 * m] or '0')
      if t == d[1] then
        g, b = g + d[2], b + d[3]
      elseif t < d[1] then
        t, g, b = d[1], d[2], d[3]
      end
      local z = #sets
      sets[z + 1], sets[z + 2], sets[z + 3] = fields[3 * m - 2], t, fields[3 * m - 1]
      sets[z + 4], sets[z + 5], sets[z + 6] = g, fields[3 * m], b
    end
    push('HSET', fleet, sets)
    push('RPUSH', log, changed)
    redis.call('HINCRBY', fleet, 'logn', #changed)
  end
  push('HSET', writer, updates)
  local i = 14 + 3 * count
  local forgotten = {}
  for _ = 1, tonumber(ARGV[i]) do
    i = i + 1
    forgotten[#forgotten + 1] = 'g' .. ARGV[i]
    forgotten[#forgotten + 1] = 'b' .. ARGV[i]
  end
  if ARGV[9] == '1' then
    local oldest = tonumber(ARGV[10])
    for _, field in ipairs(redis.call('HKEYS', writer)) do
      local index = string.match(field, '^[gb](%d+)$')
      if index and tonumber(index) < oldest then forgotten[#forgotten + 1] = field end
    end
  end
  push('HDEL', writer, forgotten)
  redis.call('LTRIM', log, -cap, -1)
end
redis.call('PEXPIRE', writer, ARGV[4])
redis.call('PEXPIRE', fleet, ARGV[5])
redis.call('PEXPIRE', log, ARGV[5])

local logn = tonumber(redis.call('HGET', fleet, 'logn'))
local reply = {time[1], time[2], applied, status, created, logn}
local pending = logn - cursor
if cursor == 0 or created ~= known_created or cursor > logn or pending > redis.call('LLEN', log) then
  reply[#reply + 1] = 'full'
  local all = redis.call('HGETALL', fleet)
  local values = {}
  for j = 1, #all, 2 do
    values[all[j]] = all[j + 1]
  end
  for j = 1, #all, 2 do
    local k, slot = string.match(all[j], '^t(%d+):(%d+)$')
    if k then
      local key = k .. ':' .. slot
      for _, v in ipairs({k, slot, all[j + 1], values['g' .. key] or '0', values['b' .. key] or '0'}) do
        reply[#reply + 1] = v
      end
    end
  end
  return reply
end
reply[#reply + 1] = 'delta'
if pending > 0 then
  local seen, ids, fields = {}, {}, {}
  for _, index in ipairs(redis.call('LRANGE', log, -pending, -1)) do
    local x = tonumber(index)
    for k = 0, tiers - 1 do
      local id = k * n + locate(x, k)
      if not seen[id] then
        seen[id] = true
        ids[#ids + 1] = id
        local name = k .. ':' .. (id % n)
        local f = #fields
        fields[f + 1], fields[f + 2], fields[f + 3] = 't' .. name, 'g' .. name, 'b' .. name
      end
    end
  end
  local values = hmget(fleet, fields)
  for m, id in ipairs(ids) do
    local r = #reply
    reply[r + 1], reply[r + 2] = math.floor(id / n), id % n
    reply[r + 3], reply[r + 4] = values[3 * m - 2] or '0', values[3 * m - 1] or '0'
    reply[r + 5] = values[3 * m] or '0'
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

#: One round trip of a fleet ledger's operations: appends their entries (none for a read) to
#: the journal, stamped with Redis's time (never before the last entry's), and answers the
#: entries after the caller's cursor. The writer's key remembers its last sequence number and
#: the number its first entry got, so a retried call (redis-py retries on timeouts) appends
#: nothing twice.
#:
#: KEYS: the ledger's hash, its journal (a list of ``"<time ms> <token> <entry>"``, the token
#: ``<writer>:<writer seq>.<i>``, unique), the writer's key.
#: ARGV: the caller's instance, its cursor, the token of its cursor's entry, writer id,
#: writer seq, geometry, writer ttl ms, settle ms, then the entries (none for a read).
#:
#: The hash holds ``id`` (the journal's instance), ``head`` (entries so far), ``base`` (the
#: entries the snapshot holds, dropped from the list), ``time`` (the last entry's), ``bytes``
#: (the list's), ``snap``/``snaptime``/``snaptoken``/``snapbytes`` (the snapshot),
#: ``seeded`` (when it was seeded again after Redis lost it) and ``geometry``.
#:
#: For ``settle`` ms after a seed, hosts with a longer history than the seed's may replace it
#: (they are answered ``wiped``), and no entry is appended (``settling``): every host finds
#: the loss within one flush interval, so the fleet goes on from the longest history any
#: host had applied. A journal a host with no history makes is a seed too (of no entries):
#: such a host, arriving just after Redis lost the journal, cannot tell a new ledger from a
#: lost one.
#:
#: An answer is full (from the snapshot) when the cursor is of another instance, before the
#: snapshot, past the head, or at an entry of another token: Redis lost entries the caller
#: had applied (restarted behind, failed over to a replica behind).
#:
#: Reply: ``{"wiped"}`` when the caller's cursor follows a journal Redis lost (or a longer
#: history than a settling seed's), ``{"settling", ms left}`` for an entry sent while a seed
#: settles,
#: ``{"geometry", theirs}`` for a ledger of another retention,
#: ``{"stale"}`` for a writer seq older than the last one applied, else ``{"ok", id, own
#: (the first entry's number, 0 if none),
#: first, bytes, snapbytes, full (1/0), snapshot seq or false, time, token, text, {entries}}``.
LEDGER_SEQUENCE = """
local meta, log, writer = KEYS[1], KEYS[2], KEYS[3]
local instance, after, token = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local writer_id, wseq, geometry, writer_ttl = ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local settle, entries = tonumber(ARGV[8]), #ARGV - 8
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local m = redis.call('HMGET', meta, 'id', 'head', 'base', 'time', 'geometry', 'bytes',
  'snapbytes', 'seeded', 'snaptoken')
local id = m[1]
if not id then
  if after > 0 then return {'wiped'} end
  id = t[1] .. '.' .. t[2] .. '.' .. writer_id
  local seeded = string.format('%d', now)
  redis.call('HSET', meta, 'id', id, 'head', 0, 'base', 0, 'time', 0, 'geometry', geometry,
    'bytes', 0, 'snapbytes', 0, 'seeded', seeded)
  m = {id, '0', '0', '0', geometry, '0', '0', seeded, false}
end
if m[5] ~= geometry then return {'geometry', m[5]} end
local head, base, last, bytes = tonumber(m[2]), tonumber(m[3]), tonumber(m[4]), tonumber(m[6])
local left = m[8] and tonumber(m[8]) + settle - now
if left and left > 0 then
  if instance ~= id and after > base then return {'wiped'} end
  if entries > 0 then return {'settling', left} end
end
local full = instance ~= id or after < base or after > head
if not full and after > 0 then
  local theirs = m[9] or ''
  if after > base then
    theirs = string.match(redis.call('LINDEX', log, after - base - 1), '^%d+ (%S+) ') or ''
  end
  full = theirs ~= token
end
local own = 0
if entries > 0 then
  local prior = redis.call('GET', writer)
  if prior then
    local pseq, pnum, pid = string.match(prior, '^(%d+) (%d+) (.*)$')
    if pid == id then
      if tonumber(pseq) == wseq then own = tonumber(pnum)
      elseif tonumber(pseq) > wseq then return {'stale'} end
    end
  end
  if own == 0 then
    if now < last then now = last end
    own = head + 1
    local lines = {}
    for i = 1, entries do
      lines[i] = string.format('%d %s:%d.%d ', now, writer_id, wseq, i) .. ARGV[8 + i]
      bytes = bytes + #lines[i]
    end
    redis.call('RPUSH', log, unpack(lines))
    head = head + entries
    redis.call('HSET', meta, 'head', head, 'time', string.format('%d', now), 'bytes', bytes)
    redis.call('HDEL', meta, 'seeded')
    redis.call('SET', writer, string.format('%d %d ', wseq, own) .. id, 'PX', writer_ttl)
  end
end
local snapseq, snaptime, snaptoken, snap = false, false, false, false
local first = after + 1
if full then
  first = base + 1
  if base > 0 then
    local s = redis.call('HMGET', meta, 'snap', 'snaptime', 'snaptoken')
    snapseq, snap, snaptime, snaptoken = base, s[1], tonumber(s[2]), s[3]
  end
end
local entries = redis.call('LRANGE', log, first - base - 1, -1)
return {'ok', id, own, first, bytes, tonumber(m[7]), full and 1 or 0, snapseq, snaptime,
  snaptoken, snap, entries}
"""

#: Starts a journal Redis lost again from a host's state: when the journal is missing, or a
#: seed of a shorter history is still settling (see ``LEDGER_SEQUENCE``).
#:
#: KEYS: the ledger's hash, its journal. ARGV: writer id, geometry, seq, time, token, text,
#: settle ms.
#: Reply: 1 if seeded, 0 if not.
LEDGER_SEED = """
local meta, log = KEYS[1], KEYS[2]
local seq = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local m = redis.call('HMGET', meta, 'id', 'seeded', 'base')
local settling = m[2] and now < tonumber(m[2]) + tonumber(ARGV[7]) and seq > tonumber(m[3])
if m[1] and not settling then return 0 end
local id = t[1] .. '.' .. t[2] .. '.' .. ARGV[1]
local seeded = m[2] or string.format('%d', now)
redis.call('DEL', log)
redis.call('HSET', meta, 'id', id, 'head', seq, 'base', seq, 'time', ARGV[4], 'geometry', ARGV[2],
  'bytes', 0, 'snap', ARGV[6], 'snaptime', ARGV[4], 'snaptoken', ARGV[5], 'snapbytes', #ARGV[6],
  'seeded', seeded)
return 1
"""

#: Replaces the journal's first entries by a host's state after them.
#:
#: KEYS: the ledger's hash, its journal. ARGV: instance, seq, time, token, state text.
#: Reply: 1 if replaced, 0 if the journal moved on (another instance, a newer snapshot, or
#: another entry at that number).
LEDGER_COMPACT = """
local meta, log = KEYS[1], KEYS[2]
local seq = tonumber(ARGV[2])
local m = redis.call('HMGET', meta, 'id', 'head', 'base', 'bytes')
if m[1] ~= ARGV[1] or seq <= tonumber(m[3]) or seq > tonumber(m[2]) then return 0 end
local n = seq - tonumber(m[3])
local dropped = redis.call('LRANGE', log, 0, n - 1)
if string.match(dropped[n], '^%d+ (%S+) ') ~= ARGV[4] then return 0 end
local size = 0
for _, line in ipairs(dropped) do size = size + #line end
redis.call('LTRIM', log, n, -1)
redis.call('HSET', meta, 'base', seq, 'snap', ARGV[5], 'snaptime', ARGV[3], 'snaptoken', ARGV[4],
  'snapbytes', #ARGV[5], 'bytes', tonumber(m[4]) - size)
return 1
"""

#: Takes or renews a lease: the one host that sweeps a ledger's expired holds and compacts its
#: journal. KEYS: the lease. ARGV: holder, ms. Reply: 1 if held by the caller (else 0), and
#: Redis's TIME (seconds, microseconds).
LEASE = """
local t = redis.call('TIME')
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, t[1], t[2]} end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, t[1], t[2]}
end
return {0, t[1], t[2]}
"""

#: One route's flush: applies a writer's changed slots and totals (absolute figures: the
#: difference from what this writer last applied is added to the fleet's, so a batch applied
#: twice adds nothing more), and answers the fleet's slots and totals changed since the
#: reader's cursor. Line formats are in ``burnguard_core::routes::fleet``.
#:
#: KEYS: the fleet's totals hash (also ``created``, the version ``v``, ``d<slot>`` the version
#: each slot last changed in, ``dt`` the totals'), the writer's totals hash, the table's set
#: of route keys, the fleet's hash of every slot (``slots`` of them), then the writer's hash of
#: each slot line sent.
#: ARGV: cursor, writer ttl ms, fleet ttl ms, slots, the writer's known ``created``, the route's
#: key, the totals line ("" if unchanged), then the slot lines.
#:
#: Fleet slot hash: ``t`` (the lap's tag), ``n e b u`` (requests, errors, bytes, microseconds),
#: ``m`` (the slowest, seconds), ``h<i>`` (sketch counts). A writer's: the same absolute
#: figures, with ``c`` (the fleet's ``created`` they were applied under).
#:
#: Reply: status (``ok``, or ``reset`` when the writer's ``created`` is not the fleet's: it
#: resends everything), created, version, the totals line or false, then slot lines.
ROUTE_FLUSH = """
local ft, wt, keys_set = KEYS[1], KEYS[2], KEYS[3]
local cursor, wttl, fttl, S = tonumber(ARGV[1]), ARGV[2], ARGV[3], tonumber(ARGV[4])
local known, route, totals = ARGV[5], ARGV[6], ARGV[7]
local created = redis.call('HGET', ft, 'created')
if not created then
  local t = redis.call('TIME')
  created = t[1] .. '.' .. t[2]
  redis.call('HSET', ft, 'created', created, 'v', 0)
end
local status = (known == created) and 'ok' or 'reset'
redis.call('SADD', keys_set, route)
redis.call('PEXPIRE', keys_set, fttl)
local lines = #ARGV - 7
local v = tonumber(redis.call('HGET', ft, 'v') or '0')
if lines > 0 or totals ~= '' then v = redis.call('HINCRBY', ft, 'v', 1) end

-- Adds a writer's new absolute figures `new` (field -> number) to the fleet's `fk` as
-- differences from what it last applied (its hash `wk`, reset when `fresh`).
local function apply(fk, wk, new, fresh)
  if fresh then redis.call('DEL', wk) end
  local fields = {}
  for f in pairs(new) do fields[#fields + 1] = f end
  if #fields == 0 then return end
  local prev = redis.call('HMGET', wk, unpack(fields))
  local set = {'c', created}
  for j, f in ipairs(fields) do
    local d = new[f] - tonumber(prev[j] or '0')
    if d ~= 0 then redis.call('HINCRBY', fk, f, string.format('%d', d)) end
    set[#set + 1] = f
    set[#set + 1] = string.format('%d', new[f])
  end
  redis.call('HSET', wk, unpack(set))
  redis.call('PEXPIRE', wk, wttl)
end

local function bins(text, into)
  if text ~= '-' then
    for i, c in string.gmatch(text, '(%d+):(%d+)') do into['h' .. i] = tonumber(c) end
  end
  return into
end

for i = 1, lines do
  local f = {}
  for word in string.gmatch(ARGV[7 + i], '%S+') do f[#f + 1] = word end
  local slot, tag = tonumber(f[1]), tonumber(f[2])
  local fk, wk = KEYS[4 + slot], KEYS[3 + S + i]
  local ftag = tonumber(redis.call('HGET', fk, 't') or '0')
  if ftag <= tag then
    if ftag < tag then
      redis.call('DEL', fk)
      redis.call('HSET', fk, 't', tag)
    end
    local w = redis.call('HMGET', wk, 'c', 't')
    local fresh = w[1] ~= created or tonumber(w[2] or '0') ~= tag
    if fresh then
      redis.call('DEL', wk)
      redis.call('HSET', wk, 't', tag)
    end
    local cells = {n = tonumber(f[3]), e = tonumber(f[4]), b = tonumber(f[5]), u = tonumber(f[6])}
    apply(fk, wk, bins(f[8], cells), false)
    if tonumber(f[7]) > tonumber(redis.call('HGET', fk, 'm') or '0') then
      redis.call('HSET', fk, 'm', f[7])
    end
    redis.call('HSET', ft, 'd' .. slot, v)
    redis.call('PEXPIRE', fk, fttl)
  end
end

local CELLS = {'c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'er', 'by', 'us', 'dr', 'r0', 'r1'}
if totals ~= '' then
  local f = {}
  for word in string.gmatch(totals, '%S+') do f[#f + 1] = word end
  local new = bins(f[15], {})
  for j, name in ipairs(CELLS) do new[name] = tonumber(f[j]) end
  apply(ft, wt, new, redis.call('HGET', wt, 'c') ~= created)
  local first, last = tonumber(f[13]), tonumber(f[14])
  local ff = tonumber(redis.call('HGET', ft, 'first') or '0')
  if first > 0 and (ff == 0 or first < ff) then
    redis.call('HSET', ft, 'first', string.format('%d', first))
  end
  if last > tonumber(redis.call('HGET', ft, 'last') or '0') then
    redis.call('HSET', ft, 'last', string.format('%d', last))
  end
  redis.call('HSET', ft, 'dt', v)
end
redis.call('PEXPIRE', ft, fttl)

-- The reply: what changed since the cursor (everything for a cursor past the version: the
-- fleet's data was lost and made again).
if cursor > v then cursor = 0 end
local function content(key, head)
  local h = redis.call('HGETALL', key)
  local fields, out = {}, {}
  for j = 1, #h, 2 do fields[h[j]] = h[j + 1] end
  for j = 1, #h, 2 do
    local i = string.match(h[j], '^h(%d+)$')
    if i then out[#out + 1] = i .. ':' .. h[j + 1] end
  end
  return fields, head(fields) .. (#out > 0 and table.concat(out, ',') or '-')
end
local reply = {status, created, v, false}
if tonumber(redis.call('HGET', ft, 'dt') or '0') > cursor then
  local _, line = content(ft, function(x)
    local parts = {}
    for _, name in ipairs(CELLS) do parts[#parts + 1] = x[name] or '0' end
    parts[#parts + 1] = x['first'] or '0'
    parts[#parts + 1] = x['last'] or '0'
    return table.concat(parts, ' ') .. ' '
  end)
  reply[4] = line
end
local versions = {}
for slot = 0, S - 1 do versions[#versions + 1] = 'd' .. slot end
local changed = redis.call('HMGET', ft, unpack(versions))
for slot = 0, S - 1 do
  if tonumber(changed[slot + 1] or '0') > cursor then
    local _, line = content(KEYS[4 + slot], function(x)
      return table.concat({slot, x['t'] or '0', x['n'] or '0', x['e'] or '0', x['b'] or '0',
        x['u'] or '0', x['m'] or '0'}, ' ') .. ' '
    end)
    reply[#reply + 1] = line
  end
end
return reply
"""

#: Saves what `burnguard serve`'s admin API provisioned over the version it was read at.
#: KEYS: the hash (``version``, ``doc``). ARGV: the version read, the new document.
#: Reply: 1 if saved (as the next version), 0 if another server saved since.
PROVISIONED_SAVE = """
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'version', version + 1, 'doc', ARGV[2])
return 1
"""
