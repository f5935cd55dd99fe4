-- scripts/run.lua: run a command in a new container.
--
--   wbl scripts/run.lua [OPTIONS] [--] COMMAND [ARG...]
--
-- The docker-style front end, read top to bottom: parse the options,
-- describe the container (a spec, wbl.docker), make it (create.lua, next
-- to this file: state, layer, cgroups, network, the child waiting in its
-- namespaces), start it, wait, destroy it.  What happens inside the
-- container is init.lua and process.lua, next to this file too.

-- A start makes little garbage and is over in milliseconds: the Lua
-- collector stays off (its passes would cost more than they free);
-- wbl.container.wait turns it on where a long life begins (-t, -d).
collectgarbage("stop")
local wbl = require "wbl"

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
if #cmd == 0 and not opts.image then -- an image may give the command
  io.stderr:write("wbl: no command given\nusage: ", usage, "\n")
  os.exit(125)
end

-- 2. The container: what it is (a spec, OCI-shaped), its id and name.
local full_id = wbl.container.new_id()
local id = opts.name or full_id:sub(1, 12)
-- The image, if any (a tarball is imported into the store, once): its
-- config gives the command, environment, workdir and user the options
-- leave out.
local image
if opts.image and not opts.rootfs then -- (both: wbl.docker says no)
  local m, en
  image, m, en = wbl.image.resolve(opts.image)
  if not image then
    io.stderr:write("wbl: image ", opts.image, ": ", wbl.message(m, en), "\n")
    os.exit(125)
  end
  opts.image = image.name
end
local spec, msg = wbl.docker.spec(opts, cmd, id, image)
if not spec then
  io.stderr:write("wbl: ", msg, "\n")
  os.exit(125)
end
local c = wbl.container.new(spec, id, full_id)

-- One life of the container (wbl.container.life): make it (create.lua,
-- next to this file), start it, wait for its end; signals to wbl go on
-- to its PID 1.
local function run(ctr, ready) return wbl.container.life(ctr, here, ready) end

-- 3. Detached (-d): a supervisor of its own runs it (again, as --restart
-- says) and keeps its output (wbl logs); we print its id once it runs.
if opts.detach then
  local ok, err = wbl.supervisor.detach(c, function(ctr, ready)
    return wbl.supervisor.supervise(ctr, run, ready)
  end)
  if not ok then
    io.stderr:write("wbl: ", err, "\n")
    os.exit(125)
  end
  print(c.full_id)
  os.exit(0)
end

-- 3. In the foreground.
local ok, status = xpcall(run, wbl.handler, c)
if not ok then io.stderr:write("wbl: ", wbl.describe(status), "\n") end

-- 4. The end, on every path: what the state says was made goes.  A
-- container that ran stays stopped (wbl ps -a, logs, start, commit), as
-- docker keeps it, unless --rm; one that failed to start leaves nothing.
local done, err
if ok then done, err = wbl.container.finish(c, status) else done, err = wbl.container.destroy(c) end
if not done then io.stderr:write("wbl: teardown: ", err, "\n") end
os.exit(ok and status or 125)
