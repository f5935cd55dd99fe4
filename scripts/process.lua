-- scripts/process.lua: the last steps of a container's process, from who
-- it is to exec.  init.lua ends with this, inside the container after
-- pivot_root; a process joining a running container (exec) runs the same
-- steps.  s is the container's spec, p the process (default s.process:
-- { args, env, cwd, user, rlimits, capabilities, noNewPrivileges }).
--
-- The order is the kernel's (runc's too): limits and the bounding set
-- while still privileged; the seccomp filter while CAP_SYS_ADMIN is still
-- held, unless no_new_privs lets it load later; then the user (a non-root
-- uid loses its capabilities, as the kernel does for setuid); then the
-- capability sets; no_new_privs and its filter last, right before exec.
-- The filter is the BPF program the host compiled from s.linux.seccomp
-- before this process was forked (create.lua, exec.lua): loading it is
-- one system call.
--
--   tail(s[, p])   (loaded before pivot_root: after it the host's files are gone)
local wbl = require "wbl"
local s, p, c = ...
p = p or s.process
local step, proc = wbl.step, wbl.proc

if p.user.umask then wbl.core.fs.umask(p.user.umask) end
step("workdir " .. p.cwd, wbl.rootfs.workdir(p.cwd))
step("rlimits", proc.set_rlimits(p.rlimits))
step("capability bounding set", wbl.caps.drop_bounding(p.capabilities))
if not p.noNewPrivileges then step("seccomp", wbl.seccomp.load(s.linux.seccomp)) end
if s.wbl and (s.wbl.user or #(s.wbl.group_add or {}) > 0) then -- -u, --group-add: the image's names
  step("user " .. (s.wbl.user or ""), wbl.users.resolve(p, s.wbl.user, s.wbl.group_add, s.wbl.keep_home))
end
if p.oomScoreAdj then step("oom_score_adj", proc.set_oom_score_adj(p.oomScoreAdj)) end
-- OCI: the capabilities listed, for any uid (kept through the user change)
local exact = s.wbl and s.wbl.exact_caps
if exact then step("keep capabilities", wbl.caps.keep()) end
step("user " .. p.user.uid .. ":" .. p.user.gid, proc.set_user(p.user))
step("capabilities", wbl.caps.apply(p.capabilities, p.user, exact))
if p.noNewPrivileges then step("no_new_privs", proc.no_new_privs()) end
if p.noNewPrivileges then step("seccomp", wbl.seccomp.load(s.linux.seccomp)) end

-- OCI create: ready, and wait here until `start` (wbl.oci's exec fifo)
if c and c._await_start then step("wait for start", c._await_start(c, p)) end
if c then step("hook exec", wbl.hooks.run(c, "exec")) end

-- Become the command (127: not found, 126: not runnable).
step("exec " .. p.args[1], proc.exec(p.args, p.env))
