--- A detached container's keeper (as conmon is podman's): a process of
-- its own, started by `run -d` and `start`, in a session of its own so the
-- caller's terminal can close.  It makes the container (it is the parent
-- of PID 1, which dies with it: pdeathsig), keeps its output in a log
-- (wbl.logs), waits, records the exit, restarts it as --restart says, and
-- tears it down.  No daemon: one supervisor per container, gone with it.
local core = require "wbl.core"
local logs = require "wbl.logs"
local P, E = core.proc, core.errno

local M = {}

-- The log pump, for Child:wait (wbl.proc): the container's stdout and
-- stderr come through two pipes into its log.
local Log = {}
Log.__index = Log

--- Pipes for the container's output (c._stdio: the child's ends, put on
-- its fds 1 and 2 by wbl.container.clone) and the pump that logs them.
function M.log_pump(c)
  local out_r, out_w, en = core.fd.pipe()
  if not out_r then return nil, out_w, en end
  local err_r, err_w
  err_r, err_w, en = core.fd.pipe()
  if not err_r then out_r:close(); out_w:close(); return nil, err_w, en end
  c._stdio = { out_w, err_w }
  return setmetatable({ c = c, streams = { { out_r, "stdout" }, { err_r, "stderr" } } }, Log)
end

-- The log, opened when there is something to write (the state directory
-- exists by then).
function Log:writer()
  if not self.w then self.w = assert(logs.writer(logs.file(self.c.state_dir))) end
  return self.w
end

--- For Child:wait: the child has its ends now; close ours.
function Log:pump()
  for _, f in ipairs(self.c._stdio or {}) do f:close() end
  self.c._stdio = nil
  return self
end

function Log:fds()
  local list = {}
  self.polled = {}
  for _, s in ipairs(self.streams) do
    if s[1] then list[#list + 1] = { s[1], "in" }; self.polled[#self.polled + 1] = s end
  end
  return list
end

-- Read what one stream has (its end of file: every writer is gone).
local function drain(self, s)
  local data = s[1]:read(65536)
  if not data or data == "" then
    s[1]:close()
    s[1] = nil
  else
    self:writer():write(s[2], data)
  end
end

function Log:ready(ready)
  for i, s in ipairs(self.polled) do
    if ready[i] and s[1] then drain(self, s) end
  end
  return true
end

function Log.signal() return false end -- every signal goes on to PID 1

--- PID 1 has ended (and with it every process of its PID namespace): read
-- to the end of each stream (at most 200 ms of silence: a process outside
-- may still hold one), then close the log.
function Log:finish()
  while true do
    local list = self:fds()
    if #list == 0 then break end
    local ready = core.fd.poll(list, 200)
    if not ready or not next(ready) then break end
    self:ready(ready)
  end
  return self:close()
end

function Log:close()
  for _, s in ipairs(self.streams) do
    if s[1] then s[1]:close(); s[1] = nil end
  end
  if self.w then self.w:close(); self.w = nil end
  return true
end
Log.__close = Log.close

--- Start a supervisor running fn(c, ready) and return once fn has called
-- ready() (the container runs: true) or failed (nil, its message).  The
-- supervisor is a grandchild in a session of its own: not our child (init
-- reaps it), holding none of our fds but the report pipe.
function M.detach(c, fn)
  local r, w, en = core.fd.pipe()
  if not r then return nil, w, en end
  io.stdout:flush()
  io.stderr:flush()
  local pid, msg
  pid, msg, en = P.fork()
  if not pid then return nil, msg, en end
  if pid == 0 then
    r:close()
    P.setsid()
    if P.fork() ~= 0 then P._exit(0) end
    -- the supervisor
    local null = core.fd.open("/dev/null", "rdwr")
    if null then for fd = 0, 2 do null:dup2(fd) end; null:close() end
    local keep = w:fileno()
    for _, name in ipairs(core.fs.readdir("/proc/self/fd") or {}) do
      local fd = tonumber(name)
      if fd and fd > 2 and fd ~= keep then core.fd.close(fd) end
    end
    local told = false
    local function ready(err)
      if told then return end
      told = true
      w:write(err and ("error " .. err) or "ok")
      w:close()
    end
    local ok, e = pcall(fn, c, ready)
    if not ok then ready(tostring(e)) end
    P._exit(0)
  end
  w:close()
  P.waitpid(pid)
  local said = {}
  while true do
    local s = r:read(4096)
    if not s or s == "" then break end
    said[#said + 1] = s
  end
  r:close()
  said = table.concat(said)
  if said == "ok" then return true end
  if said == "" then return nil, "the supervisor ended before the container started", E.ECHILD end
  return nil, (said:gsub("^error ", "")), E.EIO
end

--- The supervisor's work (in the process M.detach made): run(c, ready)
-- is one life of the container (make it, start it, call ready, wait:
-- its exit status); again, as its --restart policy says, until it ends
-- for good or `stop` asked it to (a file "stop" in its state directory).
-- Then the stopped container is kept, or removed with --rm.  ready(err)
-- tells the caller of run -d (or start) how the first start went.
function M.supervise(c, run, ready)
  local container, errors = require "wbl.container", require "wbl.errors"
  local util = require "wbl.util"
  c.owner = require("wbl.proc").identity() -- this process manages it now
  local count = c.restart_count or 0
  while true do
    os.remove(c.state_dir .. "/stop")
    local pump, msg = M.log_pump(c)
    if not pump then return ready(msg) end
    c._log = pump
    -- -t: its terminal stays here, for `wbl attach` (wbl.console)
    local term
    if c.spec.process.terminal then
      term, msg = require("wbl.console").new(c, pump)
      if not term then pump:close(); return ready(msg) end
    end
    c._console = term
    local ok, status = xpcall(run, errors.handler, c, ready)
    if not ok then -- it could not be made or started: nothing is left
      pump:close()
      if ready then ready(errors.describe(status)) end
      container.destroy(c)
      if term then term:ended() end
      return
    end
    ready = function() end
    local stopped = util.exists(c.state_dir .. "/stop")
    local again = not stopped and M.restart(c.spec.wbl.restart, status, count)
    c.exit_code, c.finished = status, os.time()
    container.destroy(c, { keep = again or not c.spec.wbl.rm })
    if term then term:ended(status, again) end -- an attached client hears how it ended
    c._console = nil
    if not again then return end
    count = count + 1
    c.restart_count = count
    util.sleep_ms(math.min(100 << math.min(count - 1, 6), 5000)) -- docker's back-off, doubling
    c.status = "restarting"
  end
end

--- --restart no|on-failure[:N]|always: should a container that ended with
-- status (its restart_count so far) run again?
function M.restart(policy, status, count)
  if not policy or policy.name == "no" then return false end
  if policy.name == "always" then return true end
  return status ~= 0 and (not policy.max or count < policy.max)
end

return M
