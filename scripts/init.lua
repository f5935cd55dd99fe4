-- scripts/init.lua: the container side.  run.lua calls this in the
-- cloned child (PID 1 of its PID namespace, alone in new mount, UTS, IPC,
-- network and cgroup namespaces) once the host side has said go.  Each
-- line is one step; reorder, skip or add steps here.  A failing step
-- stops the container with exit status 125 and names itself.
local wbl = require "wbl"
local c = ...
-- Load every module before pivot_root: after it, the host's files
-- (this library among them) are out of reach.
local step, rootfs, net, proc = wbl.step, wbl.rootfs, wbl.net, wbl.proc
local overlay = wbl.overlay

-- Into our own cgroups, again: the host side placed us before go, so
-- this moves nothing; it is the fix for kernels where it could not.
if c.cgroup then step("cgroup.procs", wbl.cgroup.join(c.cgroup)) end
-- A cgroup namespace rooted there: the container sees its cgroups as "/".
if c.cgroup then step("cgroup namespace", wbl.cgroup.unshare_ns()) end

-- Nothing mounted from here on may reach the host.
step("make mounts private", rootfs.make_private())

-- The root (the image's layers under the container's write layer), and
-- the kernel file systems inside it.
step("mount the overlay root " .. c.root, overlay.mount_root(c))
step("mount /proc", rootfs.mount_proc(c.root))
step("mount /sys", rootfs.mount_sys(c.root))
if c.cgroup then step("mount /sys/fs/cgroup", wbl.cgroup.mount_ns(c.root, c.cgroup)) end
step("mount /dev", rootfs.mount_dev(c.root))
step("mount /tmp", rootfs.mount_tmp(c.root))
step("/etc/hosts, hostname, resolv.conf", net.bind_etc(c)) -- a volume on /etc hides them
for _, v in ipairs(c.volumes) do step("volume " .. v.spec, overlay.volume(c.root, v)) end
for _, t in ipairs(c.tmpfs) do step("tmpfs " .. t.spec, overlay.tmpfs(c.root, t)) end
if c.tty then step("mount /dev/console", rootfs.mount_console(c.root)) end
if c.read_only then step("read-only root", overlay.read_only(c.root)) end

-- Into the root; the host's root is detached.
step("pivot_root " .. c.root, rootfs.pivot(c.root))

-- Who we are and what we see.
step("hostname", wbl.core.ns.sethostname(c.hostname))
if not (c.net and c.net.mode == "host") then step("loopback", net.loopback_up()) end
step("eth0", net.configure(c.net))
if not c.interactive then step("stdin", rootfs.stdin_null()) end
step("workdir " .. c.workdir, rootfs.workdir(c.workdir))

-- Become the command (127: not found, 126: not runnable).
step("exec " .. c.argv[1], proc.exec(c.argv, c.env))
