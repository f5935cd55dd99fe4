-- The pieces of wbl attach that need no container: the unix socket
-- bindings (fd.listen, connect, accept), the detach keys.
local core = require "wbl.core"
local console = require "wbl.console"
local fd, fs, E = core.fd, core.fs, core.errno

describe("wbl.core.fd listen, connect, accept #unit", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() require("wbl.util").rm_rf(dir) end)

  it("a socket file of the mode asked, messages kept whole both ways, end of file", function()
    local path = dir .. "/s.sock"
    local l <close> = assert(fd.listen(path, "0600"))
    local st = assert(fs.stat(path))
    assert.equal("socket", st.type)
    assert.equal(tonumber("600", 8), st.mode)
    local c <close> = assert(fd.connect(path))
    local a <close> = assert(l:accept())
    assert(c:write("one"))
    assert(c:write("two"))
    assert.equal("one", a:read(100)) -- SOCK_SEQPACKET: one message a read
    assert.equal("two", a:read(100))
    assert(a:write(string.rep("x", 70000)))
    assert.equal(70000, #c:read(70001))
    c:close()
    assert.equal("", a:read(100))
  end)

  it("accept on a non-blocking socket with nobody waiting: EAGAIN", function()
    local l <close> = assert(fd.listen(dir .. "/s.sock"))
    assert(l:nonblock())
    assert.equal(E.EAGAIN, select(3, l:accept()))
    assert.equal(E.EAGAIN, select(3, fd.accept(l)))
  end)

  it("failures: the path taken, no socket, nobody listening, a path too long", function()
    local path = dir .. "/s.sock"
    local l = assert(fd.listen(path))
    local _, msg, en = fd.listen(path)
    assert.equal(E.EADDRINUSE, en)
    assert.matches("^bind " .. path:gsub("%p", "%%%0"), msg)
    l:close()
    assert.equal(E.ECONNREFUSED, select(3, fd.connect(path)))
    assert.equal(E.ENOENT, select(3, fd.connect(dir .. "/none.sock")))
    local long = dir .. "/" .. string.rep("n", 120)
    assert.equal(E.ENAMETOOLONG, select(3, fd.listen(long)))
    assert.equal(E.ENAMETOOLONG, select(3, fd.connect(long)))
    assert.has_error(function() fd.accept(l) end) -- a closed handle
  end)
end)

describe("wbl.console detach keys #unit", function()
  it("parse_keys: docker's names", function()
    assert.equal("\16\17", console.parse_keys("ctrl-p,ctrl-q"))
    assert.equal("\1d", console.parse_keys("ctrl-a,d"))
    assert.equal("\0\27\28\29\30\31", console.parse_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_"))
    assert.equal("", console.parse_keys(""))
    assert.is_nil(console.parse_keys("ctrl-#"))
    assert.is_nil(console.parse_keys("ab"))
  end)

  it("the scanner: keys detach, across reads too; a broken-off sequence goes on as typed", function()
    local scan = console.detach_scanner("\16\17")
    assert.same({ "ls\r", false }, { scan("ls\r") })
    assert.same({ "x", true }, { scan("x\16\17y") })
    assert.same({ "a", false }, { scan("a\16") }) -- held
    assert.same({ "", true }, { scan("\17") })
    assert.same({ "\16b", false }, { scan("\16b") }) -- broken off: both go
    assert.same({ "\16", true }, { scan("\16\16\17") })
    local none = console.detach_scanner("")
    assert.same({ "\16\17", false }, { none("\16\17") })
  end)
end)

describe("wbl.console finish #unit #tty", function()
  local dir
  before_each(function() dir = H.tmpdir() end)
  after_each(function() require("wbl.util").rm_rf(dir) end)

  -- As wbl.tty's: a command that is not there ends at once, its master on
  -- the socket and its SIGCHLD in the same poll round, the SIGCHLD taken
  -- first.  What it wrote must still reach the log.
  it("takes a master still on the socket, and logs the child's last words", function()
    local pty, P = core.pty, core.proc
    local c = { state_dir = dir, spec = { wbl = { interactive = false } } }
    local log = assert(require("wbl.supervisor").log_pump(c))
    local term = assert(console.new(c, log))
    local pid = assert(P.fork())
    if pid == 0 then -- the container's side: send the master, write, end
      local ok = pcall(function()
        local m = assert(pty.open())
        local s = assert(pty.peer(m))
        assert(term.peer:send_fds({ m }, "pty"))
        m:close()
        assert(s:write("last words\n"))
      end)
      P._exit(ok and 0 or 99)
    end
    local _, how, code = P.waitpid(pid)
    assert.same({ "exited", 0 }, { how, code })
    term:pump()
    assert.is_nil(term.master) -- nothing read yet: the wait saw the SIGCHLD first
    term:finish()
    local got = {}
    for _, r in ipairs(require("wbl.logs").records(dir)) do got[#got + 1] = r.log end
    assert.equal("last words\r\n", table.concat(got))
  end)
end)
