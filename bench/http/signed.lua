-- signed.lua - wrk -s: the signed requests of bench/http/run.sh, cycled.
-- The file (lines TARGET<TAB>AUTHORIZATION<TAB>BODY, sign.py) is named by the environment
-- variable HMACD_BENCH_REQUESTS; every thread reads it and starts at its own offset.
local reqs = {}
local n = 0
local i = 0

function setup(thread)
   thread:set("offset", math.random(0, 100000))
end

function init(args)
   local path = os.getenv("HMACD_BENCH_REQUESTS")
   for line in io.lines(path) do
      local target, auth, body = line:match("^([^\t]*)\t([^\t]*)\t([^\r\n]*)")
      n = n + 1
      reqs[n] = wrk.format("POST", target, {
         ["Content-Type"] = "application/json",
         ["Authorization"] = auth,
      }, body)
   end
   i = (offset or 0) % n
end

function request()
   i = i % n + 1
   return reqs[i]
end
