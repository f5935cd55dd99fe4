-- bench/layers.lua: scripts/run.lua, unchanged, over a root of several
-- lower layers.
--
--   build/wbl bench/layers.lua LOWER[:LOWER...] [run.lua OPTIONS] COMMAND...
--
-- run.lua takes one layer (--rootfs DIR, --image NAME: one directory
-- each), so the benchmark's layer rows go through this shim: it makes
-- wbl.image.lowers return the given directories (top first) and runs
-- scripts/run.lua with the remaining arguments.  Everything else (the
-- write layer, the overlay mount by core.overlay, teardown) is run.lua's.
local wbl = require "wbl"

local lowers = {}
for d in (arg[1] or ""):gmatch("[^:]+") do lowers[#lowers + 1] = d end
if #lowers == 0 then
  io.stderr:write("usage: wbl bench/layers.lua LOWER[:LOWER...] [run.lua OPTIONS] COMMAND...\n")
  os.exit(125)
end

wbl.image.lowers = function() return lowers end

local script = wbl.home .. "/scripts/run.lua"
local args = { [0] = script }
for i = 2, #arg do args[i - 1] = arg[i] end
arg = args -- luacheck: ignore (run.lua reads the global arg)
local chunk = assert(loadfile(script))
return chunk(table.unpack(args))
