-- scripts/stop.lua: stop running containers.
--
--   wbl stop [-t SECONDS] NAME...
--
-- SIGTERM to PID 1, then SIGKILL after the grace period (default 10 s),
-- as docker does; returns once the container is torn down (by whoever
-- manages it: its supervisor, or the wbl running it in the foreground).
-- A stopped container is not restarted by --restart.
local wbl = require "wbl"
local cli = wbl.cli

local opts, names = cli.parse("wbl stop [-t SECONDS] NAME...", {
  { "t", "time", arg = "SECONDS", check = wbl.args.check.int(0, 86400),
    help = "the grace period before SIGKILL (default 10)" },
}, arg)
if #names == 0 then cli.die("stop needs a container name or id") end
local grace = (opts.time or 10) * 1000
local failed = false
for _, ref in ipairs(names) do
  local c, msg = cli.find(ref)
  if not c then
    io.stderr:write("wbl: ", msg, "\n")
    failed = true
  else
    wbl.core.fs.write_file(c.state_dir .. "/stop", "") -- for its supervisor: no restart
    if wbl.state.running(c) then
      wbl.container.kill(c, "SIGTERM")
      if not cli.wait_until(function() return not wbl.state.running(c) end, grace) then
        wbl.container.kill(c, "SIGKILL")
      end
    end
    -- until its manager has torn it down
    cli.wait_until(function() return not wbl.state.alive(wbl.state.load(c.id) or c) end, 10000)
    print(ref)
  end
end
os.exit(failed and 1 or 0)
