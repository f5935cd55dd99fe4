-- scripts/process.lua: the last steps of a container's process, from who
-- it is to exec.  init.lua ends with this, inside the container after
-- pivot_root; a process joining a running container (exec) runs the same
-- steps.  p is the spec's process: { args, env, cwd, user, rlimits,
-- noNewPrivileges, ... }.  The order is the kernel's: limits and identity
-- while still privileged, no_new_privs last before exec.
--
--   tail(p)   (loaded before pivot_root: after it the host's files are gone)
local wbl = require "wbl"
local p = ...
local step, proc = wbl.step, wbl.proc

step("workdir " .. p.cwd, wbl.rootfs.workdir(p.cwd))
step("rlimits", proc.set_rlimits(p.rlimits))
step("user " .. p.user.uid .. ":" .. p.user.gid, proc.set_user(p.user))
if p.noNewPrivileges then step("no_new_privs", proc.no_new_privs()) end

-- Become the command (127: not found, 126: not runnable).
step("exec " .. p.args[1], proc.exec(p.args, p.env))
