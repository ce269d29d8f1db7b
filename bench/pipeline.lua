-- wrk script: HTTP/1.1 pipelining. Every write carries DEPTH requests (default
-- 16) for PATH (default "/"); wrk counts each of the DEPTH responses.
--   wrk -s bench/pipeline.lua URL -- [DEPTH] [PATH]
local batch

function init(args)
  local depth = tonumber(args[1]) or 16
  local path = args[2] or "/"
  local reqs = {}
  for i = 1, depth do
    reqs[i] = wrk.format("GET", path)
  end
  batch = table.concat(reqs)
end

function request()
  return batch
end
