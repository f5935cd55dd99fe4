-- wbl as an OCI runtime (scripts/oci.lua, build/wbl-oci): its command
-- line against bundles made from rootfs/busybox (spec/ocihelp.lua), each
-- command's effect seen from outside: the created state holds the process
-- before the command, start lets it run, state says so, kill, delete
-- leaves nothing, run, errors a caller can read.
local core = require "wbl.core"
local json = require "dkjson"
local O = require "ocihelp"
local fs, P = core.fs, core.proc

-- The command of a container that writes into its root: proof it ran.
local function marker(b) return b.dir .. "/rootfs/ran" end

describe("wbl oci #priv", function()
  local bundles = {}
  local function bundle(over, fn)
    local b = O.bundle(over, fn)
    bundles[#bundles + 1] = b
    return b
  end
  after_each(function()
    for _, b in ipairs(bundles) do b:remove() end
    bundles = {}
    -- the parent one of them made (the others found it there, and leave it)
    for _, d in ipairs(O.cgroup_dirs("/wbl-oci-spec")) do fs.rmdir(d) end
  end)

  H.it_priv("create holds the process before the command; start runs it; state follows; delete leaves nothing",
    function()
      local b = bundle { process = { args = O.arr { "sh", "-c", "echo started > /ran; echo out; sleep 30" } } }
      local code, err = b:rt_bg("create", "--bundle", b.dir, "--pid-file", b.dir .. "/pid", b.id)
      assert.equal(0, code, err)
      local st = assert(b:state())
      assert.equal("created", st.status)
      assert.equal(b.id, st.id)
      assert.equal(b.dir, st.bundle)
      assert.is_true(st.pid > 0)
      assert.equal(tostring(st.pid), fs.read_file(b.dir .. "/pid"))
      -- the process is there, in namespaces of its own, its mounts done, the
      -- command not run yet; its creator has gone (it survived it)
      assert.is_truthy(fs.stat("/proc/" .. st.pid))
      assert.not_equal(fs.readlink("/proc/self/ns/pid"), fs.readlink("/proc/" .. st.pid .. "/ns/pid"))
      assert.not_equal(fs.readlink("/proc/self/ns/mnt"), fs.readlink("/proc/" .. st.pid .. "/ns/mnt"))
      assert.is_nil(fs.stat(marker(b)))
      assert.is_truthy(fs.stat(b.root .. "/containers/" .. b.id .. "/exec.fifo"))
      assert.equal(1, #O.cgroup_dirs("/wbl-oci-spec/" .. b.id) > 0 and 1 or 0)
      -- start: the command runs, as the same process
      local _, serr, scode = b:rt("start", b.id)
      assert.equal(0, scode, serr)
      assert.is_true(O.eventually(function() return fs.stat(marker(b)) ~= nil end))
      st = assert(b:state())
      assert.equal("running", st.status)
      assert.is_nil(fs.stat(b.root .. "/containers/" .. b.id .. "/exec.fifo"))
      assert.is_true(O.eventually(function() return b:out():find("out\n", 1, true) ~= nil end))
      -- start twice: refused
      local _, e2, c2 = b:rt("start", b.id)
      assert.equal(1, c2)
      assert.matches("not created", e2)
      -- delete of a running one: refused; kill, then stopped, then delete
      local _, e3, c3 = b:rt("delete", b.id)
      assert.equal(1, c3)
      assert.matches("not stopped: running", e3)
      local _, e4, c4 = b:rt("kill", b.id, "KILL")
      assert.equal(0, c4, e4)
      assert.is_true(O.eventually(function() return (b:state() or {}).status == "stopped" end))
      assert.equal(0, b:state().pid)
      local _, e5, c5 = b:rt("delete", b.id)
      assert.equal(0, c5, e5)
      local _, e6, c6 = b:rt("state", b.id)
      assert.equal(1, c6)
      assert.matches("does not exist", e6)
      assert.same({}, O.cgroup_dirs("/wbl-oci-spec/" .. b.id))
      assert.same({}, O.cgroup_dirs("/wbl-oci-spec"))
    end)

  H.it_priv("kill: names and numbers, SIGTERM by default, --all; a stopped container cannot be signalled", function()
    local b = bundle { process = { args = O.arr { "sh", "-c",
      "trap 'echo got-usr1' USR1; trap 'echo got-term; exit 3' TERM; echo ready; while :; do sleep 0.1; done" } } }
    assert.equal(0, (b:rt_bg("run", "--detach", "--bundle", b.dir, b.id)))
    assert.is_true(O.eventually(function() return b:out():find("ready", 1, true) ~= nil end))
    local _, err, code = b:rt("kill", b.id, "10") -- SIGUSR1 by number
    assert.equal(0, code, err)
    assert.is_true(O.eventually(function() return b:out():find("got-usr1", 1, true) ~= nil end))
    _, err, code = b:rt("kill", b.id, "NOSUCH")
    assert.equal(1, code)
    assert.matches("unknown signal", err)
    _, err, code = b:rt("kill", b.id) -- TERM
    assert.equal(0, code, err)
    assert.is_true(O.eventually(function() return (b:state() or {}).status == "stopped" end))
    assert.matches("got%-term", b:out())
    _, err, code = b:rt("kill", b.id, "TERM")
    assert.equal(1, code)
    assert.matches("not running", err)
    -- --all: every process of the container's cgroup
    local b2 = bundle { process = { args = O.arr { "sh", "-c", "sleep 100 & sleep 100 & echo up; wait" } } }
    assert.equal(0, (b2:rt_bg("run", "-d", "--bundle", b2.dir, b2.id)))
    assert.is_true(O.eventually(function() return b2:out():find("up", 1, true) ~= nil end))
    local ps = json.decode((b2:rt("ps", "--format", "json", b2.id)))
    assert.equal(3, #ps)
    _, err, code = b2:rt("kill", "--all", b2.id, "SIGKILL")
    assert.equal(0, code, err)
    assert.is_true(O.eventually(function() return (b2:state() or {}).status == "stopped" end))
  end)

  H.it_priv("run: in the foreground, its exit status and output; the container is deleted after", function()
    local b = bundle { process = { args = O.arr { "sh", "-c", "echo hello from $(hostname); exit 7" } } }
    local out, err, code = b:rt("run", "--bundle", b.dir, b.id)
    assert.equal(7, code, err)
    assert.equal("hello from ocispec\n", out)
    assert.equal("", (b:rt("list", "-q")))
    assert.same({}, O.cgroup_dirs("/wbl-oci-spec/" .. b.id))
  end)

  H.it_priv("bad config.json, a missing command, a taken id: exit 1, a message naming what, nothing left", function()
    local b = bundle { process = { args = O.arr { "nosuchcommand" } } }
    local code, err = b:rt_bg("create", "--bundle", b.dir, b.id)
    assert.equal(1, code)
    assert.matches("nosuchcommand: executable file not found in %$PATH", err)
    assert.equal("", (b:rt("list", "-q")))
    assert.same({}, O.cgroup_dirs("/wbl-oci-spec/" .. b.id))
    local function fails(over, pattern)
      local bb = bundle(over)
      local c, e = bb:rt_bg("create", "--bundle", bb.dir, bb.id)
      assert.equal(1, c)
      assert.matches(pattern, e)
      assert.equal("", (bb:rt("list", "-q")))
    end
    fails({ process = { args = "sh" } }, "process.args: must be a list, not a string")
    fails({ process = { user = { uid = "root" } } }, "process.user.uid: must be an integer, not a string")
    fails({ mounts = O.arr { { destination = "proc", type = "proc" } } },
      "mounts%[0%].destination: \"proc\" is not an absolute path")
    fails({ linux = { namespaces = O.arr { { type = "pid" }, { type = "bogus" } } } },
      "linux.namespaces%[1%].type: unknown namespace type bogus")
    fails({ linux = { cgroupsPath = "system.slice:wbl:x" } }, "systemd's slice:prefix:name form")
    fails({ root = { path = "nosuchdir" } }, "nosuchdir")
    fails({ hooks = { prestart = O.arr { { path = "relative" } } } }, "hooks.prestart%[0%].path")
    -- not JSON at all
    local bad = bundle()
    assert(fs.write_file(bad.dir .. "/config.json", "{ not json"))
    local c, e = bad:rt_bg("create", "--bundle", bad.dir, bad.id)
    assert.equal(1, c)
    assert.matches("config.json: not JSON", e)
    -- a taken id
    local b2 = bundle { process = { args = O.arr { "sleep", "30" } } }
    assert.equal(0, (b2:rt_bg("create", "--bundle", b2.dir, b2.id)))
    c, e = b2:rt_bg("create", "--bundle", b2.dir, b2.id)
    assert.equal(1, c)
    assert.matches("already exists", e)
    assert.equal("created", b2:state().status) -- the first one is untouched
    -- an id that is no directory name
    c, e = b2:rt_bg("create", "--bundle", b2.dir, "../x")
    assert.equal(1, c)
    assert.matches("not a valid container id", e)
  end)

  H.it_priv("the command line: --version, features, --systemd-cgroup, unknown commands, --log JSON lines", function()
    local b = bundle()
    local _
    local out, err, code = b:rt("--version")
    assert.equal(0, code, err)
    assert.matches("spec: 1%.%d", out)
    out, err, code = b:rt("features")
    assert.equal(0, code, err)
    local f = json.decode(out)
    assert.equal("1.0.0", f.ociVersionMin)
    assert.is_truthy(f.linux.namespaces[1])
    _, err, code = b:rt("--systemd-cgroup", "list")
    assert.equal(1, code)
    assert.matches("no systemd cgroup driver", err)
    _, err, code = b:rt("frobnicate", b.id)
    assert.equal(1, code)
    assert.matches("unknown command frobnicate", err)
    local log = b.dir .. "/log.json"
    _, _, code = b:rt("--log", log, "--log-format", "json", "state", "nosuch")
    assert.equal(1, code)
    local line = json.decode(fs.read_file(log):match("^[^\n]+"))
    assert.equal("error", line.level)
    assert.matches("container nosuch does not exist", line.msg)
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT", line.time)
    -- delete --force of nothing: done (podman's cleanup asks it)
    _, err, code = b:rt("delete", "--force", "nosuch")
    assert.equal(0, code, err)
    _, err, code = b:rt("delete", "nosuch")
    assert.equal(1, code)
    assert.matches("does not exist", err)
  end)

  H.it_priv("list and ps; pause and resume freeze every process; update changes the limits", function()
    local b = bundle { process = { args = O.arr { "sh", "-c", "while :; do date +%s%N > /tick; sleep 0.05; done" } },
                       linux = { resources = { memory = { limit = 64 * 1024 * 1024 } } } }
    assert.equal(0, (b:rt_bg("run", "-d", "--bundle", b.dir, b.id)))
    local out = b:rt("list")
    assert.matches(b.id:gsub("%-", "%%-") .. "%s+%d+%s+running", out)
    local l = json.decode((b:rt("list", "--format", "json")))
    assert.equal(b.id, l[1].id)
    assert.equal("running", l[1].status)
    out = b:rt("ps", b.id)
    assert.matches("PID", out)
    local _, err, code = b:rt("pause", b.id)
    assert.equal(0, code, err)
    assert.equal("paused", b:state().status)
    local tick = fs.read_file(b.dir .. "/rootfs/tick")
    require("wbl.util").sleep_ms(300)
    assert.equal(tick, fs.read_file(b.dir .. "/rootfs/tick")) -- frozen
    _, err, code = b:rt("pause", b.id)
    assert.equal(1, code)
    assert.matches("it is paused", err)
    _, err, code = b:rt("resume", b.id)
    assert.equal(0, code, err)
    assert.equal("running", b:state().status)
    assert.is_true(O.eventually(function() return fs.read_file(b.dir .. "/rootfs/tick") ~= tick end))
    -- update: memory and pids limits in the cgroup files
    local mem = O.cgroup_dirs("/wbl-oci-spec/" .. b.id)
    local memdir
    for _, d in ipairs(mem) do
      if fs.stat(d .. "/memory.limit_in_bytes") or fs.stat(d .. "/memory.max") then memdir = d end
    end
    local function memlimit()
      return (fs.read_file(memdir .. "/memory.limit_in_bytes") or fs.read_file(memdir .. "/memory.max")):match("%d+")
    end
    assert.equal(tostring(64 * 1024 * 1024), memlimit())
    _, err, code = b:rt("update", "--memory", "96m", "--pids-limit", "50", b.id)
    assert.equal(0, code, err)
    assert.equal(tostring(96 * 1024 * 1024), memlimit())
    local found = false
    for _, d in ipairs(mem) do
      local v = fs.read_file(d .. "/pids.max")
      if v then assert.equal("50\n", v); found = true end
    end
    assert.is_true(found)
    _, err, code = b:rt("update", "--memory", "lots", b.id)
    assert.equal(1, code)
    assert.matches("%-%-memory lots", err)
    assert.equal(0, (select(3, b:rt("delete", "-f", b.id))))
  end)

  H.it_priv("--console-socket: the pty master comes over the socket; the container's stdio is the pty", function()
    local b = bundle { process = { terminal = true, args = O.arr { "sh", "-c", "tty; stty size; echo done" },
                                   consoleSize = { height = 33, width = 101 } } }
    local sock = b.dir .. "/console.sock"
    local l = assert(core.sock.listen(sock))
    local code, err = b:rt_bg("create", "--bundle", b.dir, "--console-socket", sock, b.id)
    assert.equal(0, code, err)
    local conn = assert(l:accept())
    local _, fds = assert(conn:recv_fds())
    local master = assert(fds[1])
    assert.is_true(core.pty ~= nil)
    local _, serr, scode = b:rt("start", b.id)
    assert.equal(0, scode, serr)
    local got = ""
    O.eventually(function()
      if master:wait(50) then got = got .. (master:read(4096) or "") end
      return got:find("done") ~= nil
    end)
    assert.matches("/dev/console", got)
    assert.matches("33 101", got)
    conn:close(); l:close(); master:close()
    -- without a terminal, --console-socket is refused; a terminal needs one
    local b2 = bundle()
    code, err = b2:rt_bg("create", "--bundle", b2.dir, "--console-socket", sock, b2.id)
    assert.equal(1, code)
    assert.matches("needs process.terminal", err)
    local b3 = bundle { process = { terminal = true } }
    code, err = b3:rt_bg("create", "--bundle", b3.dir, b3.id)
    assert.equal(1, code)
    assert.matches("needs %-%-console%-socket", err)
  end)

  H.it_priv("hooks: each kind runs where and when the spec says, with the state on stdin", function()
    local log = H.tmpdir()
    local function hook(name)
      return { path = "/bin/sh", args = O.arr { "sh", "-c",
        ("cat > %s/%s.json; echo $$ > %s/%s.pid; readlink /proc/self/ns/mnt > %s/%s.mnt"):format(log, name, log,
          name, log, name) } }
    end
    local b = bundle { process = { args = O.arr { "sh", "-c", "echo $$ > /started; sleep 30" } },
      hooks = { prestart = O.arr { hook("prestart") }, createRuntime = O.arr { hook("createRuntime") },
                createContainer = O.arr { hook("createContainer") }, poststart = O.arr { hook("poststart") },
                poststop = O.arr { hook("poststop") } } }
    -- startContainer runs inside, after pivot_root: the container's sh, a file in its root
    b.cfg.hooks.startContainer = O.arr { { path = "/bin/sh",
                                           args = O.arr { "sh", "-c", "cat > /startContainer.json" } } }
    b:write()
    assert.equal(0, (b:rt_bg("create", "--bundle", b.dir, b.id)))
    local st = b:state()
    for _, k in ipairs { "prestart", "createRuntime", "createContainer" } do
      local j = json.decode((assert(fs.read_file(log .. "/" .. k .. ".json"), k)))
      assert.equal(b.id, j.id)
      assert.equal("creating", j.status)
      assert.equal(st.pid, j.pid)
      assert.equal(b.dir, j.bundle)
    end
    local mine = fs.readlink("/proc/self/ns/mnt") .. "\n"
    assert.equal(mine, fs.read_file(log .. "/createRuntime.mnt")) -- the runtime's namespace
    assert.not_equal(mine, fs.read_file(log .. "/createContainer.mnt")) -- the container's
    assert.is_nil(fs.stat(b.dir .. "/rootfs/startContainer.json"))
    assert.equal(0, (select(3, b:rt("start", b.id))))
    assert.is_true(O.eventually(function() return fs.stat(b.dir .. "/rootfs/started") ~= nil end))
    local j = json.decode(assert(fs.read_file(b.dir .. "/rootfs/startContainer.json")))
    assert.equal("created", j.status)
    j = json.decode(assert(fs.read_file(log .. "/poststart.json")))
    assert.equal("running", j.status)
    assert.equal(0, (select(3, b:rt("delete", "--force", b.id))))
    j = json.decode(assert(fs.read_file(log .. "/poststop.json")))
    assert.equal("stopped", j.status)
    require("wbl.util").rm_rf(log)
    -- a failing hook stops create, naming it; nothing is left
    local b2 = bundle { hooks = { createRuntime = O.arr { { path = "/bin/sh", args = O.arr { "sh", "-c",
      "echo no way >&2; exit 4" } } } } }
    local code, err = b2:rt_bg("create", "--bundle", b2.dir, b2.id)
    assert.equal(1, code)
    assert.matches("hooks.createRuntime%[0%] /bin/sh: exited 4: no way", err)
    assert.equal("", (b2:rt("list", "-q")))
    -- a hook's timeout
    local b3 = bundle { hooks = { prestart = O.arr { { path = "/bin/sleep", args = O.arr { "sleep", "10" },
      timeout = 1 } } } }
    code, err = b3:rt_bg("create", "--bundle", b3.dir, b3.id)
    assert.equal(1, code)
    assert.matches("timed out after 1 s", err)
  end)

  H.it_priv("--preserve-fds: fds 3.. of create reach the command, the others do not", function()
    local b = bundle { process = { args = O.arr { "sh", "-c", "ls /proc/$$/fd > /fds; cat <&3 > /got3" } } }
    assert(fs.write_file(b.dir .. "/three", "via fd 3\n"))
    local cmd = ("%s --root %s create --bundle %s --preserve-fds 1 %s 3<%s 4<%s >/dev/null 2>%s"):format(
      H.q(O.wbl_oci), H.q(b.root), H.q(b.dir), b.id, H.q(b.dir .. "/three"), H.q(b.dir .. "/three"),
      H.q(b.dir .. "/err"))
    assert.is_true(os.execute(cmd) == true, fs.read_file(b.dir .. "/err"))
    assert.equal(0, (select(3, b:rt("start", b.id))))
    assert.is_true(O.eventually(function() return fs.read_file(b.dir .. "/rootfs/got3") == "via fd 3\n" end))
    local fds = fs.read_file(b.dir .. "/rootfs/fds")
    assert.matches("\n3\n", "\n" .. fds)
    assert.is_nil(("\n" .. fds):find("\n4\n"), fds)
  end)

  H.it_priv("exec: a process in the container's namespaces and cgroups, as the options or --process say", function()
    local b = bundle { process = { args = O.arr { "sh", "-c", "echo inside > /tmp/mark; sleep 60" } },
                       linux = { resources = { pids = { limit = 40 } } } }
    assert.equal(0, (b:rt_bg("run", "-d", "--bundle", b.dir, b.id)))
    local st = b:state()
    assert.is_true(O.eventually(function()
      return (select(3, b:rt("exec", b.id, "test", "-f", "/tmp/mark"))) == 0
    end))
    -- its namespaces: the container's pid (not PID 1), mount (its /tmp), uts
    local _
    local out, err, code = b:rt("exec", b.id, "sh", "-c", "echo $$; cat /tmp/mark; hostname; cat /proc/1/cmdline")
    assert.equal(0, code, err)
    local pid, mark, host, cmd = out:match("^(%d+)\n(%S+)\n(%S+)\n(.*)$")
    assert.is_true(tonumber(pid) > 1)
    assert.equal("inside", mark)
    assert.equal("ocispec", host)
    assert.matches("^sleep", cmd)
    for _, t in ipairs { "pid", "mnt", "net", "ipc", "uts" } do
      local theirs = fs.readlink("/proc/" .. st.pid .. "/ns/" .. t)
      out = b:rt("exec", b.id, "readlink", "/proc/self/ns/" .. t)
      assert.equal(theirs .. "\n", out, t)
    end
    -- its cgroups: the container's (the root of its cgroup namespace, in
    -- every hierarchy), and their pids know it
    out = b:rt("exec", b.id, "cat", "/proc/self/cgroup")
    for line in out:gmatch("[^\n]+") do assert.matches(":/$", line) end
    out = b:rt("exec", b.id, "sh", "-c", "cat /sys/fs/cgroup/pids/pids.current 2>/dev/null || " ..
      "cat /sys/fs/cgroup/pids.current") -- (v1, or pure v2)
    local n = tonumber(out)
    assert.is_true(n == 2 or n == 3, out) -- sleep (PID 1), the cat (and the sh that runs it)
    -- exit status, user, cwd, env, no_new_privs, a capability
    out, err, code = b:rt("exec", "--user", "1000:1001", "--cwd", "/tmp", "--env", "FOO=bar", b.id, "sh", "-c",
      "id -u; id -g; pwd; echo $FOO; exit 5")
    assert.equal(5, code, err)
    assert.equal("1000\n1001\n/tmp\nbar\n", out)
    -- --process: config.json's process object
    local proc = b.dir .. "/process.json"
    assert(fs.write_file(proc, json.encode { args = O.arr { "sh", "-c", "echo $GREETING; id -u; pwd" },
      env = O.arr { "PATH=/bin:/usr/bin", "GREETING=hi" }, cwd = "/etc", user = { uid = 7, gid = 7 } }))
    out, err, code = b:rt("exec", "--process", proc, b.id)
    assert.equal(0, code, err)
    assert.equal("hi\n7\n/etc\n", out)
    -- --detach: returns once it runs, its pid in --pid-file
    _, err, code = b:rt("exec", "--detach", "--pid-file", b.dir .. "/epid", b.id, "sh", "-c", "sleep 3; touch /tmp/d")
    assert.equal(0, code, err)
    local epid = tonumber(fs.read_file(b.dir .. "/epid"))
    assert.is_truthy(fs.stat("/proc/" .. epid))
    assert.equal(fs.readlink("/proc/" .. st.pid .. "/ns/pid"), fs.readlink("/proc/" .. epid .. "/ns/pid"))
    assert.is_true(O.eventually(function() return fs.stat(b.dir .. "/rootfs/tmp/d") ~= nil end))
    -- errors: a missing command (its status in the foreground, 127; with
    -- --detach the runtime's error, which podman makes 127), a stopped container
    _, err, code = b:rt("exec", b.id, "nosuch")
    assert.equal(127, code)
    assert.matches("nosuch: executable file not found in %$PATH", err)
    _, err, code = b:rt("exec", "--detach", b.id, "nosuch")
    assert.equal(1, code)
    assert.matches("nosuch: executable file not found in %$PATH", err)
    assert.equal(0, (select(3, b:rt("kill", b.id, "KILL"))))
    assert.is_true(O.eventually(function() return b:state().status == "stopped" end))
    _, err, code = b:rt("exec", b.id, "true")
    assert.equal(1, code)
    assert.matches("it is stopped", err)
  end)

  H.it_priv("exec --tty: the pty master over --console-socket, the process's stdio", function()
    local b = bundle { process = { args = O.arr { "sleep", "60" } } }
    assert.equal(0, (b:rt_bg("run", "-d", "--bundle", b.dir, b.id)))
    local sock = b.dir .. "/console.sock"
    local l = assert(core.sock.listen(sock))
    local code, err = b:rt_bg("exec", "--tty", "--detach", "--console-socket", sock, b.id, "sh", "-c",
      "tty; echo done; sleep 1")
    assert.equal(0, code, err)
    local conn = assert(l:accept())
    local _, fds = assert(conn:recv_fds())
    local master = assert(fds[1])
    local got = ""
    O.eventually(function()
      if master:wait(50) then got = got .. (master:read(4096) or "") end
      return got:find("done") ~= nil
    end)
    assert.matches("/dev/pts/%d+", got)
    conn:close(); l:close(); master:close()
  end)

  H.it_priv("the process and the parent: create's child outlives create; P.getpid is never its parent", function()
    local b = bundle { process = { args = O.arr { "sleep", "30" } } }
    assert.equal(0, (b:rt_bg("create", "--bundle", b.dir, b.id)))
    local st = b:state()
    local stat = fs.read_file("/proc/" .. st.pid .. "/stat")
    local ppid = tonumber(stat:match("%) %S+ (%d+)"))
    assert.not_equal(P.getpid(), ppid)
    assert.is_truthy(fs.stat("/proc/" .. st.pid))
  end)
end)
