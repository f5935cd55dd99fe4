-- scripts/rm.lua: remove stopped containers: their state and write layer.
--
--   wbl rm [-f] NAME...
--
-- A running container is refused unless -f (then it is killed first).
-- A write layer whose state is gone (the state root is a tmpfs: a reboot)
-- is removed by its name too.
local wbl = require "wbl"
local cli = wbl.cli

local opts, names = cli.parse("wbl rm [-f] NAME...", {
  { "f", "force", help = "kill a running container first" },
}, arg)
if #names == 0 then cli.die("rm needs a container name or id") end
local failed = false
local function fail(msg)
  io.stderr:write("wbl: ", msg, "\n")
  failed = true
end
for _, ref in ipairs(names) do
  local c, msg = cli.find(ref)
  if not c then
    local layer = wbl.image.get_layer(ref) -- no state, a layer: after a reboot
    if layer then
      local ok, m, en = wbl.util.rm_rf(layer.dir)
      if ok then print(ref) else fail(wbl.message(m, en)) end
    else
      fail(msg)
    end
  elseif wbl.state.alive(c) and not opts.force then
    fail(("container %s is running: stop it first (wbl stop %s), or rm -f"):format(c.id, c.id))
  else
    if wbl.state.alive(c) then
      wbl.core.fs.write_file(c.state_dir .. "/stop", "")
      if wbl.state.running(c) then wbl.container.kill(c, "SIGKILL") end
      cli.wait_until(function() return not wbl.state.alive(wbl.state.load(c.id) or c) end, 10000)
      c = wbl.state.load(c.id) or c
    end
    c.state_made = true
    local ok, err = wbl.container.destroy(c, { remove = true })
    if ok then print(ref) else fail(err) end
  end
end
os.exit(failed and 1 or 0)
