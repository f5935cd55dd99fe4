--- exec: a process joining a running container (`wbl exec`, docker exec).
--
-- The process is the container's own again, with another command: the
-- same namespaces, cgroups and root, and the same process tail as its
-- PID 1 (scripts/process.lua: workdir, rlimits, bounding set, seccomp,
-- user, capabilities, no_new_privs, exec), so it is confined exactly as
-- the container is.
--
--   host, this process        a pidfd of PID 1 (or its /proc/PID/ns/*),
--                             its pid namespace for our next child only;
--                             non-dumpable; clone the child into the v2
--                             cgroup (clone3)
--   the child                 into the v1 cgroups (itself: no global
--                             lock, wbl.cgroup.join), before anything
--                             else; fds above 2 close-on-exec; setns(pidfd, the
--                             other namespaces) at once (else one by
--                             one): the mount namespace gives the
--                             container's root and cwd; a session of its
--                             own (with -t: a pty of the container's
--                             devpts); the tail, which execs the command
--                             from the container's root
--   host                      wait, passing signals on (-t: copying the
--                             terminal, wbl.tty), the command's status
--
-- CVE-2019-5736: the child is visible in the container's PID namespace
-- from its first instruction, while its /proc/PID/exe is still the
-- host's wbl binary.  It is non-dumpable from birth (inherited from this
-- process), so the container's processes, which lack CAP_SYS_PTRACE,
-- cannot open its exe, fds, root or memory; it holds no fd of the host's
-- past exec; and it becomes the container's command by exec, never wbl
-- again (exec resets dumpable with the new binary in place).
local core = require "wbl.core"
local errors = require "wbl.errors"
local proc = require "wbl.proc"
local state = require "wbl.state"
local spec = require "wbl.spec"
local P, fs, E = core.proc, core.fs, core.errno

local M = {}

-- The namespace types a joining process enters besides pid, in the
-- order one by one needs: user first (the rest are then owned by it),
-- mnt last (after it the host's /proc is gone).
M.types = { "user", "cgroup", "ipc", "uts", "net", "time", "mnt" }

--- The process an exec runs in container c (a saved state): the
-- container's own process (s.process) with o's changes, as docker exec
-- makes it.  o: { args = CMD, env = { "K=V" or "K" (the caller's value,
-- if set), ... }, user = -u (resolved in the container's /etc/passwd by
-- the tail), cwd = -w, tty = -t }.
-- @return the spec the tail reads (the container's, with the user to
--   resolve) and the process table
function M.process(c, o)
  local cs, cp = c.spec, c.spec.process
  local user = {}
  for k, v in pairs(cp.user or {}) do user[k] = v end
  user.additionalGids = table.move(user.additionalGids or {}, 1, #(user.additionalGids or {}), 1, {})
  local p = {
    args = table.move(o.args, 1, #o.args, 1, {}),
    env = table.move(cp.env or {}, 1, #(cp.env or {}), 1, {}),
    cwd = o.cwd or cp.cwd or "/",
    terminal = o.tty or false,
    user = user,
    rlimits = cp.rlimits,
    capabilities = cp.capabilities,
    noNewPrivileges = cp.noNewPrivileges,
    oomScoreAdj = cp.oomScoreAdj,
  }
  local w = {}
  for k, v in pairs(cs.wbl or {}) do w[k] = v end
  if o.tty and not spec.getenv(p.env, "TERM") then spec.setenv(p.env, "TERM", os.getenv("TERM") or "xterm") end
  for _, kv in ipairs(o.env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if k then spec.setenv(p.env, k, v)
    elseif os.getenv(kv) then spec.setenv(p.env, kv, os.getenv(kv)) end
    if (k or kv) == "HOME" then w.keep_home = true end
  end
  if o.user then w.user = o.user end
  local s = {}
  for k, v in pairs(cs) do s[k] = v end
  s.wbl, s.process = w, p
  return s, p
end

-- dev:ino of a path (followed), or nil.
local function id(path)
  local st = fs.stat(path)
  return st and (st.dev .. ":" .. st.ino)
end

--- Can a process join c now?  Its PID 1 must be running, past
-- pivot_root (until then its mount namespace's root is still the host's,
-- which is what a process joining it would get), and the container not
-- paused.  A PID 1 still starting is waited for (at most ms, default
-- 5000).
-- @return its root ("dev:ino"), or nil, message, errno
function M.check(c, ms)
  if not state.running(c) then
    return nil, ("container %s is not running"):format(c.id), E.ESRCH
  end
  if c.cgroup and require("wbl.cgroup").frozen(c.cgroup) then
    return nil, ("container %s is paused"):format(c.id), E.EBUSY
  end
  local host, root = id("/"), nil
  for _ = 1, (ms or 5000) // 20 do
    root = id("/proc/" .. c.pid .. "/root")
    if root ~= host then break end
    require("wbl.util").sleep_ms(20)
  end
  if not state.running(c) or not root then
    return nil, ("container %s is not running"):format(c.id), E.ESRCH
  end
  if root == host then
    return nil, ("container %s is still starting (its root is not in place)"):format(c.id), E.EAGAIN
  end
  return root
end

--- The namespaces (of M.types) of process pid that this process is not
-- in: what a process must join to be in all of pid's.
function M.namespaces(pid)
  local out = {}
  for _, t in ipairs(M.types) do
    local ino, dev = core.ns.id(pid, t)
    if ino then
      local mine, mdev = core.ns.id(0, t)
      if ino ~= mine or dev ~= mdev then out[#out + 1] = t end
    end
  end
  return out
end

--- /proc/PID/ns/T of each type, opened (for kernels whose setns takes
-- no pidfd): a table type -> fd.
function M.open_namespaces(pid, types)
  local fds = {}
  for _, t in ipairs(types) do
    local f, msg, en = core.fd.open(("/proc/%d/ns/%s"):format(pid, t), "rdonly")
    if not f then
      for _, g in pairs(fds) do g:close() end
      return nil, msg, en
    end
    fds[t] = f
  end
  return fds
end

--- Join the namespaces of types: how is a pidfd (all at once, as one
-- setns) or M.open_namespaces's table (one by one, in the order given).
function M.join(how, types)
  if #types == 0 then return true end
  if type(how) ~= "table" then return core.ns.setns(how, types) end
  for _, t in ipairs(types) do
    local ok, msg, en = core.ns.setns(how[t], t)
    if not ok then return nil, ("%s namespace: %s"):format(t, msg), en end
  end
  return true
end

-- Close what M.start holds (fds, or a table of them).
local function close(x)
  if type(x) == "table" then
    for _, f in pairs(x) do f:close() end
  elseif x then
    x:close()
  end
end

-- The child's stdio for -d: /dev/null (the container's).
local function null_stdio()
  local f, msg, en = core.fd.open("/dev/null", "rdwr")
  if not f then return nil, msg, en end
  for i = 0, 2 do
    local ok
    ok, msg, en = f:dup2(i)
    if not ok then f:close(); return nil, msg, en end
  end
  f:close()
  return true
end

local Job = {}
Job.__index = Job

--- Start process p (M.process) in container c: the child described at
-- the top, running tail(s, p) (scripts/process.lua, loaded by the caller
-- beforehand: once in the container, the host's files are out of reach;
-- so must be every module the tail uses).
-- o.tty: a wbl.tty (tty.new) for a terminal made in the container;
-- o.keep_stdio: detached, its stdio stays the caller's (an OCI runtime's
-- exec: conmon's pipes); o.preserve_fds: fds 3.. that pass exec too;
-- o.interactive: stdin is passed on (else /dev/null); o.detach: the
-- command outlives this process, its stdio /dev/null: start returns once
-- it has been exec'd (or has failed: nil, message, errno, status).
-- @return a job (job:wait()), or nil, message, errno[, status]
function M.start(c, s, p, tail, o)
  o = o or {}
  local root, msg, en = M.check(c)
  if not root then return nil, msg, en end
  local pid, t = c.pid, o.tty
  -- (loaded here: inside, the host's files are out of reach)
  local tty, rootfs, cgroup = require "wbl.tty", require "wbl.rootfs", c.cgroup and require "wbl.cgroup"
  local held = {} -- what this function closes on every way out
  local function fail(m, e)
    for _, f in pairs(held) do close(f) end
    return nil, m, e
  end
  local opts = {}
  if cgroup then
    opts, msg, en = cgroup.clone_opts(c.cgroup) -- v2: clone3 into it
    if not opts then return nil, msg, en end
    held.cgroup = opts.cgroup_fd
  end
  local errr, errw
  if o.detach then -- the child's error; end of file at its exec
    errr, errw, en = core.fd.pipe()
    if not errr then return fail(errw, en) end
    held.errr, held.errw = errr, errw
    opts.survive, opts.report = true, errw
  end
  local types = M.namespaces(pid)
  -- A handle on PID 1, then the check that it is still PID 1 (not a
  -- later process given its pid).
  local how = P.pidfd_open(pid)
  held.how = how
  if not state.running(c) then return fail(("container %s is not running"):format(c.id), E.ESRCH) end
  -- Its pid namespace, for our next child only (this process stays).
  local back
  back, msg, en = core.fd.open("/proc/self/ns/pid", "rdonly")
  if not back then return fail(msg, en) end
  held.back = back
  local ok = how and core.ns.setns(how, "pid")
  if not ok then -- no pidfd, or a kernel before 5.8: /proc/PID/ns/*
    close(how)
    local all = { "pid" }
    for _, x in ipairs(types) do all[#all + 1] = x end
    how, msg, en = M.open_namespaces(pid, all)
    held.how = how
    if not how then return fail(msg, en) end
    if not state.running(c) then return fail(("container %s is not running"):format(c.id), E.ESRCH) end
    ok, msg, en = core.ns.setns(how.pid, "pid")
    if not ok then return fail("pid namespace: " .. msg, en) end
  end
  -- The child: non-dumpable from its first instruction (ours, inherited).
  P.prctl("dumpable", false)
  local child
  child, msg, en = proc.spawn("", function()
    if errr then errr:close() end
    local step = errors.step
    if cgroup then step("join cgroups", cgroup.join(c.cgroup)) end
    -- nothing of the host's but 0, 1, 2 gets past exec (the tail's own
    -- fds, the terminal's, are sent or dup'ed before it)
    step("close fds", P.cloexec_from(3 + (o.preserve_fds or 0))) -- (OCI's --preserve-fds)
    step("join " .. table.concat(types, ","), M.join(how, types))
    close(how)
    if id("/") ~= root then -- never the host's: PID 1's, as checked
      errors.fail("root", "not the container's root after joining its mount namespace", E.EPERM)
    end
    if t then
      step("terminal", tty.attach_process(t))
    else
      step("session", P.setsid()) -- the caller's terminal is none of ours
      if o.detach and not o.keep_stdio then step("stdio", null_stdio()) -- (OCI: the caller's, conmon's pipes)
      elseif not o.interactive then step("stdin", rootfs.stdin_null()) end
    end
    return tail(s, p)
  end, opts)
  P.prctl("dumpable", true)
  core.ns.setns(back, "pid")
  held.errr = nil
  if not child then close(errr); return fail(msg, en) end
  fail() -- closes the rest: the child has its own
  ok, msg, en = child:go()
  if not ok then child:abort(); close(errr); return nil, msg, en end
  local job = setmetatable({ child = child, tty = t, pid = child.pid }, Job)
  if o.detach then
    local out = {}
    while true do
      local data = errr:read(4096)
      if not data or data == "" then break end
      out[#out + 1] = data
    end
    errr:close()
    if #out > 0 then -- it failed before its exec: its status too
      local _, wh, code = P.waitpid(child.pid)
      child:restore()
      return nil, table.concat(out), nil, proc.exit_status(wh, code)
    end
    child:restore()
    job.detached = true
  end
  return job
end

--- Wait for the command (passing the usual signals on; with -t copying
-- between the caller's terminal and the container's).
-- @return its exit status as a shell gives it (128+N for signal N)
function Job:wait()
  local pump = self.tty and self.tty:pump()
  local how, code, en = self.child:wait(pump)
  if not how then return nil, code, en end
  return proc.exit_status(how, code)
end

return M
