-- scripts/run.lua as a user runs it: exit codes, arguments, options,
-- signals, errors, and a host left exactly as it was.
local core = require "wbl.core"
local fs = core.fs

local function run(...) return H.run({ ... }) end

describe("scripts/run.lua #priv", function()
  H.it_priv("runs the command as PID 1 of its own namespaces", function()
    local out, err, code = run("--", "sh", "-c", "echo $$; for n in pid uts mnt net; do readlink /proc/1/ns/$n; done")
    assert.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal("1", lines[1])
    for i, name in ipairs { "pid", "uts", "mnt", "net" } do
      local ino = assert(core.ns.id(0, name))
      assert.matches("^" .. name .. ":%[%d+%]$", lines[i + 1])
      assert.not_equal(name .. ":[" .. ino .. "]", lines[i + 1], name .. " namespace is the host's")
    end
  end)

  H.it_priv("passes the command's exit status, 128+N for signal N", function()
    assert.equal(0, select(3, run("true")))
    assert.equal(42, select(3, run("sh", "-c", "exit 42")))
    -- PID 1 ignores signals it has no handler for; a child of it does not
    assert.equal(137, select(3, run("sh", "-c", "sh -c 'kill -KILL $$'; exit $?")))
  end)

  H.it_priv("gives 127 for a command not found and 126 for one that cannot run", function()
    local _, err, code = run("no-such-command")
    assert.equal(127, code)
    assert.matches("no%-such%-command", err)
    _, err, code = run("/etc/passwd")
    assert.equal(126, code)
    assert.matches("/etc/passwd", err)
    assert.matches("EACCES", err)
  end)

  H.it_priv("gives 125 with the step, the path and the errno for a bad --rootfs", function()
    local _, err, code = run("--rootfs", "/nonexistent/wbl-root", "true")
    assert.equal(125, code)
    assert.matches("rootfs", err)
    assert.matches("/nonexistent/wbl%-root", err)
    assert.matches("ENOENT", err)
    local empty = os.tmpname()
    os.remove(empty)
    assert(fs.mkdir(empty))
    _, err, code = run("--rootfs", empty, "true")
    fs.rmdir(empty)
    assert.equal(127, code, err)
  end)

  H.it_priv("gives 125 and names the option for bad options", function()
    local _, err, code = run("--hostname", "no way", "true")
    assert.equal(125, code)
    assert.matches("%-%-hostname", err)
    _, err, code = run("--bogus", "true")
    assert.equal(125, code)
    assert.matches("%-%-bogus", err)
    _, err, code = run()
    assert.equal(125, code)
    assert.matches("no command", err)
  end)

  H.it_priv("keeps arguments intact: spaces, quotes, empty strings, non-ASCII", function()
    local args = { "a b", "\"q\" 'q'", "", "é ü 日本", "$HOME", "*", "-x" }
    local cmd = { "sh", "-c", 'for a; do printf "[%s]" "$a"; done', "sh" }
    for _, a in ipairs(args) do cmd[#cmd + 1] = a end
    local out, err, code = H.run(cmd)
    assert.equal(0, code, err)
    local want = {}
    for _, a in ipairs(args) do want[#want + 1] = "[" .. a .. "]" end
    assert.equal(table.concat(want), out)
  end)

  H.it_priv("sets -e variables, -w the directory, --hostname the hostname", function()
    local out, err, code = run("-e", "A=1 2", "-e", "B=", "--hostname", "box", "-w", "/srv/x",
      "sh", "-c", 'echo "$A|$B|$(hostname)|$PWD|$HOSTNAME"')
    assert.equal(0, code, err)
    assert.equal("1 2||box|/srv/x|box\n", out)
    out = run("--name", H.name("hn"), "hostname")
    assert.matches("^hn%-", out) -- the default hostname is the id
    assert.not_equal(core.ns.gethostname() .. "\n", out)
  end)

  H.it_priv("gives stdin only with -i", function()
    local out = H.run({ "cat" }, "secret\n")
    assert.equal("", out)
    out = H.run({ "-i", "cat" }, "secret\n")
    assert.equal("secret\n", out)
  end)

  H.it_priv("refuses -t when stdin is not a terminal", function()
    local _, err, code = H.run({ "-t", "true" }, "")
    assert.equal(125, code)
    assert.matches("terminal", err)
  end)

  H.it_priv("pivots into the root: / is the rootfs, the host root is gone", function()
    local out, err, code = run("sh", "-c", "ls /; cat /proc/mounts; [ -e " .. H.top .. " ] && echo HOST-VISIBLE; true")
    assert.equal(0, code, err)
    assert.matches("bin\n", out)
    assert.is_nil(out:find("HOST-VISIBLE", 1, true))
    -- exactly one file system is mounted on / (the old root is detached)
    local roots = 0
    for _ in out:gmatch("\n%S+ / ") do roots = roots + 1 end
    assert.equal(1, roots)
    assert.matches("proc /proc proc rw,nosuid,nodev,noexec", out)
    assert.matches("sysfs /sys sysfs ro,", out)
    assert.matches("tmpfs /tmp tmpfs", out)
    assert.matches("devpts /dev/pts devpts", out)
  end)

  H.it_priv("gives a small /dev whose devices work", function()
    local out, err, code = run("sh", "-c",
      "head -c 4 /dev/zero | od -An -tx1; head -c 16 /dev/urandom | wc -c; echo x > /dev/null && echo null-ok; " ..
      "ls /dev | tr '\\n' ' '")
    assert.equal(0, code, err)
    assert.matches("00 00 00 00", out)
    assert.matches("16\n", out)
    assert.matches("null%-ok", out)
    for _, d in ipairs { "null", "zero", "full", "random", "urandom", "tty", "ptmx", "pts", "shm" } do
      assert.matches(" ?" .. d .. " ", " " .. out)
    end
  end)

  H.it_priv("has a network namespace with only lo, up", function()
    local out, err, code = run("sh", "-c",
      "cat /proc/net/dev | tail -n +3 | cut -d: -f1; cat /sys/class/net/lo/operstate /sys/class/net/lo/flags")
    assert.equal(0, code, err)
    local names = {}
    for n in out:gmatch("%s*(%w+)\n") do names[#names + 1] = n end
    assert.equal("lo", names[1])
    assert.matches("0x9\n", out) -- IFF_UP|IFF_LOOPBACK
  end)

  H.it_priv("passes SIGTERM and SIGINT to the container's PID 1", function()
    for sig, code in pairs { SIGTERM = 3, SIGINT = 4 } do
      local job = H.start({ "sh", "-c",
        'trap "exit 3" TERM; trap "exit 4" INT; echo ready; while :; do sleep 0.05; done' })
      assert.equal("ready", H.read_line(job))
      assert(core.proc.kill(job.pid, sig))
      assert.equal(code, H.wait(job))
    end
  end)

  H.it_priv("a container dies with a SIGKILLed wbl; cleanup.lua removes its state, twice", function()
    local name = H.name("kill")
    local job = H.start({ "--rm", "--name", name, "sh", "-c", "echo ready; exec sleep 60" })
    assert.equal("ready", H.read_line(job))
    local st = assert(H.state(name))
    local cpid = st.pid
    assert.truthy(fs.stat("/proc/" .. cpid))
    assert(core.proc.kill(job.pid, "SIGKILL"))
    assert.equal(137, H.wait(job))
    -- the container's PID 1 gets SIGKILL from the kernel (pdeathsig)
    local gone = false
    for _ = 1, 500 do
      local s = fs.read_file("/proc/" .. cpid .. "/stat")
      if not s or s:match("%) [ZX]") then gone = true break end
      core.proc.sigwait({ "SIGUSR2" }, 10)
    end
    assert.is_true(gone)
    assert.truthy(fs.stat(H.state_dir(name)))
    local out, err, code = H.wbl_run({ H.top .. "/scripts/cleanup.lua", name })
    assert.equal(0, code, err)
    assert.equal(name .. "\n", out)
    assert.is_nil(fs.stat(H.state_dir(name)))
    out, err, code = H.wbl_run({ H.top .. "/scripts/cleanup.lua" })
    assert.equal(0, code, err)
    assert.equal("", out)
  end)

  H.it_priv("refuses a name in use by a live container", function()
    local name = H.name("dup")
    local job = H.start({ "--name", name, "sh", "-c", "echo ready; exec sleep 60" })
    assert.equal("ready", H.read_line(job))
    local _, err, code = run("--name", name, "true")
    assert.equal(125, code)
    assert.matches("is in use by container", err)
    core.proc.kill(job.pid, "SIGKILL")
    H.wait(job)
    H.wbl_run({ H.top .. "/scripts/cleanup.lua", name })
  end)

  H.it_priv("20 runs in a row leave mounts, namespaces, processes and state as they were", function()
    local mounts = H.mounts()
    local ours = {}
    for _, n in ipairs { "mnt", "net", "pid", "uts", "ipc" } do ours[n] = core.ns.id(0, n) end
    local seen = {}
    for i = 1, 20 do
      local args = { "sh", "-c", "readlink /proc/self/ns/pid; sleep 1 & exit " .. (i % 3) }
      if i % 5 == 0 then args = { "--rootfs", "/nonexistent", "true" } end
      local out, err, code = H.run(args)
      if i % 5 == 0 then
        assert.equal(125, code)
      else
        assert.equal(i % 3, code, err)
        seen[#seen + 1] = out:match("pid:%[(%d+)%]")
      end
    end
    assert.equal(16, #seen)
    assert.equal(mounts, H.mounts())
    for n, ino in pairs(ours) do assert.equal(ino, (core.ns.id(0, n))) end
    -- no process is left in any of the containers' PID namespaces
    for _, p in ipairs(fs.readdir("/proc")) do
      if p:match("^%d+$") then
        local link = fs.readlink("/proc/" .. p .. "/ns/pid")
        for _, ino in ipairs(seen) do
          assert.not_equal("pid:[" .. ino .. "]", link, "process " .. p .. " survived")
        end
      end
    end
    assert.same({}, H.containers())
  end)
  H.it_priv("--init: wbl-init is PID 1, read-only; signals reach the command; its status is wbl's", function()
    local out, err, code = H.run { "--rm", "--network", "none", "--init", "sh", "-c",
      "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$; (echo x > /dev/init) 2>&1 | grep -o Read-only; " ..
      "exit 3" }
    assert.equal(3, code, err)
    assert.equal("/dev/init -- sh -c", out:match("^[^\n]*"):sub(1, 18))
    assert.matches("\n2\nRead%-only\n$", out) -- the command is PID 2
    -- SIGTERM to wbl: passed to PID 1, which passes it to the command
    -- (sleep as PID 1 itself would ignore it: no handler, as the kernel has it)
    local job = H.start { "--rm", "--network", "none", "--init", "sh", "-c", "echo up; exec sleep 30" }
    assert.equal("up", H.read_line(job))
    assert(core.proc.kill(job.pid, "SIGTERM"))
    assert.equal(143, H.wait(job))
  end)
  -- The scripts, copied to a directory of the case's own, each edited by
  -- a function of its name (returns the text).
  local function scripts_with(edit)
    local dir = H.tmpdir()
    finally(function() require("wbl.util").rm_rf(dir) end)
    for _, f in ipairs { "run.lua", "create.lua", "init.lua", "process.lua" } do
      local text = assert(fs.read_file(H.top .. "/scripts/" .. f))
      assert(fs.write_file(dir .. "/" .. f, edit(f, text)))
    end
    return dir
  end

  H.it_priv("the child mounts while the host finishes; it waits for go before its cgroups", function()
    -- The host slow after the clone: the child is at "wait for the host"
    -- long before its v1 cgroups exist; it joins them after go, and its
    -- pids limit holds.
    local dir = scripts_with(function(f, text)
      if f ~= "create.lua" then return text end
      local n
      text, n = text:gsub('\nstep%("cgroup v1"', '\nwbl.util.sleep_ms(300)\nstep("cgroup v1"')
      assert.equal(1, n)
      return text
    end)
    local forks = "for i in 1 2 3 4 5 6; do sleep 1 & done; wait; echo done"
    local out, err, code = H.wbl_run { dir .. "/run.lua", "--rm", "--network", "none", "--pids-limit", "3",
      "sh", "-c", forks }
    assert.equal(2, code, err)
    assert.equal("", out)
    assert.matches("can't fork", err)
    assert.same({}, H.containers())
  end)

  H.it_priv("a step of the child that fails before go: 125, said once, nothing left", function()
    local dir = scripts_with(function(f, text)
      if f ~= "init.lua" then return text end
      local n
      text, n = text:gsub('\nstep%("make mounts private"',
        '\nstep("early", nil, "made to fail", wbl.core.errno.EIO)\nstep("make mounts private"')
      assert.equal(1, n)
      return text
    end)
    -- (on a bridge too: the host moves the veth into it meanwhile, and hears of the failure at go)
    for _, net in ipairs { "none", "bridge", "none" } do
      local name = H.name("early")
      local out, err, code = H.wbl_run { dir .. "/run.lua", "--rm", "--name", name, "--network", net,
        "-m", "32m", "echo", "ran" }
      assert.equal(125, code)
      assert.equal("", out)
      assert.equal("wbl: early: made to fail (EIO)\n", err)
      assert.is_nil(fs.stat(H.state_dir(name)))
      assert.same({}, assert(require("wbl.cgroup").find(name)).dirs)
    end
    assert.same({}, H.containers())
  end)

  H.it_priv("--hook: Lua functions at named steps, host and container side, in order", function()
    local dir = H.tmpdir()
    finally(function() require("wbl.util").rm_rf(dir) end)
    local log = dir .. "/log"
    assert(fs.write_file(dir .. "/order.lua", ([[
      -- opened once, on the host: the container side, after pivot_root,
      -- still writes through it (a hook's upvalues come along)
      local f = assert(io.open(%q, "a"))
      f:setvbuf("no")
      local function mark(p) return function() f:write(p, " \n") end end
      local h = {}
      for _, p in ipairs { "created", "cloned", "network", "root", "pivot", "exec", "exited" } do h[p] = mark(p) end
      return h
    ]]):format(log)))
    local out, err, code = H.run { "--rm", "--network", "none", "--hook", dir .. "/order.lua",
      "--hook", H.top .. "/examples/hooks/motd.lua", "--hostname", "hooked", "cat", "/etc/motd" }
    assert.equal(0, code, err)
    assert.equal("welcome to hooked\n", out) -- written into the root by a hook
    local order = {}
    for p in fs.read_file(log):gmatch("(%a+) \n") do order[#order + 1] = p end
    assert.same({ "created", "cloned", "network", "root", "pivot", "exec", "exited" }, order)
    -- A failing hook stops the container: 125, naming the hook and its step.
    assert(fs.write_file(dir .. "/bad.lua", 'return { pivot = function() error("no thanks", 0) end }'))
    out, err, code = H.run { "--rm", "--network", "none", "--hook", dir .. "/bad.lua", "echo", "ran" }
    assert.equal(125, code)
    assert.equal("", out)
    assert.matches("hook pivot: hook " .. dir .. "/bad.lua: no thanks", err, 1, true)
    assert.same({}, H.containers())
  end)
end)
