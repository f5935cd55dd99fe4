-- scripts/create.lua: make a container, up to its PID 1 waiting in its
-- namespaces.  run.lua runs this (and so will every front end that makes
-- containers), then starts, waits and destroys.  One step per line;
-- reorder, skip or add steps here.  Each step records what it made in c
-- (saved as the container's state), so wbl.container.destroy can undo
-- exactly that, whatever step failed and even after wbl was killed.
--
--   loadfile("create.lua")(c, scripts_dir)   c: from wbl.container.new
local wbl = require "wbl"
local c, here = ...
local step, s = wbl.step, c.spec

-- Checks that make nothing.
-- (-t at the caller's terminal; a detached one's stays with its supervisor)
if s.process.terminal and not c._console then step("-t", wbl.container.check_tty()) end
step("network " .. s.wbl.network, wbl.net.check(s))
step("seccomp profile", wbl.seccomp.resolve(s))
-- Its BPF program, made here once (cached by content, wbl.seccomp): the
-- container's process, a fork of this one, only loads it (process.lua).
if s.linux.seccomp then step("seccomp filter", wbl.seccomp.compile(s.linux.seccomp)) end
-- The image's layers (a tarball is imported into the store, once).
c.lowers = step((s.wbl.image and "image " .. s.wbl.image or "rootfs " .. s.root.path), wbl.layer.lowers(s))
-- The host devices --device and --privileged bring in (wbl.devices).
step("devices", wbl.devices.resolve(s))
local limits, cg_id = step("cgroup limits", wbl.cgroup.limits(s))
c._hooks = step("--hook", wbl.hooks.load(s.wbl.hooks))

-- What containers killed before us left (their wbl is gone).
wbl.container.reap(nil, function(id, ok, msg)
  if not ok then io.stderr:write("wbl: warning: leftovers of ", id, ": ", tostring(msg), "\n") end
end)

-- The state directory: from here on, destroy undoes what was made.
step("state", wbl.state.create(c))
-- A user namespace (--userns=auto): its range of host ids (wbl.userns).
local userns = wbl.spec.has_namespace(s, "user")
if userns then step("user namespace", wbl.userns.resolve(c)) end
step("hook created", wbl.hooks.run(c, "created"))

-- The container's write layer (upper, work, and root, where init.lua
-- mounts the overlay) in the store; volumes' missing host directories.
step("layer", wbl.layer.create(c))
step("volumes", wbl.overlay.prepare_volumes(s.wbl.volume_sources, userns and wbl.userns.root_ids(s)))

-- The cgroups: the limits, and the handle that kills every process the
-- container makes when it ends (wbl.cgroup).  Here its cgroup2 directory,
-- where the clone puts the child (on a cgroup2 host: all of it); the v1
-- hierarchies of a hybrid or v1 host after the clone (below).
c.cgroup = step("cgroup", wbl.cgroup.create(cg_id, limits, true))
step("state", wbl.state.save(c))

-- The network (wbl.net): an address leased on the bridge (the default
-- network is made on first use), and /etc/hosts, hostname, resolv.conf.
step("network " .. s.wbl.network, wbl.net.join(c))
step("/etc files", wbl.net.etc_files(c))
step("names on " .. s.wbl.network, wbl.net.join_names(c))

-- The child, in new namespaces, into its cgroups, blocked until start;
-- there it runs init.lua, which ends with process.lua: exec the command.
local init = step("load init.lua", loadfile(here .. "/init.lua"))
local tail = step("load process.lua", loadfile(here .. "/process.lua"))
-- -t: the socket its terminal's master comes back on (wbl.tty); detached,
-- to the supervisor, which serves `wbl attach` on attach.sock (wbl.console).
if c._console then c._tty = step("attach socket", c._console:listen())
elseif s.process.terminal then c._tty = step("terminal", wbl.tty.new(s.wbl.interactive)) end
-- A user namespace: its layers, volumes and /etc files opened here (its
-- root could not reach them), its maps written once cloned (wbl.userns).
if userns then step("user namespace mounts", wbl.userns.prepare(c)) end
step("clone", (c._userns and wbl.userns.clone or wbl.container.clone)(c, function() return init(c, tail) end))

-- The child mounts its root meanwhile, and waits for our go (start) before
-- it joins its cgroups (init.lua): its v1 cgroups (in a user namespace we
-- put it there), then the device rules, before any code of its own runs.
step("cgroup v1", wbl.cgroup.finish(c.cgroup, limits, c._userns and c.pid))
step("device rules", wbl.devices.apply(c))
step("state", wbl.state.save(c))
step("hook cloned", wbl.hooks.run(c, "cloned"))

-- Its veth (the other end is made in its namespace as eth0), and -p.
step("veth into " .. c.pid, wbl.net.veth(c, c.pid))
step("-p", wbl.net.publish(c))
step("hook network", wbl.hooks.run(c, "network"))
