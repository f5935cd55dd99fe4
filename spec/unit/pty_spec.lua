-- The core's terminal primitives (wbl.core.pty, fd.poll, fd.send_fds,
-- proc.signalfd), each shown by what the other side sees.  No root needed:
-- ptys come from the host's /dev/ptmx.
local core = require "wbl.core"
local pty, fd, P, E = core.pty, core.fd, core.proc, core.errno

-- Fork; fn runs in the child (its return: the exit code); wait for it.
local function in_child(fn)
  local pid = assert(P.fork())
  if pid == 0 then
    local ok, r = pcall(fn)
    P._exit(ok and (tonumber(r) or 0) or 99)
  end
  return pid
end

-- Read f until what came ends with want (the pty passes bytes on
-- asynchronously: one read may get part of them); what came.
local function read_until(f, want)
  local got = ""
  for _ = 1, 100 do
    if got:sub(-#want) == want then break end
    if (fd.poll({ f }, 50))[1] then got = got .. f:read() end
  end
  return got
end

local function status(pid)
  local _, how, code = P.waitpid(pid)
  return how, code
end

describe("wbl.core.pty #unit #tty", function()
  it("opens a pair: what is written on one side is read on the other", function()
    local m <close> = assert(pty.open())
    local s <close> = assert(pty.peer(m))
    local name, n = assert(pty.ptsname(m))
    assert.equal("/dev/pts/" .. n, name)
    assert.equal(name, core.fs.readlink("/proc/self/fd/" .. s:fileno())) -- the host's devpts here
    assert.is_true(s:isatty())
    assert(m:write("hello\n"))
    assert.equal("hello\n", read_until(s, "\n"))
    assert(s:write("back\n"))
    -- the input echoed, then the output; \n -> \r\n (the slave's processing)
    assert.equal("hello\r\nback\r\n", read_until(m, "back\r\n"))
  end)

  it("raw mode: a byte is readable at once (no line to wait for); the mode comes back", function()
    local m <close> = assert(pty.open())
    local s <close> = assert(pty.peer(m))
    local cooked = assert(pty.get_mode(s))
    assert(m:write("x"))
    assert.same({}, (fd.poll({ s }, 100))) -- canonical: waits for a newline
    local saved = assert(pty.raw(s))
    assert.equal(cooked, saved)
    assert.not_equal(cooked, pty.get_mode(s))
    assert.equal("in", (fd.poll({ s }, 1000))[1])
    assert.equal("x", s:read())
    assert(m:write("\3")) -- Ctrl-C: a byte, not SIGINT
    assert.equal("\3", s:read())
    assert(pty.set_mode(s, saved))
    assert.equal(cooked, pty.get_mode(s))
    assert.has_error(function() pty.set_mode(s, "short") end)
  end)

  it("a window size set on the master is the slave's, and its foreground process gets SIGWINCH", function()
    local m <close> = assert(pty.open())
    local s <close> = assert(pty.peer(m))
    assert(pty.set_size(m, 31, 97))
    assert.same({ 31, 97 }, { pty.get_size(s) })
    local r, w = assert(fd.pipe())
    local pid = in_child(function()
      r:close()
      assert(P.sigprocmask("block", { "SIGWINCH" }))
      assert(P.setsid())
      assert(pty.set_ctty(s)) -- its session's terminal; its group the foreground one
      w:write("r")
      local sig = P.sigwait({ "SIGWINCH" }, 5000)
      return (sig == P.signals.SIGWINCH and pty.get_size(s) == 40) and 0 or 1
    end)
    w:close()
    assert.equal("r", r:read(1))
    assert(pty.set_size(m, 40, 100))
    assert.same({ "exited", 0 }, { status(pid) })
    assert.same({ nil, "TIOCGWINSZ: Inappropriate ioctl for device", E.ENOTTY },
      { pty.get_size(r) })
    r:close()
  end)

  it("set_ctty makes it /dev/tty of a new session", function()
    local m <close> = assert(pty.open())
    local s <close> = assert(pty.peer(m))
    local pid = in_child(function()
      assert(P.setsid())
      local t0 = fd.open("/dev/tty", "rdwr") -- no controlling terminal yet
      if t0 then return 2 end
      assert(pty.set_ctty(s))
      local t <close> = assert(fd.open("/dev/tty", "rdwr"))
      assert(t:write("via-dev-tty\n"))
      return 0
    end)
    assert.same({ "exited", 0 }, { status(pid) })
    assert.equal("via-dev-tty\r\n", read_until(m, "\n"))
  end)
end)

describe("wbl.core.fd poll, socketpair, send_fds #unit #tty", function()
  it("poll: a timeout is an empty answer; readiness, writability and hang-up by entry", function()
    local r, w = assert(fd.pipe())
    local ready, n = fd.poll({ r }, 20)
    assert.same({}, ready)
    assert.equal(0, n)
    assert(w:write("x"))
    ready, n = fd.poll({ r, { w, "out" }, { r, "" } }, 0)
    assert.same({ "in", "out" }, ready)
    assert.equal(2, n)
    w:close()
    ready = fd.poll({ { r, "" } }, 0)
    assert.equal("hup", ready[1])
    r:close()
    assert.has_error(function() fd.poll({ r }, 0) end) -- a closed handle
  end)

  it("a pty master crosses a socket: the one received is the same pty", function()
    local m = assert(pty.open())
    local s <close> = assert(pty.peer(m))
    local a <close>, b = assert(fd.socketpair())
    local pid = in_child(function() -- the sender: another process
      b:close()
      assert(a:send_fds({ m }, "pty"))
      return 0
    end)
    local name = pty.ptsname(m)
    m:close()
    assert.same({ "exited", 0 }, { status(pid) })
    local data, fds = assert(b:recv_fds())
    assert.equal("pty", data)
    assert.equal(1, #fds)
    assert.equal(name, pty.ptsname(fds[1]))
    assert(fds[1]:write("through\n"))
    assert.equal("through\n", read_until(s, "\n"))
    a:close()
    data, fds = assert(b:recv_fds()) -- the other end closed: end of file
    assert.equal("", data)
    assert.same({}, fds)
    b:close()
  end)

  it("nonblock: EAGAIN instead of a wait; a write stops at EAGAIN with what was taken", function()
    local r <close>, w = assert(fd.pipe())
    assert(r:nonblock())
    assert.same({ nil, "read: Resource temporarily unavailable", E.EAGAIN }, { r:read() })
    assert(w:nonblock())
    local n = assert(w:write(string.rep("x", 1 << 20))) -- more than a pipe holds
    assert.is_true(n > 0 and n < 1 << 20)
    assert.equal(E.EAGAIN, select(3, w:write("y")))
    w:close()
  end)
end)

describe("wbl.core.proc signalfd #unit #tty", function()
  it("reads a blocked signal with its sender; EAGAIN when none is pending", function()
    local old = assert(P.sigprocmask("block", { "SIGUSR1" }))
    finally(function() P.sigprocmask("set", old) end)
    local sfd <close> = assert(P.signalfd({ "SIGUSR1" }))
    assert.equal(E.EAGAIN, select(3, P.sigread(sfd)))
    assert(P.kill(P.getpid(), "SIGUSR1"))
    assert.equal("in", (fd.poll({ sfd }, 1000))[1])
    assert.same({ P.signals.SIGUSR1, P.getpid() }, { P.sigread(sfd) })
    assert.same({}, (fd.poll({ sfd }, 0)))
  end)
end)

describe("wbl.tty finish #unit #tty", function()
  -- A command that is not there ends at once: the master comes over the
  -- socket and the child's SIGCHLD in the same poll round, and the wait
  -- takes the SIGCHLD first.  finish must still take the master and copy
  -- what the child wrote (its "executable file not found").
  it("takes a master still on the socket and copies the child's last words", function()
    local tty = require "wbl.tty"
    local r <close>, w = assert(fd.pipe())
    local t = assert(tty.new(false, 0, w:fileno()))
    local pid = in_child(function() -- the container's side: send the master, write, end
      local m = assert(pty.open())
      local s = assert(pty.peer(m))
      assert(t.peer:send_fds({ m }, "pty"))
      m:close()
      assert(s:write("last words\n"))
      return 0
    end)
    assert.same({ "exited", 0 }, { status(pid) })
    t:pump() -- (closes the host's copy of the child's end)
    assert.is_nil(t.master) -- nothing read yet: the wait saw the SIGCHLD first
    t:finish()
    w:close()
    assert.equal("last words\r\n", read_until(r, "\n"))
    assert.is_nil(t.sock)
  end)
end)
