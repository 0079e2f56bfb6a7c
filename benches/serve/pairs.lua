-- wrk script: each connection alternates a reservation and the commit of what it reserved,
-- so every two requests are one reserve+commit pair. Usage (see benches/serve/run.sh):
--   wrk -t2 -c32 -d20s -s benches/serve/pairs.lua --latency http://127.0.0.1:7878
local counter = 0
local pending = nil

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  key = os.getenv("CYCLES_API_KEY")
  n = 0
end

function request()
  n = n + 1
  local headers = { ["Content-Type"] = "application/json", ["X-Cycles-API-Key"] = key }
  if pending then
    local rid = pending
    pending = nil
    return wrk.format("POST", "/v1/reservations/" .. rid .. "/commit", headers,
      '{"idempotency_key":"c' .. id .. '-' .. n .. '","actual":{"unit":"TOKENS","amount":1}}')
  end
  return wrk.format("POST", "/v1/reservations", headers,
    '{"idempotency_key":"r' .. id .. '-' .. n .. '","subject":{"tenant":"dev"},' ..
    '"action":{"kind":"bench","name":"pair"},"estimate":{"unit":"TOKENS","amount":2}}')
end

function response(status, headers, body)
  if status ~= 200 then
    io.stderr:write("status " .. status .. ": " .. body .. "\n")
    return
  end
  local rid = body:match('"reservation_id":"([^"]+)"')
  if rid then pending = rid end
end
