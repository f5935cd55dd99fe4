--- -t: the container gets a terminal of its own.
--
-- The pty is made inside the container, from its own devpts instance
-- (ROOT/dev/pts/ptmx), as runc does, and only its master comes out, over
-- a unix socket (SCM_RIGHTS).  So the caller's terminal is never inside
-- the container (from there TIOCSTI could type commands into the
-- caller's shell), and neither is anything of the host's devpts: a pty
-- taken from the host's /dev/ptmx would put a host devpts file in the
-- container, and with CAP_DAC_READ_SEARCH open_by_handle_at on it opens
-- any pty of the host, the caller's among them.  Inside, the slave is
-- /dev/console, the controlling terminal of PID 1's new session and its
-- fds 0, 1 and 2; its owner is the container's own devpts.
--
-- On the host, wbl copies the caller's terminal to the master and the
-- master to the caller's stdout, puts the caller's terminal in raw mode
-- while it does (with -i: Ctrl-C is then a byte for the container, not a
-- signal for wbl) and passes every window size change on (SIGWINCH).
--
--   host, before the clone       t = tty.new(interactive)   create.lua
--   container, before pivot      tty.attach(t, root)        init.lua
--   host, the wait               child:wait(t:pump())       wbl.container.wait
--   host, teardown               t:close()                  wbl.container.destroy
local core = require "wbl.core"
local pty, fd, P, E = core.pty, core.fd, core.proc, core.errno

local M = {}

local Tty = {}
Tty.__index = Tty

--- Host side, before the clone: the socket the master will come back on,
-- and the caller's window size (the container's terminal starts with it).
-- interactive (-i): the caller's input goes to the container.
-- input, output: the caller's terminal and where the container's output
-- goes (default 0 and 1).
function M.new(interactive, input, output)
  input, output = input or 0, output or 1
  local rows, cols = pty.get_size(input)
  if not rows then rows, cols = 24, 80 end -- no size: a terminal's usual one
  local ours, theirs, en = fd.socketpair()
  if not ours then return nil, theirs, en end
  return setmetatable({ sock = ours, peer = theirs, rows = rows, cols = cols, interactive = interactive,
                        input = input, output = output, pending = "" }, Tty)
end

-- A pty of the devpts at root's /dev/pts (its size the caller's):
-- master, slave.  keep(f, ...) remembers an fd to close at the end.
local function open_pty(t, root, keep)
  local ptmx, msg, en = keep(core.inroot.open(root, "/dev/pts/ptmx"))
  if not ptmx then return nil, msg, en end
  local master
  master, msg, en = keep(pty.open("/proc/self/fd/" .. ptmx:fileno()))
  if not master then return nil, msg, en end
  local slave
  slave, msg, en = keep(pty.peer(master))
  if not slave then return nil, msg, en end
  local ok
  ok, msg, en = pty.set_size(slave, t.rows, t.cols)
  if not ok then return nil, msg, en end
  return master, slave
end

-- term the controlling terminal of a new session and fds 0, 1, 2; the
-- master sent to the host.
local function take(t, term, master)
  local ok, msg, en = P.setsid()
  if not ok then return nil, msg, en end
  ok, msg, en = pty.set_ctty(term)
  if not ok then return nil, msg, en end
  for i = 0, 2 do
    ok, msg, en = term:dup2(i)
    if not ok then return nil, msg, en end
  end
  return t.peer:send_fds({ master }, "pty")
end

-- M.attach's steps (keep: as open_pty's).
local function attach(t, root, keep)
  local inroot = core.inroot
  local master, slave, en = open_pty(t, root, keep)
  if not master then return nil, slave, en end
  local console, msg, ok
  console, msg, en = keep(inroot.open(root, "/dev/console", "file"))
  if not console then return nil, msg, en end
  ok, msg, en = inroot.bind("/proc/self/fd/" .. slave:fileno(), console)
  if not ok then return nil, msg, en end
  -- the bind, resolved anew, opened read-write through its own path
  console, msg, en = keep(inroot.open(root, "/dev/console"))
  if not console then return nil, msg, en end
  local term
  term, msg, en = keep(fd.open("/proc/self/fd/" .. console:fileno(), "rdwr,noctty"))
  if not term then return nil, msg, en end
  return take(t, term, master)
end

--- Container side, in init.lua once /dev and /dev/pts are mounted, before
-- pivot_root (paths are resolved inside root): a pty of the container's
-- devpts; its slave bound over /dev/console, opened there (so ttyname()
-- and `tty` say /dev/console), the controlling terminal of a new session
-- and fds 0, 1, 2; the master sent to the host and closed here.
function M.attach(t, root)
  t.sock:close() -- the host's end
  local opened = {}
  local function keep(f, ...)
    if f then opened[#opened + 1] = f end
    return f, ...
  end
  local ok, msg, en = attach(t, root, keep)
  for _, f in ipairs(opened) do f:close() end
  t.peer:close()
  return ok, msg, en
end

-- M.attach_process's steps (keep: as open_pty's).
local function attach_process(t, keep)
  local master, slave, en = open_pty(t, "/", keep)
  if not master then return nil, slave, en end
  return take(t, slave, master)
end

--- A process joining a running container (wbl exec), inside it (its
-- mount namespace and root): a new pty of the container's devpts as the
-- controlling terminal of a new session and fds 0, 1, 2 (/dev/pts/N; its
-- /dev/console stays PID 1's); the master sent to the host and closed
-- here.  The host side is the same as for a container's PID 1.
function M.attach_process(t)
  t.sock:close() -- the host's end
  local opened = {}
  local function keep(f, ...)
    if f then opened[#opened + 1] = f end
    return f, ...
  end
  local ok, msg, en = attach_process(t, keep)
  for _, f in ipairs(opened) do f:close() end
  t.peer:close()
  return ok, msg, en
end

--- Host side: the copy loop, for Child:wait (wbl.proc) to run while it
-- waits.  The child's end of the socket is closed here (the child has
-- its own); SIGPIPE is ignored until the end (a closed output is then a
-- write error: the caller has gone, see hangup).
function Tty:pump()
  if self.peer then self.peer:close(); self.peer = nil end
  P.signal("SIGPIPE", "ignore")
  return self
end

--- What to poll: the socket until the master comes, then the master and
-- the caller's input (read with -i; otherwise only watched for a
-- hang-up).  Input waits while earlier input has not gone in yet.
function Tty:fds()
  local list, names = {}, {}
  local function add(name, f, events)
    list[#list + 1], names[#names + 1] = { f, events }, name
  end
  if self.sock then add("sock", self.sock, "in") end
  if self.master then
    local ev = self.hup and "" or "in"
    if self.pending ~= "" then ev = ev == "" and "out" or "in,out" end
    add("master", self.master, ev)
  end
  if self.master and not self.gone then
    add("input", self.input, (self.interactive and self.pending == "") and "in" or "")
  end
  self.polled = names
  return list
end

--- poll's answer for fds(): ready[i] is what it said of the i-th.
function Tty:ready(ready)
  for i, name in ipairs(self.polled) do
    local ev = ready[i]
    if ev then
      local ok, msg, en = self[name .. "_ready"](self, ev)
      if not ok then return nil, msg, en end
    end
  end
  return true
end

-- The master came (or the child ended before sending it: "", none).
function Tty:sock_ready()
  local data, fds, en = self.sock:recv_fds()
  self.sock:close()
  self.sock = nil
  if not data then return nil, fds, en end
  if not fds[1] then return true end
  self.master = fds[1]
  local ok, msg
  ok, msg, en = self.master:nonblock()
  if not ok then return nil, msg, en end
  self:resize()
  if self.interactive then
    self.saved, msg, en = pty.raw(self.input)
    if not self.saved then return nil, msg, en end
  end
  return true
end

-- The container wrote (or no process inside holds its terminal any more:
-- EIO; it may open it again, but until it ends there is nothing to read).
function Tty:master_ready(ev)
  if ev:find("out", 1, true) then
    local ok, msg, en = self:flush()
    if not ok then return nil, msg, en end
  end
  if not (ev:find("in", 1, true) or ev:find("hup", 1, true) or ev:find("err", 1, true)) then return true end
  local data, _, en = self.master:read(65536)
  if en == E.EAGAIN then return true end
  if not data or data == "" then
    self.hup = true
    return true
  end
  if not fd.write(self.output, data) then self:hangup() end
  return true
end

-- The caller typed; or its terminal is gone (end of file, EIO, a hang-up).
function Tty:input_ready(ev)
  local data
  if ev:find("in", 1, true) then data = fd.read(self.input, 4096) end
  if not data or data == "" then
    self:hangup()
    return true
  end
  self.pending = self.pending .. data
  return self:flush()
end

-- Input into the master as far as it takes it (the rest waits for POLLOUT).
function Tty:flush()
  if not self.master or self.pending == "" then return true end
  local n, msg, en = self.master:write(self.pending)
  if not n then
    if en == E.EAGAIN then return true end
    if en == E.EIO then self.pending = ""; return true end -- nobody inside holds it
    return nil, msg, en
  end
  self.pending = self.pending:sub(n + 1)
  return true
end

--- The caller's terminal is gone: the container's is hung up, as a real
-- terminal's would be (its session gets SIGHUP, its readers end of file).
function Tty:hangup()
  self.gone = true
  self.pending = ""
  if self.master then self.master:close(); self.master = nil end
end

--- The caller's window size, passed on to the container's terminal (the
-- kernel then sends SIGWINCH to its foreground process group).
function Tty:resize()
  local rows, cols = pty.get_size(self.input)
  if not rows then rows, cols = pty.get_size(self.output) end
  if rows and self.master then return pty.set_size(self.master, rows, cols) end
  return true
end

--- A signal for wbl: SIGWINCH is a resize, taken here; the others go on
-- to the container's PID 1.
function Tty:signal(sig)
  if sig == P.signals.SIGWINCH then
    self:resize()
    return true
  end
  return false
end

--- The container has ended: what it wrote last is copied out (until its
-- terminal's end of file, or 200 ms without output: a process outside
-- its PID namespace may still hold it), then the caller's terminal is
-- put back.  A child that ended at once (its command not found) may have
-- sent the master in the same poll round as its SIGCHLD: it is taken
-- first, or its last words are lost.
function Tty:finish()
  if self.sock then
    local ready = fd.poll({ { self.sock, "in" } }, 200)
    if ready and ready[1] then self:sock_ready() end
  end
  while self.master and not self.hup do
    local ready = fd.poll({ self.master }, 200)
    if not ready or not ready[1] then break end
    local ok = self:master_ready(ready[1])
    if not ok then break end
  end
  return self:close()
end

--- Put the caller's terminal back in its mode (idempotent).
function Tty:restore()
  local saved = self.saved
  self.saved = nil
  if saved then return pty.set_mode(self.input, saved) end
  return true
end

--- Restore the caller's terminal; close the master and sockets.  Every
-- way out of the wait runs it (__close), and so does the teardown.
function Tty:close()
  local ok, msg, en = self:restore()
  for _, k in ipairs { "master", "sock", "peer" } do
    if self[k] then self[k]:close(); self[k] = nil end
  end
  P.signal("SIGPIPE", "default")
  return ok, msg, en
end
Tty.__close = Tty.close

return M
