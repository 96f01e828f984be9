-- Cycle over the paths in BENCH_PATHS (one per line in the file wrk is given with -s),
-- optionally with a Cookie header (BENCH_COOKIE). Each wrk thread starts at its own offset.
local paths = {}
local cookie = os.getenv("BENCH_COOKIE")
for line in io.lines(os.getenv("BENCH_PATHS")) do
  paths[#paths + 1] = line
end
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("offset", counter * 37)
end

function init(args)
  index = offset or 0
  if cookie and cookie ~= "" then
    wrk.headers["Cookie"] = cookie
  end
end

function request()
  index = index + 1
  return wrk.format("GET", paths[(index % #paths) + 1])
end
