-- The core's primitives, each proven by what the kernel then shows.
local core = require "wbl.core"
local P, ns, fs, E = core.proc, core.ns, core.fs, core.errno

local tmpdir = H.tmpdir

describe("wbl.core.proc #priv", function()
  H.it_priv("clone into a new PID namespace makes the child PID 1", function()
    local r, w = assert(core.fd.pipe())
    local pid = assert(P.clone("pid"))
    if pid == 0 then
      w:write(tostring(P.getpid()))
      P._exit(0)
    end
    w:close()
    assert.equal("1", r:read())
    assert.same({ pid, "exited", 0 }, { P.waitpid(pid) })
  end)

  it("fork + waitpid decodes exit codes and signals", function()
    local pid = assert(P.fork())
    if pid == 0 then P._exit(42) end
    assert.same({ pid, "exited", 42 }, { P.waitpid(pid) })
    pid = assert(P.fork())
    if pid == 0 then
      P.kill(P.getpid(), "SIGKILL")
      P._exit(0)
    end
    local p, how, sig = P.waitpid(pid)
    assert.equal(pid, p)
    assert.equal("killed", how)
    assert.equal(P.signals.SIGKILL, sig)
  end)

  it("execve passes argv and env intact", function()
    local r, w = assert(core.fd.pipe())
    local pid = assert(P.fork())
    if pid == 0 then
      w:dup2(1)
      P.execve("/bin/sh", { "sh", "-c", 'printf "%s|%s|%s" "$1" "$2" "$X"', "sh", "a b", "" },
        { X = "é ü" })
      P._exit(127)
    end
    w:close()
    assert.equal("a b||é ü", r:read())
    assert.same({ pid, "exited", 0 }, { P.waitpid(pid) })
  end)

  it("exec failures return nil, message, errno", function()
    local ok, msg, en = P.execve("/nonexistent/x", { "x" }, {})
    assert.is_nil(ok)
    assert.equal(E.ENOENT, en)
    assert.matches("/nonexistent/x", msg)
  end)

  it("sigwait returns a blocked signal sent to us, and kill names signals", function()
    local old = assert(P.sigprocmask("block", { "SIGUSR1" }))
    assert(P.kill(P.getpid(), "USR1"))
    local sig, from = P.sigwait({ "SIGUSR1" }, 1000)
    P.sigprocmask("set", old)
    assert.equal(P.signals.SIGUSR1, sig)
    assert.equal(P.getpid(), from)
    local none, _, en = P.sigwait({ "SIGUSR2" }, 10)
    assert.is_nil(none)
    assert.equal(E.EAGAIN, en)
  end)

  it("prctl sets a parent-death signal that really fires", function()
    local r, w = assert(core.fd.pipe())
    local mid = assert(P.fork())
    if mid == 0 then
      r:close()
      local ready_r, ready_w = assert(core.fd.pipe())
      local pid = assert(P.fork())
      if pid == 0 then
        w:close()
        assert(P.prctl("pdeathsig", "SIGKILL"))
        ready_w:write("ready")
        ready_w:close()
        P.sigprocmask("block", { "SIGUSR2" })
        P.sigwait({ "SIGUSR2" }) -- blocks until killed
        P._exit(0)
      end
      ready_w:close()
      assert(ready_r:read() == "ready") -- pdeathsig is set before we die
      w:write(tostring(pid) .. " ")
      w:close()
      P._exit(0) -- the parent dies: the grandchild gets SIGKILL
    end
    w:close()
    local out = ""
    repeat
      local s = r:read()
      out = out .. s
    until s == ""
    P.waitpid(mid)
    local gpid = tonumber(out:match("^(%d+)"))
    assert.truthy(gpid)
    -- reparented to init (or a subreaper); it must be gone soon: poll /proc
    local gone = false
    for _ = 1, 200 do
      local st = fs.read_file("/proc/" .. gpid .. "/stat")
      if not st or st:match("%) ([ZX])") then gone = true break end
      P.sigwait({ "SIGUSR2" }, 10)
    end
    assert.is_true(gone)
  end)
end)

describe("wbl.core.ns #priv", function()
  H.it_priv("a new UTS namespace has its own hostname", function()
    local host = ns.gethostname()
    local r, w = assert(core.fd.pipe())
    local how, code = H.in_child(function()
      assert(ns.sethostname("wbl-inner-uts"))
      w:write(ns.gethostname())
      return 0
    end, "uts")
    w:close()
    assert.same({ "exited", 0 }, { how, code })
    assert.equal("wbl-inner-uts", r:read())
    assert.equal(host, ns.gethostname())
  end)

  H.it_priv("namespace identities differ from ours after clone, and setns joins", function()
    local r, w = assert(core.fd.pipe())
    local sync_r, sync_w = assert(core.fd.pipe())
    local pid = assert(P.clone("uts,net,ipc"))
    if pid == 0 then
      w:close()
      ns.sethostname("wbl-setns")
      sync_w:write("x")
      r:read() -- until the parent closes
      P._exit(0)
    end
    sync_w:close()
    assert.equal("x", sync_r:read(1))
    for _, name in ipairs { "uts", "net", "ipc" } do
      assert.not_equal((ns.id(0, name)), (ns.id(pid, name)))
    end
    assert.equal((ns.id(0, "pid")), (ns.id(pid, "pid")))
    -- setns into the child's UTS namespace from a forked helper
    local out_r, out_w = assert(core.fd.pipe())
    local how = H.in_child(function()
      assert(ns.setns("/proc/" .. pid .. "/ns/uts", "uts"))
      out_w:write(ns.gethostname())
      return 0
    end)
    out_w:close()
    assert.equal("exited", how)
    assert.equal("wbl-setns", out_r:read())
    w:close()
    P.waitpid(pid)
  end)

  H.it_priv("a new network namespace has only lo, down until set up", function()
    local r, w = assert(core.fd.pipe())
    local how, code = H.in_child(function()
      local before = fs.read_file("/sys/class/net/lo/operstate")
      w:write(table.concat(fs.readdir("/proc/self/net/dev_snmp6") or {}, ","))
      return before and 0 or 1
    end, "net,mnt")
    w:close()
    assert.same({ "exited", 0 }, { how, code })
    assert.equal("lo", r:read())
    local ok, msg, en = ns.setns("/proc/1/ns/nonexistent")
    assert.is_nil(ok)
    assert.equal(E.ENOENT, en)
    assert.matches("nonexistent", msg)
  end)
end)

describe("wbl.core.mount #priv", function()
  H.it_priv("a mount made in a private mount namespace is invisible outside", function()
    local d = tmpdir()
    local before = H.mounts()
    local r, w = assert(core.fd.pipe())
    local how, code = H.in_child(function()
      assert(core.mount.mount(nil, "/", nil, "rec,private"))
      assert(core.mount.mount("tmpfs", d, "tmpfs", "nosuid,nodev", "size=1m"))
      assert(fs.write_file(d .. "/inside", "x"))
      w:write(fs.read_file("/proc/self/mountinfo"):find(d, 1, true) and "seen" or "missing")
      return 0
    end, "mnt")
    w:close()
    assert.same({ "exited", 0 }, { how, code })
    assert.equal("seen", r:read())
    assert.is_nil(fs.stat(d .. "/inside"))
    assert.equal(before, H.mounts())
    fs.rmdir(d)
  end)

  H.it_priv("pivot_root makes the new root / and detaches the old one", function()
    local root = tmpdir()
    local r, w = assert(core.fd.pipe())
    local how, code = H.in_child(function()
      assert(core.mount.mount(nil, "/", nil, "rec,private"))
      assert(core.mount.mount("tmpfs", root, "tmpfs", nil, "size=1m"))
      assert(fs.write_file(root .. "/marker", "new root"))
      assert(fs.chdir(root))
      assert(core.mount.pivot_root(".", "."))
      assert(core.mount.umount2(".", "detach"))
      assert(fs.chdir("/"))
      w:write(fs.read_file("/marker") .. "|" .. table.concat(fs.readdir("/"), ",") .. "|" ..
        tostring(fs.stat("/etc") ~= nil))
      return 0
    end, "mnt")
    w:close()
    assert.same({ "exited", 0 }, { how, code })
    assert.equal("new root|marker|false", r:read())
    fs.rmdir(root)
  end)

  H.it_priv("mount errors name the target and the errno", function()
    local ok, msg, en = core.mount.mount("none", "/nonexistent/wbl", "tmpfs")
    assert.is_nil(ok)
    assert.equal(E.ENOENT, en)
    assert.matches("/nonexistent/wbl", msg)
    ok, msg, en = core.mount.pivot_root("/nonexistent", "/nonexistent")
    assert.is_nil(ok)
    assert.truthy(en)
    assert.matches("pivot_root /nonexistent", msg)
    assert.has_error(function() core.mount.mount(nil, "/x", nil, "bogus") end)
  end)
end)

describe("wbl.core.fs and fd #unit", function()
  it("mkdir_p makes every component and accepts existing ones", function()
    local d = tmpdir()
    assert.is_true(fs.mkdir_p(d .. "/a/b/c", "0750"))
    assert.equal("directory", fs.stat(d .. "/a/b/c").type)
    assert.equal(tonumber("750", 8), fs.stat(d .. "/a/b/c").mode)
    assert.is_true(fs.mkdir_p(d .. "/a/b/c"))
    assert(fs.write_file(d .. "/f", "x"))
    local ok, _, en = fs.mkdir_p(d .. "/f/g")
    assert.is_nil(ok)
    assert.equal(E.ENOTDIR, en)
    require("wbl.util").rm_rf(d)
  end)

  it("write_file writes exactly and reports the kernel's errno", function()
    local d = tmpdir()
    assert.is_true(fs.write_file(d .. "/f", "abc\0def"))
    assert.equal("abc\0def", fs.read_file(d .. "/f"))
    assert.is_true(fs.write_file(d .. "/f", "++", "append"))
    assert.equal("abc\0def++", fs.read_file(d .. "/f"))
    local ok, msg, en = fs.write_file(d, "x")
    assert.is_nil(ok)
    assert.equal(E.EISDIR, en)
    assert.matches(d, msg, 1, true)
    ok, msg, en = fs.write_file(d .. "/missing", "x", "")
    assert.matches("missing", msg)
    assert.is_nil(ok)
    assert.equal(E.ENOENT, en)
    require("wbl.util").rm_rf(d)
  end)

  it("fds close once, by __close, and report use after close", function()
    local r, w = assert(core.fd.pipe())
    do
      local w2 <close> = w
      assert.equal(3, w2:write("abc"))
    end
    assert.equal("wbl.fd (closed)", tostring(w))
    assert.is_true(w:close())
    assert.equal("abc", r:read())
    assert.equal("", r:read())
    assert.has_error(function() w:write("x") end)
    local n = r:release()
    assert.is_number(n)
    assert.is_true(core.fd.close(n))
  end)
end)

describe("wbl.core more primitives #priv", function()
  H.it_priv("unshare moves the caller; setdomainname changes only the new UTS namespace", function()
    local host_dom = fs.read_file("/proc/sys/kernel/domainname")
    local r, w = assert(core.fd.pipe())
    local how, code = H.in_child(function()
      local before = ns.id(0, "uts")
      assert(ns.unshare("uts"))
      assert(ns.setdomainname("wbl.example"))
      w:write((ns.id(0, "uts") ~= before and "moved" or "same") .. " " .. fs.read_file("/proc/sys/kernel/domainname"))
      return 0
    end)
    w:close()
    assert.same({ "exited", 0 }, { how, code })
    assert.equal("moved wbl.example\n", r:read())
    assert.equal(host_dom, fs.read_file("/proc/sys/kernel/domainname"))
  end)

  it("setsid makes a new session led by the caller", function()
    local r, w = assert(core.fd.pipe())
    local how = H.in_child(function()
      local sid = assert(P.setsid())
      local stat = fs.read_file("/proc/self/stat"):match("%) (.*)$")
      local fields = {}
      for f in stat:gmatch("%S+") do fields[#fields + 1] = f end
      w:write(tostring(sid == P.getpid() and tonumber(fields[4]) == sid))
      return 0
    end)
    w:close()
    assert.equal("exited", how)
    assert.equal("true", r:read())
  end)

  it("execvp searches PATH; dup2 makes the copy survive exec", function()
    local r, w = assert(core.fd.pipe())
    local pid = assert(P.fork())
    if pid == 0 then
      pcall(function()
        w:dup2(1)
        P.execvp("echo", { "echo", "found on PATH" })
      end)
      P._exit(127)
    end
    w:close()
    assert.equal("found on PATH\n", r:read())
    assert.same({ pid, "exited", 0 }, { P.waitpid(pid) })
    local ok, _, en = P.execvp("wbl-no-such-program", { "x" })
    assert.is_nil(ok)
    assert.equal(E.ENOENT, en)
  end)

  it("signal() ignores and restores a disposition, which exec keeps", function()
    local r, w = assert(core.fd.pipe())
    local pid = assert(P.fork())
    if pid == 0 then
      pcall(function()
        assert(P.signal("SIGTERM", "ignore"))
        w:dup2(1)
        P.execve("/bin/sh", { "sh", "-c", "kill -TERM $$; echo survived" })
      end)
      P._exit(127)
    end
    w:close()
    assert.equal("survived\n", r:read())
    assert.same({ pid, "exited", 0 }, { P.waitpid(pid) })
  end)
end)

describe("wbl.core ids, groups, limits and handles #priv", function()
  local function status(field) -- a /proc/self/status line's value, trimmed
    return fs.read_file("/proc/self/status"):match("\n" .. field .. ":[ \t]*(.-)[ \t]*\n")
  end

  -- (in a child: what it asserts goes to stderr, and it exits 99)
  H.it_priv("setgroups sets exactly the listed groups, {} drops them; EPERM once not root", function()
    assert.same({ "exited", 0 }, { H.in_child(function()
      assert(P.setgroups({ 1234, 5678 }))
      assert.same({ 1234, 5678 }, P.getgroups())
      assert.equal("1234 5678", status("Groups"))
      assert(P.setgroups({}))
      assert.same({}, P.getgroups())
      assert.equal("", status("Groups"))
      assert(P.setuid(65534))
      assert.same({ nil, "setgroups: Operation not permitted", E.EPERM }, { P.setgroups({ 1 }) })
    end) })
  end)

  H.it_priv("setrlimit NOFILE: the fd at the soft limit gets EMFILE; /proc/self/limits shows it", function()
    assert.same({ "exited", 0 }, { H.in_child(function()
      local top = 0
      for _, n in ipairs(assert(fs.readdir("/proc/self/fd"))) do top = math.max(top, tonumber(n)) end
      local _, hard = P.getrlimit("RLIMIT_NOFILE")
      assert(P.setrlimit("RLIMIT_NOFILE", top + 4, hard))
      local fds, en = {}
      repeat
        local fd, _, e = core.fd.open("/dev/null")
        fds[#fds + 1], en = fd, e
      until not fd
      assert.equal(E.EMFILE, en)
      assert.equal(top + 3, fds[#fds]:fileno()) -- every fd below the limit was given
      for _, fd in ipairs(fds) do fd:close() end
      assert.matches("Max open files%s+" .. (top + 4) .. "%s+" .. hard .. "%s", fs.read_file("/proc/self/limits"))
      assert.equal(E.EINVAL, select(3, P.setrlimit("RLIMIT_NOFILE", 2, 1))) -- soft above hard
      assert(P.setrlimit("RLIMIT_CORE", -1, 2 ^ 64)) -- RLIM_INFINITY both, 2^64 as JSON's uint64 max reads
      assert.same({ "unlimited", "unlimited" }, { P.getrlimit("RLIMIT_CORE") })
      assert.matches("Max core file size%s+unlimited%s+unlimited", fs.read_file("/proc/self/limits"))
    end) })
  end)

  H.it_priv("getuid and getgid are the real ids of /proc/self/status", function()
    assert.equal(status("Uid"):match("^%d+"), tostring(P.getuid()))
    assert.equal(status("Gid"):match("^%d+"), tostring(P.getgid()))
    local r, w = assert(core.fd.pipe())
    local how = H.in_child(function()
      assert(P.setgid(4321))
      w:write(P.getgid() .. " " .. status("Gid"):match("^%d+"))
      return 0
    end)
    w:close()
    assert.equal("exited", how)
    assert.equal("4321 4321", r:read())
  end)

  H.it_priv("lchown changes a symlink's owner, not its target's", function()
    local d = tmpdir()
    assert(fs.write_file(d .. "/target", "x"))
    assert(fs.symlink("target", d .. "/link"))
    assert(fs.lchown(d .. "/link", 1234, 5678))
    local l, t = fs.lstat(d .. "/link"), fs.stat(d .. "/link")
    assert.same({ "link", 1234, 5678 }, { l.type, l.uid, l.gid })
    assert.same({ "file", P.getuid(), P.getgid() }, { t.type, t.uid, t.gid })
    local ok, msg, en = fs.lchown(d .. "/missing", 0, 0)
    assert.same({ nil, E.ENOENT }, { ok, en })
    assert.matches("lchown .*/missing", msg)
    require("wbl.util").rm_rf(d)
  end)

  it("open, pipe and inroot.open give wbl.fd handles that close (and are collected)", function()
    local d = tmpdir()
    assert(fs.write_file(d .. "/f", "x"))
    local r, w = assert(core.fd.pipe())
    local fds = { assert(core.fd.open(d .. "/f")), r, w, (assert(core.inroot.open(d, "/f"))) }
    for _, fd in ipairs(fds) do
      local n = fd:fileno()
      assert.equal(("wbl.fd (%d)"):format(n), tostring(fd))
      assert.truthy(fs.readlink("/proc/self/fd/" .. n))
      assert.is_true(fd:close())
      assert.equal(E.ENOENT, select(3, fs.readlink("/proc/self/fd/" .. n)))
    end
    local n = assert(core.fd.open(d .. "/f")):fileno() -- dropped, never closed
    collectgarbage()
    collectgarbage()
    assert.equal(E.ENOENT, select(3, fs.readlink("/proc/self/fd/" .. n)))
    require("wbl.util").rm_rf(d)
  end)

  it("readdir lists every name but . and .., past one getdents64 buffer", function()
    local d = tmpdir()
    for i = 1, 300 do assert(fs.write_file(("%s/%s%03d"):format(d, ("n"):rep(40), i), "")) end
    local names = assert(fs.readdir(d))
    table.sort(names)
    assert.equal(300, #names)
    assert.equal(("n"):rep(40) .. "300", names[300])
    assert.equal(E.ENOTDIR, select(3, fs.readdir(d .. "/" .. names[1])))
    require("wbl.util").rm_rf(d)
  end)
end)
