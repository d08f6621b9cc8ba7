-- wrk script for bench/repeats: POST /search with the bodies of
-- $RAGD_BENCH_QUERIES in file order, each of the (two) threads starting in
-- its own half, so no thread sends what the other already sent.
local threads = 0
local bodies = {}
local i = 0

function setup(thread)
   thread:set("id", threads)
   threads = threads + 1
end

function init(args)
   for line in io.lines(os.getenv("RAGD_BENCH_QUERIES")) do
      bodies[#bodies + 1] = line
   end
   i = id * math.floor(#bodies / 2)
end

function request()
   i = i % #bodies + 1
   return wrk.format("POST", "/search", {["Content-Type"] = "application/json"}, bodies[i])
end
