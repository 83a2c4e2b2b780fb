-- wrk script: one refresh-token rotation chain per thread (run with -t N -c N so each thread has
-- one connection and its requests are sequential). Tokens come from tokens.txt, one per line.
-- TOKEN_PATH is the token endpoint's path (default ssobridge's /oauth/token; the peers': /token).
local threads = {}
local counter = 1

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local i, f = 0, io.open(os.getenv("TOKENS") or "tokens.txt")
  for line in f:lines() do
    i = i + 1
    if i == id then token = line end
  end
  f:close()
  auth = "Basic " .. os.getenv("BASIC")
  path = os.getenv("TOKEN_PATH") or "/oauth/token"
  failures = 0
end

function request()
  return wrk.format("POST", path,
    {["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth},
    "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, headers, body)
  if status == 200 then
    token = string.match(body, '"refresh_token":"([^"]+)"')
  else
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local f = t:get("failures")
    if f and f > 0 then print("thread " .. t:get("id") .. ": " .. f .. " failed responses") end
  end
end
