-- wrk script for bench/ingest.py: POSTs JSON bodies read from a file, in turn, and counts non-2xx answers.
--
-- wrk ... -s bench/post.lua <url> -- <bodies file> <delivery prefix>
-- Each line of the bodies file is a body, or "timestamp<TAB>signature<TAB>body" for a signed delivery;
-- signed deliveries also get a fresh X-Chatwoot-Delivery (not covered by the signature) per request.
-- done() prints one "BENCH-RESULT key=value ..." line that bench/ingest.py parses.

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  bodies, stamps, signatures = {}, {}, {}
  for line in io.lines(args[1]) do
    local stamp, signature, body = line:match("^(%d+)\t([^\t]+)\t(.*)$")
    if body then
      table.insert(bodies, body)
      stamps[#bodies], signatures[#bodies] = stamp, signature
    else
      table.insert(bodies, line)
    end
  end
  delivery_prefix = args[2] or "00000000"
  sent, ok, non2xx = 0, 0, 0
end

function request()
  sent = sent + 1
  local i = sent % #bodies + 1
  local headers = { ["Content-Type"] = "application/json" }
  if stamps[i] then
    headers["X-Chatwoot-Timestamp"] = stamps[i]
    headers["X-Chatwoot-Signature"] = "sha256=" .. signatures[i]
    headers["X-Chatwoot-Delivery"] =
      string.format("%s-%04x-4000-8000-%012x", delivery_prefix, thread_number, sent)
  end
  return wrk.format("POST", nil, headers, bodies[i])
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  else
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local total_ok, total_non2xx = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_non2xx = total_non2xx + thread:get("non2xx")
  end
  local errors = summary.errors
  io.write(string.format(
    "BENCH-RESULT requests=%d duration_us=%d ok=%d non2xx=%d p50_us=%d p99_us=%d"
      .. " connect_errors=%d read_errors=%d write_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, total_ok, total_non2xx,
    latency:percentile(50), latency:percentile(99),
    errors.connect, errors.read, errors.write, errors.timeout
  ))
end
