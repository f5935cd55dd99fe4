--- run -d -t: a detached container's terminal stays with its supervisor,
-- and `wbl attach` connects a terminal to it, as docker attach does.
--
-- The pty is made in the container as for -t in the foreground (wbl.tty:
-- init.lua binds its slave at /dev/console and sends the master out);
-- here the master goes to the supervisor, which
--   * always reads it, so the container never blocks on a full terminal:
--     what it writes goes to its log (stream stdout, wbl.logs) and to the
--     attached client, if there is one;
--   * listens on attach.sock (mode 0600) in the state directory, one
--     client at a time: a second is refused, with a message, and the first
--     stays (two people typing into one shell is no use);
--   * takes the client's window size, and its input with -i (without -i
--     the container's terminal gets no input, as docker);
--   * tells the client the exit status once the container has ended and
--     been torn down.
-- The client (M.attach) puts the caller's terminal in raw mode while it is
-- attached, back on every way out, passes resizes on (SIGWINCH), and ends
-- at the detach keys (Ctrl-P Ctrl-Q), leaving the container running.
--
-- The protocol: SOCK_SEQPACKET messages (each read whole), the first byte
-- its kind:
--   client -> supervisor    "i" input bytes; "w" rows, columns (">I2I2")
--   supervisor -> client    "a" attached; "e" refused, and why;
--                           "o" output bytes; "x" the exit status ("5",
--                           or "5 restart": --restart runs it again)
--
--   supervisor, each life    term = console.new(c, log)     wbl.supervisor
--   host, create.lua         c._tty = term:listen()         (not tty.new)
--   container, before pivot  tty.attach(c._tty, root)       init.lua
--   host, the wait           child:wait(term:pump())        wbl.container.wait
--   host, after teardown     term:ended(status, again)      wbl.supervisor
local core = require "wbl.core"
local pty, fd, P, E = core.pty, core.fd, core.proc, core.errno

local M = {}

--- The socket's name in the state directory.
M.socket_name = "attach.sock"

--- The detach keys: Ctrl-P Ctrl-Q, as docker.
M.detach_keys = "\16\17"

local CHUNK = 65536    -- bytes read at once: a message is one kind byte and at most this
local QUEUE = 1 << 20  -- output held for a client that does not read; more is dropped
local INPUT = 1 << 16  -- input held for a container that does not read; more is dropped

-- A path to reach dir/attach.sock by: itself, or (too long for a unix
-- socket's 108 bytes) through an O_PATH fd of dir, returned to be closed
-- once the socket is bound or connected.
local function sockpath(dir)
  local path = dir .. "/" .. M.socket_name
  if #path < 100 then return path end
  local d, msg, en = fd.open(dir, "path,directory")
  if not d then return nil, msg, en end
  return "/proc/self/fd/" .. d:fileno() .. "/" .. M.socket_name, d
end

-- The supervisor's side ------------------------------------------------------

local Console = {}
Console.__index = Console

--- A console for c's next life (-t, detached): the socket its terminal's
-- master comes back on (as wbl.tty.new: init.lua's tty.attach takes
-- sock, peer, rows and cols), around the supervisor's log pump (what the
-- container writes before its terminal is set up still goes there).
function M.new(c, log)
  local ours, theirs, en = fd.socketpair()
  if not ours then return nil, theirs, en end
  return setmetatable({ c = c, log = log, sock = ours, peer = theirs, rows = 24, cols = 80,
                        interactive = c.spec.wbl.interactive, pending = "", queue = {}, queued = 0 },
    Console)
end

--- In create.lua, once the state directory exists: listen on attach.sock
-- there (a previous life's is replaced), and open the log.  Returns self.
function Console:listen()
  local file = self.c.state_dir .. "/" .. M.socket_name
  os.remove(file)
  local path, holder, en = sockpath(self.c.state_dir)
  if not path then return nil, holder, en end
  local l, msg
  l, msg, en = fd.listen(path, "0600")
  if holder then holder:close() end
  if not l then return nil, msg, en end
  local ok
  ok, msg, en = l:nonblock()
  if not ok then l:close(); return nil, msg, en end
  self.listener, self.file = l, file
  self.log:writer() -- `wbl logs` of a container that printed nothing yet: an empty log
  return self
end

--- For Child:wait (wbl.proc): the child has its ends now.  SIGPIPE is
-- ignored until close (a client gone is then a write error, not death).
function Console:pump()
  if self.peer then self.peer:close(); self.peer = nil end
  self.log:pump()
  P.signal("SIGPIPE", "ignore")
  return self
end

--- What to poll: the log's pipes, then the socket until the master
-- comes, the master, the listening socket and the client.
function Console:fds()
  local list = self.log:fds()
  self.nlog = #list
  local names = {}
  local function add(name, f, events)
    list[#list + 1], names[#names + 1] = { f, events }, name
  end
  if self.sock then add("sock", self.sock, "in") end
  if self.master and not self.hup then add("master", self.master, self.pending ~= "" and "in,out" or "in") end
  if self.listener then add("listener", self.listener, "in") end
  if self.client then add("client", self.client, self.queue[1] and "in,out" or "in") end
  self.polled = names
  return list
end

--- poll's answer for fds().
function Console:ready(ready)
  local theirs = {}
  for i = 1, self.nlog do theirs[i] = ready[i] end
  local ok, msg, en = self.log:ready(theirs)
  if not ok then return nil, msg, en end
  for i, name in ipairs(self.polled) do
    local ev = ready[self.nlog + i]
    if ev and self[name] then -- (a handler before may have closed it)
      ok, msg, en = self[name .. "_ready"](self, ev)
      if not ok then return nil, msg, en end
    end
  end
  return true
end

function Console.signal() return false end -- every signal goes on to PID 1

-- The master came (or the child ended before sending it).  A slave is
-- held open here: the master then never reports a hang-up while the
-- container runs, even when no process inside holds its terminal.
function Console:sock_ready()
  local data, fds, en = self.sock:recv_fds()
  self.sock:close()
  self.sock = nil
  if not data then return nil, fds, en end
  if not fds[1] then return true end
  self.master = fds[1]
  local ok, msg
  ok, msg, en = self.master:nonblock()
  if not ok then return nil, msg, en end
  self.slave = pty.peer(self.master)
  pty.set_size(self.master, self.rows, self.cols)
  return self:flush()
end

-- Queue a message for the client (output is merged into the last one
-- while that stays a message's size); past QUEUE bytes it is dropped.
function Console:send(m)
  if not self.client then return true end
  local last = self.queue[#self.queue]
  if m:sub(1, 1) == "o" and last and last:sub(1, 1) == "o" and #last + #m <= CHUNK then
    self.queue[#self.queue] = last .. m:sub(2)
  elseif self.queued + #m <= QUEUE then
    self.queue[#self.queue + 1] = m
  else
    return true
  end
  self.queued = self.queued + #m
  return self:client_flush()
end

-- Send what is queued, as far as the client's socket takes it.
function Console:client_flush()
  while self.client and self.queue[1] do
    local m = self.queue[1]
    local n, _, en = self.client:write(m)
    if not n then
      if en ~= E.EAGAIN then self:drop() end -- gone
      return true
    end
    table.remove(self.queue, 1)
    self.queued = self.queued - #m
  end
  return true
end

--- The client is gone (or told to go).
function Console:drop()
  if self.client then self.client:close(); self.client = nil end
  self.queue, self.queued = {}, 0
end

-- The container wrote: to the log, and to the client.
function Console:master_ready(ev)
  if ev:find("out", 1, true) then
    local ok, msg, en = self:flush()
    if not ok then return nil, msg, en end
  end
  if not (ev:find("in", 1, true) or ev:find("hup", 1, true) or ev:find("err", 1, true)) then return true end
  local data, _, en = self.master:read(CHUNK)
  if en == E.EAGAIN then return true end
  if not data or data == "" then -- nobody holds its terminal (EIO): nothing more comes
    self.hup = true
    return true
  end
  self.log:writer():write("stdout", data)
  return self:send("o" .. data)
end

-- Input into the master as far as it takes it (the rest waits for POLLOUT).
function Console:flush()
  if not self.master or self.pending == "" then return true end
  local n, msg, en = self.master:write(self.pending)
  if not n then
    if en == E.EAGAIN then return true end
    if en == E.EIO then self.pending = ""; return true end
    return nil, msg, en
  end
  self.pending = self.pending:sub(n + 1)
  return true
end

-- A client connects: it is the one, or it is told why not.
function Console:listener_ready()
  local conn = self.listener:accept()
  if not conn then return true end
  if self.client then
    conn:nonblock()
    conn:write(("e" .. "container %s has a terminal attached already: one at a time (detach that one with "
      .. "Ctrl-P Ctrl-Q)"):format(self.c.id))
    conn:close()
    return true
  end
  conn:nonblock()
  self.client = conn
  self.queue, self.queued = {}, 0
  return self:send("a")
end

-- The client said something, or went.
function Console:client_ready(ev)
  if ev:find("out", 1, true) then self:client_flush() end
  if not self.client then return true end
  if not (ev:find("in", 1, true) or ev:find("hup", 1, true) or ev:find("err", 1, true)) then return true end
  local m, _, en = self.client:read(CHUNK + 1)
  if en == E.EAGAIN then return true end
  if not m or m == "" then self:drop(); return true end
  local kind, body = m:sub(1, 1), m:sub(2)
  if kind == "i" then
    if self.interactive and #self.pending + #body <= INPUT then
      self.pending = self.pending .. body
      return self:flush()
    end
  elseif kind == "w" and #body == 4 then
    self.rows, self.cols = string.unpack(">I2I2", body)
    if self.master then pty.set_size(self.master, self.rows, self.cols) end
  end
  return true
end

--- PID 1 has ended (and every process of its PID namespace): what it
-- wrote last is read (until the terminal's end, at most 200 ms of
-- silence), and the log's pipes to their ends.
function Console:finish()
  if self.sock then -- sent in the poll round of its SIGCHLD (wbl.tty's finish)
    local ready = fd.poll({ { self.sock, "in" } }, 200)
    if ready and ready[1] then self:sock_ready() end
  end
  if self.slave then self.slave:close(); self.slave = nil end -- the master may hang up now
  while self.master and not self.hup do
    local ready = fd.poll({ self.master }, 200)
    if not ready or not ready[1] then break end
    if not self:master_ready(ready[1]) then break end
  end
  self.log:finish()
  return self:close()
end

--- The container's side closed: its terminal, the sockets, the log.  The
-- client stays connected until ended() (idempotent; destroy runs it too).
function Console:close()
  for _, k in ipairs { "master", "slave", "sock", "peer" } do
    if self[k] then self[k]:close(); self[k] = nil end
  end
  self.log:close()
  P.signal("SIGPIPE", "default")
  return true
end
Console.__close = Console.close

--- After the teardown: the client hears the exit status (nil: wbl failed,
-- 125; again: --restart runs it again), and goes; no one listens any more.
function Console:ended(status, again)
  self:close()
  if self.client then
    P.signal("SIGPIPE", "ignore")
    self:send(("x%d%s"):format(status or 125, again and " restart" or ""))
    -- what is queued goes out (a client that reads nothing for 2 s loses it)
    while self.client and self.queue[1] do
      local ready = fd.poll({ { self.client, "out" } }, 2000)
      if not ready or not ready[1] then break end
      self:client_flush()
    end
    P.signal("SIGPIPE", "default")
  end
  self:drop()
  if self.listener then
    self.listener:close()
    self.listener = nil
    os.remove(self.file)
  end
  return true
end

-- The client's side: wbl attach ----------------------------------------------

--- "ctrl-p,ctrl-q" (docker's --detach-keys: ctrl-a..ctrl-z, ctrl-@,
-- ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_, or single characters) as bytes.
function M.parse_keys(s)
  if s == "" then return "" end
  local out = {}
  for k in (s .. ","):gmatch("([^,]*),") do
    local c = k:lower():match("^ctrl%-(.)$")
    if c and c:match("[a-z@%[\\%]%^_]") then
      out[#out + 1] = string.char(c:upper():byte() ~ 0x40)
    elseif #k == 1 then
      out[#out + 1] = k
    else
      return nil, ("bad detach key %q: expected ctrl-<a-z@[\\]^_> or one character"):format(k), E.EINVAL
    end
  end
  return table.concat(out)
end

--- A scanner of typed input for the detach keys (bytes): scan(data)
-- returns what goes to the container, and true once the keys were typed.
-- A partial sequence is held for the next call; one broken off goes on
-- as typed, as docker does.
function M.detach_scanner(keys)
  local held = ""
  return function(data)
    local out = {}
    for i = 1, #data do
      local b = data:sub(i, i)
      if keys ~= "" and b == keys:sub(#held + 1, #held + 1) then
        held = held .. b
        if #held == #keys then
          held = ""
          return table.concat(out), true
        end
      else
        if held ~= "" then out[#out + 1] = held; held = "" end
        if keys ~= "" and b == keys:sub(1, 1) then held = b else out[#out + 1] = b end
      end
    end
    return table.concat(out), false
  end
end

local Attach = {}
Attach.__index = Attach

-- A message for the supervisor (input beyond INPUT waiting is dropped).
function Attach:send(m)
  if self.queued + #m > INPUT then return true end
  self.queue[#self.queue + 1] = m
  self.queued = self.queued + #m
  return self:flush()
end

function Attach:flush()
  while self.queue[1] do
    local n, msg, en = self.sock:write(self.queue[1])
    if not n then
      if en == E.EAGAIN then return true end
      return nil, msg, en
    end
    self.queued = self.queued - #self.queue[1]
    table.remove(self.queue, 1)
  end
  return true
end

function Attach:resize()
  local rows, cols = pty.get_size(self.input)
  if rows then return self:send("w" .. string.pack(">I2I2", rows, cols)) end
  return true
end

--- Put the caller's terminal back, the signal mask and SIGPIPE too
-- (idempotent: every way out runs it).
function Attach:close()
  if self.saved then pty.set_mode(self.input, self.saved); self.saved = nil end
  if self.sfd then self.sfd:close(); self.sfd = nil end
  if self.mask then P.sigprocmask("set", self.mask); self.mask = nil end
  if self.sock then self.sock:close(); self.sock = nil end
  P.signal("SIGPIPE", "default")
end
Attach.__close = Attach.close

-- The copy loop.  Returns how it ended: "exited", status, again;
-- "detached"; "signal", N; "hangup" (the caller's terminal went); "lost"
-- (the supervisor went without a word); or nil, message, errno.
function Attach:loop()
  local input = self.input
  while true do
    local list = { self.sfd, { self.sock, self.queue[1] and "in,out" or "in" } }
    if not self.gone then list[3] = { input, "in" } end
    local ready, msg, en = fd.poll(list, -1)
    if not ready then return nil, msg, en end
    if ready[1] then
      local sig = P.sigread(self.sfd)
      if sig == P.signals.SIGWINCH then
        self:resize()
      elseif sig then
        return "signal", sig
      end
    end
    if ready[2] then
      if ready[2]:find("out", 1, true) then
        local ok, m, e = self:flush()
        if not ok then return nil, m, e end
      end
      local m, _, e = self.sock:read(CHUNK + 1)
      if e ~= E.EAGAIN then
        if not m or m == "" then return "lost" end
        local kind, body = m:sub(1, 1), m:sub(2)
        if kind == "o" then
          if not fd.write(self.output, body) then return "hangup" end
        elseif kind == "x" then
          local status, rest = body:match("^(%d+)(.*)$")
          return "exited", tonumber(status), rest == " restart"
        end
      end
    end
    if ready[3] then
      local data = ready[3]:find("in", 1, true) and fd.read(input, 4096)
      if not data or data == "" then
        self.gone = true -- the caller's terminal is gone
        return "hangup"
      end
      local typed, detach = self.scan(data)
      if typed ~= "" then
        local ok, m, e = self:send("i" .. typed)
        if not ok then return nil, m, e end
      end
      if detach then return "detached" end
    end
  end
end

--- Attach the caller's terminal (input, output: fds, default 0 and 1) to
-- the detached container c (a state from wbl.state, run with -d -t).
-- keys: the detach sequence (bytes; default M.detach_keys, "" none).
-- @return how it ended (see Attach:loop: "exited", status, again |
--   "detached" | "signal", N | "hangup" | "lost"), or nil, message,
--   errno: EBUSY (another client is attached), ESRCH (not running)
function M.attach(c, keys, input, output)
  input, output = input or 0, output or 1
  local self <close> = setmetatable({ c = c, scan = M.detach_scanner(keys or M.detach_keys), input = input,
                                      output = output, queue = {}, queued = 0 }, Attach)
  P.signal("SIGPIPE", "ignore") -- the supervisor gone is then a write error
  local path, holder, en = sockpath(c.state_dir)
  if not path then return nil, holder, en end
  local sock, msg
  sock, msg, en = fd.connect(path)
  if holder then holder:close() end
  if not sock then
    if en == E.ENOENT or en == E.ECONNREFUSED then
      return nil, ("container %s is not running"):format(c.id), E.ESRCH
    end
    return nil, msg, en
  end
  self.sock = sock
  -- the supervisor's answer: attached, or why not
  if not sock:wait(10000) then return nil, "no answer from the container's supervisor", E.ETIMEDOUT end
  local first = sock:read(CHUNK + 1)
  if not first or first == "" or first:sub(1, 1) == "x" then
    return nil, ("container %s is not running"):format(c.id), E.ESRCH
  end
  if first:sub(1, 1) == "e" then return nil, first:sub(2), E.EBUSY end
  local ok
  ok, msg, en = sock:nonblock()
  if not ok then return nil, msg, en end
  -- signals come through a signalfd: SIGWINCH is a resize, the others
  -- end the attach (the container keeps running)
  local sigs = { "SIGWINCH", "SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT" }
  self.mask, msg, en = P.sigprocmask("block", sigs)
  if not self.mask then return nil, msg, en end
  self.sfd, msg, en = P.signalfd(sigs)
  if not self.sfd then return nil, msg, en end
  ok, msg, en = self:resize()
  if not ok then return nil, msg, en end
  if fd.isatty(input) then
    self.saved, msg, en = pty.raw(input)
    if not self.saved then return nil, msg, en end
  end
  return self:loop()
end

return M
