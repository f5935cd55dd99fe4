-- examples/hooks/timings.lua: print how long each step took, to stderr.
--   wbl scripts/run.lua --hook examples/hooks/timings.lua --rm true
local t0, last
local function mark(point)
  return function(c, wbl)
    local now = wbl.core.monotonic_ns()
    t0, last = t0 or now, last or now
    io.stderr:write(("hook %-8s %7.2f ms (+%.2f) %s\n"):format(point, (now - t0) / 1e6, (now - last) / 1e6, c.id))
    last = now
  end
end
local hooks = {}
for _, p in ipairs { "created", "cloned", "network", "root", "pivot", "exec", "exited" } do hooks[p] = mark(p) end
return hooks
