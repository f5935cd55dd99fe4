-- scripts/cleanup.lua: remove what dead containers left behind.
--
--   wbl scripts/cleanup.lua [ID...]
--
-- A container whose wbl was killed (SIGKILL, a crash, a reboot of the
-- state directory's owner) leaves its state directory, and whatever the
-- state lists (cgroups, network links and addresses, write layers).  This
-- removes them, for the containers named, or for every container whose
-- wbl is gone.  Safe to run at any time, and twice: what is already gone
-- counts as removed.  Live containers are never touched.
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
local function report(what, ok, msg, errno)
  if not ok then
    failed = true
    io.stderr:write(("wbl cleanup: %s: %s%s\n"):format(what, tostring(msg),
      errno and wbl.errno_name(errno) and (" (" .. wbl.errno_name(errno) .. ")") or ""))
  end
end

for _, id in ipairs(wbl.container.reap(not all and names or nil, report)) do
  io.stdout:write(id, "\n")
end
-- The default network, when no container uses it and no reaper waits.
if all then report("default network", wbl.net.prune_default()) end
os.exit(failed and 1 or 0)
