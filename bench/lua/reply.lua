-- POST a reply with the member's session and CSRF token, a unique idempotency key each time,
-- to threads cycled from BENCH_PATHS (the reply URLs). A 303 is the expected answer. Each
-- body differs: the content gate refuses the same text twice in a row from one author.
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do
  paths[#paths + 1] = line
end
local cookie = os.getenv("BENCH_COOKIE")
local csrf = os.getenv("BENCH_CSRF")
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
end

function init(args)
  index = 0
  wrk.headers["Cookie"] = cookie
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
  index = index + 1
  local body = "_csrf_token=" .. csrf
    .. "&idempotency_key=bench" .. id .. "x" .. index .. "x" .. os.time()
    .. "&body=Merci+pour+ton+message+" .. id .. "-" .. index
    .. "%2C+je+me+reconnais+beaucoup+dans+ce+que+tu+d%C3%A9cris."
  return wrk.format("POST", paths[(index % #paths) + 1], nil, body)
end

function done(summary, latency, requests)
  io.write(string.format("BENCH_STATUS errors=%d\n", summary.errors.status))
end
