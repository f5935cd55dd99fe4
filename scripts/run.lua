-- scripts/run.lua: run a command in a new container.
--
--   wbl scripts/run.lua [OPTIONS] [--] COMMAND [ARG...]
--
-- The docker-style front end, read top to bottom: parse the options,
-- describe the container (a spec, wbl.docker), make it (create.lua, next
-- to this file: state, layer, cgroups, network, the child waiting in its
-- namespaces), start it, wait, destroy it.  What happens inside the
-- container is init.lua and process.lua, next to this file too.
local wbl = require "wbl"
local step = wbl.step

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local usage = "wbl scripts/run.lua [OPTIONS] [--] COMMAND [ARG...]"

-- 1. Options.  Bad values are reported before anything is created.
local opts, cmd = wbl.args.parse(wbl.docker.options, arg)
if not opts then
  io.stderr:write("wbl: ", cmd, "\n", "Try: wbl scripts/run.lua --help\n")
  os.exit(125)
end
if opts.help then
  io.stdout:write(wbl.args.help(usage, wbl.docker.options,
    "Exit status: the command's; 128+N if killed by signal N; 125 if wbl\n" ..
    "failed; 126 if COMMAND cannot be run; 127 if it is not found."))
  os.exit(0)
end
if #cmd == 0 then
  io.stderr:write("wbl: no command given\nusage: ", usage, "\n")
  os.exit(125)
end

-- 2. The container: what it is (a spec, OCI-shaped), and its id.
local id = opts.name or wbl.container.new_id()
local spec, msg = wbl.docker.spec(opts, cmd, id)
if not spec then
  io.stderr:write("wbl: ", msg, "\n")
  os.exit(125)
end
local c = wbl.container.new(spec, id)

-- 3. Make it, start it, wait: signals to wbl go to the container's PID 1.
local ok, status = xpcall(function()
  step("load create.lua", loadfile(here .. "/create.lua"))(c, here)
  step("start", wbl.container.start(c))
  local status = step("wait", wbl.container.wait(c))
  step("hook exited", wbl.hooks.run(c, "exited"))
  return status
end, wbl.handler)
if not ok then io.stderr:write("wbl: ", wbl.describe(status), "\n") end

-- 4. Destroy it, on every path: what the state says was made.
local done, err = wbl.container.destroy(c)
if not done then io.stderr:write("wbl: teardown: ", err, "\n") end
os.exit(ok and status or 125)
