-- scripts/cleanup.lua: remove what dead containers left behind.
--
--   wbl scripts/cleanup.lua [ID...]
--
-- A container whose wbl was killed (SIGKILL, a crash) leaves its state
-- directory, and whatever the state lists (cgroups, port mappings, a
-- lease, a --rm write layer).  This destroys them (wbl.container.destroy,
-- the teardown every run uses), for the containers named, or for every
-- container that is neither running nor managed.  run.lua and network.lua
-- do the same first, unasked.  Safe to run at any time, and twice: what
-- is already gone counts as removed.  Live containers are never touched.
-- Without IDs, also the default network and wbl's parent cgroup ("wbl")
-- when nothing uses them.
local wbl = require "wbl"

local names = {}
for _, a in ipairs(arg) do
  if a == "-h" or a == "--help" then
    io.stdout:write("usage: wbl scripts/cleanup.lua [ID...]\n",
      "Removes the leftovers of containers whose wbl is no longer running\n",
      "(all of them, or the IDs given).  Live containers are never touched.\n")
    os.exit(0)
  end
  names[a] = true
end
local all = next(names) == nil

local failed = false
local function report(what, ok, msg)
  if not ok then
    failed = true
    io.stderr:write(("wbl cleanup: %s: %s\n"):format(what, tostring(msg)))
  end
end

-- Containers neither running nor managed (wbl.container.reap), then the
-- default network when no container uses it and no reaper waits.
for _, id in ipairs(wbl.container.reap(not all and names or nil, report)) do
  io.stdout:write(id, "\n")
end
if all then
  local ok, msg, en = wbl.net.prune_default()
  report("default network", ok, ok or wbl.message(msg, en))
  -- wbl's parent cgroup ("wbl"), where no container is left in it
  ok, msg, en = wbl.cgroup.prune()
  report("cgroups", ok, ok or wbl.message(msg, en))
end
os.exit(failed and 1 or 0)
