--- Processes: spawn a child in new namespaces that waits for the parent's
-- go, exec a command with a PATH search, wait while forwarding signals.
local core = require "wbl.core"
local P, E = core.proc, core.errno

local M = {}

--- Signals wbl passes on to the container's PID 1 (SIGCHLD ends the wait).
M.forwarded = { "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH" }
local waited = { "SIGCHLD" }
for _, s in ipairs(M.forwarded) do waited[#waited + 1] = s end

M.default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

--- The exit status a shell would give for an exec failure.
function M.exec_status(errno)
  if errno == E.ENOENT or errno == E.ENOTDIR then return 127 end
  if errno == E.EACCES or errno == E.ENOEXEC or errno == E.EPERM or errno == E.EISDIR then
    return 126
  end
  return 125
end

--- exec argv with env (a list of "K=V", or a map), searching its PATH
-- when argv[1] has no '/'.
-- Returns only on failure: nil, message, errno, exit status (127 / 126).
function M.exec(argv, env)
  M.await_go() -- (a child spawned early: never the command before go)
  local list, path = {}, nil
  for k, v in pairs(env or {}) do
    if type(k) == "number" then
      list[#list + 1] = v
      path = v:match("^PATH=(.*)$") or path
    else
      list[#list + 1] = k .. "=" .. v
      if k == "PATH" then path = v end
    end
  end
  if #list > 0 and type(next(env)) ~= "number" then table.sort(list) end
  local file = argv[1]
  if file == nil or file == "" then return nil, "no command given", E.ENOENT, 127 end
  io.stdout:flush()
  -- the caller's step names the command ("exec NAME: ..."): the message
  -- does not say it again; a file found on PATH is named
  local function said(msg, as)
    return (tostring(msg):gsub("^exec " .. as:gsub("%p", "%%%0") .. ": ", as == file and "" or as .. ": "))
  end
  if file:find("/", 1, true) then
    local _, msg, en = P.execve(file, argv, list)
    return nil, said(msg, file), en, M.exec_status(en)
  end
  local denied
  for dir in (path or M.default_path):gmatch("[^:]+") do
    local _, msg, en = P.execve(dir .. "/" .. file, argv, list)
    if en == E.EACCES then
      denied = denied or { said(msg, dir .. "/" .. file), en }
    elseif en ~= E.ENOENT and en ~= E.ENOTDIR then
      return nil, said(msg, dir .. "/" .. file), en, M.exec_status(en)
    end
  end
  if denied then return nil, denied[1], denied[2], 126 end
  return nil, "executable file not found in $PATH", E.ENOENT, 127
end

--- The start time of a pid (field 22 of /proc/PID/stat, in clock ticks
-- since boot): with the pid, it tells a process from a later one that got
-- the same pid.  nil when there is no such process.
function M.starttime(pid)
  local s = core.fs.read_file("/proc/" .. pid .. "/stat")
  if not s then return nil end
  local after = s:match("%) (.*)$")
  local n, state = 2, nil
  for f in after:gmatch("%S+") do
    n = n + 1
    if n == 3 then state = f end
    if n == 22 then return tonumber(f), state end
  end
end

local me -- this process's identity, read once (it never changes)

--- A process's identity { pid =, starttime = } (default: this process).
function M.identity(pid)
  if pid then return { pid = pid, starttime = M.starttime(pid) } end
  local p = P.getpid()
  if not me or me.pid ~= p then me = { pid = p, starttime = M.starttime(p) } end
  return { pid = me.pid, starttime = me.starttime }
end

--- Is the process of an identity (from M.identity) still running?  A
-- zombie is not: it has ended, only its parent has not collected it yet.
function M.alive(id)
  if id == nil or id.pid == nil or id.starttime == nil then return false end
  local t, state = M.starttime(id.pid)
  return t == id.starttime and state ~= "Z" and state ~= "X"
end

--- The process's resource limits: a list of { type = "RLIMIT_NOFILE",
-- soft =, hard = } (the OCI spec's process.rlimits).
function M.set_rlimits(rlimits)
  for _, r in ipairs(rlimits or {}) do
    local ok, msg, en = P.setrlimit(r.type, r.soft, r.hard)
    if not ok then return nil, msg, en end
  end
  return true
end

--- Become user u = { uid, gid, additionalGids }: the supplementary groups
-- (none but those listed: the caller's own are dropped), the gid, the uid
-- (last: after it, root's power to change the others is gone).
function M.set_user(u)
  local ok, msg, en = P.setgroups(u.additionalGids or {})
  if not ok then return nil, msg, en end
  ok, msg, en = P.setgid(u.gid or 0)
  if not ok then return nil, msg, en end
  return P.setuid(u.uid or 0)
end

--- The process's OOM score adjustment (-1000 to 1000; the OCI spec's
-- process.oomScoreAdj), inherited by its children.
function M.set_oom_score_adj(n)
  return core.fs.write_file("/proc/self/oom_score_adj", tostring(n), "")
end

--- no_new_privs: from here on, exec can never grant privileges (setuid
-- bits and file capabilities are ignored); inherited by every child.
function M.no_new_privs()
  return P.prctl("no_new_privs", true)
end

--- The exit status of a wait result: the code, or 128+N for signal N.
function M.exit_status(how, code)
  if how == "exited" then return code end
  if how == "killed" then return 128 + code end
  return 125
end

local Child = {}
Child.__index = Child

-- In a child spawned with opts.early, until M.await_go: the read end of
-- its parent's go.
local go_fd

--- In a child spawned with opts.early: wait for the parent's go (once;
-- later calls, and calls in any other process, return at once).  A
-- parent that gave up (or died) instead: the child exits, 125.
function M.await_go()
  local r = go_fd
  if not r then return true end
  go_fd = nil
  local go = r:read(1)
  r:close()
  if go ~= "g" then P._exit(125) end
  return true
end

--- Clone a child into the namespaces ns (e.g. "mnt,pid,uts,ipc,net").
-- The child blocks until child:go(); then it runs fn().  If fn raises,
-- the child prints the error and exits with its code (125 by default).
-- The forwarded signals stay blocked in the parent until child:wait().
-- opts.cgroup_fd: start the child inside that cgroup (v2, clone3).
-- opts.survive: the child outlives this process (an OCI runtime's create
-- exits, the caller's conmon is the parent): no pdeathsig.
-- opts.report: where the child's error goes (an object with :write(s);
-- default io.stderr).
-- opts.early: the child runs fn at once, and waits for go where fn calls
-- M.await_go (steps that need nothing more of the parent go first, while
-- it finishes its own); M.exec waits for it in any case.
function M.spawn(ns, fn, opts)
  opts = opts or {}
  local r, w, pipe_errno = core.fd.pipe()
  if not r then return nil, w, pipe_errno end
  local old = assert(P.sigprocmask("block", waited))
  io.stdout:flush()
  io.stderr:flush()
  local pid, msg, en = P.clone(ns, opts.cgroup_fd)
  if not pid then
    r:close()
    w:close()
    P.sigprocmask("set", old)
    return nil, msg, en
  end
  if pid == 0 then
    -- The child shares the parent's pages until it execs: a collection
    -- would write to all of them (marks), a copy-on-write fault each
    -- (~130 faults a start).  It lives for a few steps, then execs.
    collectgarbage("stop")
    w:close()
    P.sigprocmask("set", old)
    if not opts.survive then P.prctl("pdeathsig", "SIGKILL") end -- wbl killed: the container goes too
    go_fd = r
    if not opts.early then M.await_go() end
    local ok, err = xpcall(fn, require("wbl.errors").handler)
    -- A step that failed before go (spawned early): the host is still at
    -- its own steps on this process (veth, hooks); it hears of the failure
    -- at go, once, from here (and one that gave up hears nothing).
    if not ok and go_fd then M.await_go() end
    local code = 125
    if ok then
      code = 0
    else
      if opts.report then opts.report:write(tostring(err)) else io.stderr:write("wbl: ", tostring(err), "\n") end
      if type(err) == "table" and err.code then code = err.code end
    end
    io.stdout:flush()
    io.stderr:flush()
    P._exit(code)
  end
  r:close()
  return setmetatable({ pid = pid, sync = w, mask = old }, Child)
end

--- Let the child run.  A child spawned early that already ended (a step
-- failed: it said so) has closed its end: EPIPE, and its SIGPIPE taken
-- here rather than left to end us; its wait tells the rest.
function Child:go()
  local old = P.sigprocmask("block", { "SIGPIPE" })
  local ok, msg, en = self.sync:write("g")
  if not ok and en == E.EPIPE then
    P.sigwait({ "SIGPIPE" }, 0)
    ok = true
  end
  P.sigprocmask("set", old)
  self.sync:close()
  if not ok then return nil, msg, en end
  return true
end

-- Child:wait with a pump: the signals come through a signalfd, polled
-- with the pump's fds, so neither waits for the other.
local function pumped(self, pump)
  local _ <close> = pump
  local sfd <close>, msg, en = P.signalfd(waited)
  if not sfd then self:restore(); return nil, msg, en end
  while true do
    local list = pump:fds()
    table.insert(list, 1, sfd)
    local ready
    ready, msg, en = core.fd.poll(list, -1)
    if not ready then self:restore(); return nil, msg, en end
    while ready[1] do
      local sig, m, e = P.sigread(sfd)
      if not sig then
        if e ~= E.EAGAIN then self:restore(); return nil, m, e end
        break
      end
      if sig == P.signals.SIGCHLD then
        local p, how, code = P.waitpid(self.pid, "nohang")
        if p == self.pid then
          self.status = { how, code }
          pump:finish()
          self:restore()
          return how, code
        elseif p == nil then
          self:restore()
          return nil, how, code
        end
      elseif not pump:signal(sig) then
        P.kill(self.pid, sig)
      end
    end
    local theirs = {}
    for i = 2, #list do theirs[i - 1] = ready[i] end
    local ok
    ok, msg, en = pump:ready(theirs)
    if not ok then self:restore(); return nil, msg, en end
  end
end

--- Wait for the child, passing on the forwarded signals.
-- pump (wbl.tty's copy loop, for -t): what else to do meanwhile.  Its
-- fds (pump:fds(), entries for core.fd.poll) are polled with the
-- signals; pump:ready(ready) gets poll's answer for them (ready[i] for
-- the i-th); pump:signal(sig) may take a signal (true) instead of
-- passing it on; pump:finish() runs once the child has ended; pump's
-- __close on every way out of the wait.
-- @return how ("exited" or "killed"), code
function Child:wait(pump)
  if pump then return pumped(self, pump) end
  local pid = self.pid
  while true do
    local sig, msg, en = P.sigwait(waited)
    if not sig then
      self:restore()
      return nil, msg, en
    end
    if sig == P.signals.SIGCHLD then
      local p, how, code = P.waitpid(pid, "nohang")
      if p == pid then
        self.status = { how, code }
        self:restore()
        return how, code
      elseif p == nil then
        self:restore()
        return nil, how, code
      end
    else
      P.kill(pid, sig)
    end
  end
end

--- Give up on a child: it never runs its function; it is killed and reaped.
function Child:abort()
  self.sync:close()
  if not self.status then
    P.kill(self.pid, "SIGKILL")
    P.waitpid(self.pid)
    self.status = { "killed", P.signals.SIGKILL }
  end
  self:restore()
end

--- Restore the signal mask the parent had before spawn.
function Child:restore()
  if self.mask then
    P.sigprocmask("set", self.mask)
    self.mask = nil
  end
end

return M
