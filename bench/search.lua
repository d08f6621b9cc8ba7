-- wrk script: POST /search with queries read from $RAGD_BENCH_QUERIES (one
-- JSON request body per line), each thread starting at a different offset.
local bodies = {}
local i = 0

function init(args)
   local path = os.getenv("RAGD_BENCH_QUERIES")
   for line in io.lines(path) do
      bodies[#bodies + 1] = line
   end
   i = math.random(#bodies)
end

function request()
   i = i % #bodies + 1
   return wrk.format("POST", "/search", {["Content-Type"] = "application/json"}, bodies[i])
end
