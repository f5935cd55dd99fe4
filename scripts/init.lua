-- scripts/init.lua: the container side.  create.lua clones a child that
-- runs this (PID 1 of its PID namespace, alone in new mount, UTS, IPC,
-- network and cgroup namespaces) at once: its first mounts need nothing
-- more of the host, which meanwhile makes its cgroups; then it waits for
-- the host's go ("wait for the host").  Each line is one step; reorder,
-- skip or add steps here (a step that needs the host's cgroups or
-- network goes after the wait).  A failing step stops the container with
-- exit status 125 and names itself.
--
--   init(c, tail)   c: the container (c.spec: what it is); tail: process.lua
local wbl = require "wbl"
local c, tail = ...
-- Load every module before pivot_root: after it, the host's files
-- (this library among them) are out of reach.
for _, m in ipairs { "rootfs", "net", "overlay", "cgroup", "proc", "spec", "users", "caps", "hooks", "seccomp" } do
  local _ = wbl[m]
end
local step, rootfs, net, overlay, cgroup = wbl.step, wbl.rootfs, wbl.net, wbl.overlay, wbl.cgroup
local s = c.spec

-- In a user namespace (--userns=auto), first become its root (wbl.userns).
if c._userns then step("user namespace root", wbl.userns.become_root(c)) end

-- Nothing mounted from here on may reach the host.
step("make mounts private", rootfs.make_private(s.linux.rootfsPropagation))
-- A user namespace's layers, opened by the host, attached here (wbl.userns).
if c._userns then step("user namespace layers", wbl.userns.attach(c)) end

-- The root (the image's layers under the container's write layer), the
-- /etc files (a volume on /etc hides them), then the spec's mounts in
-- order: /proc, /sys, /dev, /tmp, its cgroups, volumes, tmpfs; the first
-- of its cgroups waits for the host (below).
step("mount the overlay root " .. c.root, overlay.mount_root(c))
if c.net then step("/etc/hosts, hostname, resolv.conf", net.bind_etc(c)) end
local joined = false
local function join_cgroups()
  if joined then return end
  joined = true
  -- The host's go: our cgroups are made, the device rules written.
  step("wait for the host", wbl.proc.await_go())
  -- Into our own cgroups, before any code of the container runs: the
  -- cgroup2 one is done (clone3 put us there); v1 hierarchies (hybrid
  -- hosts) we join here, cheaply, as only the process itself can
  -- (wbl.cgroup.join).  Skip this and the limits of a v1 host do not
  -- apply.  (In a user namespace the host placed us.)  Then a cgroup
  -- namespace rooted there: the container sees them as "/".
  if c.cgroup and not c._userns then step("join cgroups", cgroup.join(c.cgroup)) end
  if c.cgroup then step("cgroup namespace", cgroup.unshare_ns()) end
end
for _, m in ipairs(s.mounts) do
  if m.type == "cgroup" or m.type == "cgroup2" then join_cgroups() end
  step("mount " .. m.destination, rootfs.mount(c, m))
end
join_cgroups()
step("devices", rootfs.devices(c.root, s.linux.devices))
step("sysctl", rootfs.sysctl(c.root, s.linux.sysctl))
step("masked paths", rootfs.mask(c.root, s.linux.maskedPaths))
step("read-only paths", rootfs.readonly(c.root, s.linux.readonlyPaths))
-- -t: a terminal of its own (never the caller's), /dev/console and fds
-- 0, 1, 2 of a new session; its master goes to the host (wbl.tty).
if s.process.terminal then step("terminal", wbl.tty.attach(c._tty, c.root)) end
if s.root.readonly then step("read-only root", overlay.read_only(c.root)) end

step("hook root", wbl.hooks.run(c, "root"))
step("hook pivot", wbl.hooks.run(c, "pivot"))

-- Into the root; the host's root is detached.
step("pivot_root " .. c.root, rootfs.pivot(c.root))
if s.linux.rootfsPropagation then
  step("root propagation", rootfs.propagation("/", { s.linux.rootfsPropagation }))
end

-- Who we are and what we see.
if s.hostname then step("hostname", wbl.core.ns.sethostname(s.hostname)) end
if s.domainname then step("domainname", wbl.core.ns.setdomainname(s.domainname)) end
if wbl.spec.has_namespace(s, "network") then step("loopback", net.loopback_up()) end
if c.net then step("eth0", net.configure(c.net)) end
if not s.wbl.interactive then step("stdin", rootfs.stdin_null()) end

-- The process: who it is, what it may do, exec (process.lua).
tail(s, nil, c)
