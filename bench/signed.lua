-- wrk script for bench/wrk.ts: replays pre-signed protocol-v1 reports, each nonce once.
--
--   wrk -t2 -c64 -d8s -s bench/signed.lua http://127.0.0.1:PORT -- DIR
--
-- DIR holds head.txt (request line and constant headers), body.json (the report every request
-- carries) and signed-<thread>.txt: one "client timestamp nonce signature" line per request, so
-- each wrk thread replays its own share. All the work is done in init(); request() only joins
-- three strings. A thread that runs out starts again from its first line (the server then answers
-- 401 to the replays, which wrk counts as status errors), and done() reports how often.
-- wrk's Lua is LuaJIT (Lua 5.1).

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local requests = {}
local count = 0
local next_index = 0
local head, tail

local function read(path)
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

function init(args)
  local dir = args[1]
  local body = read(dir .. "/body.json")
  head = read(dir .. "/head.txt")
  tail = "Content-Length: " .. #body .. "\r\n\r\n" .. body
  for line in io.lines(dir .. "/signed-" .. id .. ".txt") do
    local client, ts, nonce, sig = line:match("^(%S+) (%S+) (%S+) (%S+)$")
    count = count + 1
    requests[count] = "Sentinel-Client: " .. client .. "\r\nSentinel-Timestamp: " .. ts ..
      "\r\nSentinel-Nonce: " .. nonce .. "\r\nSentinel-Signature: v1=" .. sig .. "\r\n"
  end
  wrapped = 0
end

function request()
  next_index = next_index + 1
  if next_index > count then
    next_index = 1
    wrapped = wrapped + 1
  end
  return head .. requests[next_index] .. tail
end

function done(summary, latency, _)
  local wraps = 0
  for _, t in ipairs(threads) do
    wraps = wraps + (t:get("wrapped") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"wrapped":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout, wraps))
end
