-- scripts/run.lua: run a command in a new container.
--
--   wbl scripts/run.lua [OPTIONS] [--] COMMAND [ARG...]
--
-- This is the host side, read top to bottom: parse the options, describe
-- the container, clone a child into new namespaces (it waits for our go),
-- put it where it belongs, let it go, wait, tear down.  What happens
-- inside the container is in init.lua, next to this file.
local wbl = require "wbl"
local step = wbl.step

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local usage = "wbl scripts/run.lua [OPTIONS] [--] COMMAND [ARG...]"

-- 1. Options.  Bad values are reported before anything is created.
local opts, cmd = wbl.args.parse(wbl.args.run, arg)
if not opts then
  io.stderr:write("wbl: ", cmd, "\n", "Try: wbl scripts/run.lua --help\n")
  os.exit(125)
end
if opts.help then
  io.stdout:write(wbl.args.help(usage, wbl.args.run,
    "Exit status: the command's; 128+N if killed by signal N; 125 if wbl\n" ..
    "failed; 126 if COMMAND cannot be run; 127 if it is not found."))
  os.exit(0)
end
if #cmd == 0 then
  io.stderr:write("wbl: no command given\nusage: ", usage, "\n")
  os.exit(125)
end

local c = wbl.container.new(opts)
c.argv = cmd
c.image = opts.image or opts.rootfs or wbl.container.default_rootfs()
c.rm, c.read_only = opts.rm, opts.read_only
c.volumes, c.tmpfs = opts.volume, opts.tmpfs
c.workdir = opts.workdir or "/"
c.interactive = opts.interactive
c.tty = opts.tty
c.env = wbl.container.environment(opts, c)

local function main()
  -- 2. Checks that need no side effects.
  if opts.tty then step("-t", wbl.container.check_tty()) end
  -- The image's layers (a tarball is imported into the store, once).
  c.lowers = step((opts.image and "image " or "rootfs ") .. c.image,
    wbl.image.lowers(opts, wbl.container.default_rootfs()))
  local limits = step("limits", wbl.cgroup.limits(opts))
  step("--network " .. opts.network, wbl.net.check(opts))

  -- What containers killed before us left (wbl.container.reap).
  wbl.container.reap(nil, function(what, ok, msg)
    if not ok then io.stderr:write("wbl: warning: leftovers of ", what, ": ", tostring(msg), "\n") end
  end)

  -- 3. The state directory: from here on, teardown undoes what was made.
  step("state", c:create())

  -- The container's write layer (upper, work, and root, where init.lua
  -- mounts the overlay) in the store; volumes' missing host directories.
  step("layer", wbl.image.create_layer(c))
  step("volumes", wbl.overlay.prepare_volumes(c.volumes))
  step("state", c:save())

  -- The cgroups: the limits, and the handle that kills every process the
  -- container makes when it ends (wbl.cgroup).
  c.cgroup = step("cgroup", wbl.cgroup.create(c.id, limits))
  c:defer("remove the cgroups", function() return wbl.cgroup.remove(c.cgroup) end)
  step("state", c:save())

  -- The network (wbl.net): an address leased on the bridge (the default
  -- network is made on first use), and /etc/hosts, hostname, resolv.conf.
  step("network " .. opts.network, wbl.net.join(c, opts.network))
  step("/etc files", wbl.net.etc_files(c))

  -- 4. The child, in new namespaces, blocked until we say go; there it
  --    runs init.lua, which ends by exec'ing the command as PID 1.
  local init = step("load init.lua", loadfile(here .. "/init.lua"))
  local placement = step("cgroup", wbl.cgroup.clone_opts(c.cgroup)) -- clone3 into cgroup2
  local child = step("clone", wbl.proc.spawn(wbl.container.namespaces(opts), function()
    return init(c)
  end, placement))
  c:defer("stop the container", function() child:abort(); return true end)
  step("state", c:set_pid(child.pid))
  step("cgroup", wbl.cgroup.add(c.cgroup, child.pid)) -- the v1 hierarchies, before go

  -- Its veth (the other end is made in its namespace as eth0), and -p.
  step("veth into " .. child.pid, wbl.net.veth(c, child.pid))
  step("-p", wbl.net.publish(c, opts.publish))

  -- 5. Go, and wait: signals to wbl are passed on to the container's PID 1.
  step("start", child:go())
  return wbl.proc.exit_status(step("wait", child:wait()))
end

local ok, status = xpcall(main, function(e)
  if wbl.is_error(e) then return e end
  return debug.traceback(tostring(e), 2)
end)
if not ok then io.stderr:write("wbl: ", wbl.describe(status), "\n") end

-- 6. Teardown, on every path.
local done, err = c:teardown()
if not done then io.stderr:write("wbl: teardown: ", err, "\n") end
os.exit(ok and status or 125)
