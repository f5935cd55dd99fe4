-- Cgroup limits, proven by the kernel: the OOM killer, fork failures, the
-- cpu usage counters, the affinity the scheduler reports; placement
-- before the first instruction; and no cgroup left on any exit path.
-- Layout-agnostic: the same cases run on this hybrid host (v1 controllers,
-- cgroup2 for tracking) and in the pure cgroup v2 VM (make test-vm).
local core = require "wbl.core"
local cgroup = require "wbl.cgroup"
local fs = core.fs

-- Every container of this file goes under a parent of its own.
local parent = "wbl/spec-" .. require("wbl.util").random_hex(4)

local function run(...)
  local a = { "--cgroup-parent", parent }
  for _, x in ipairs({ ... }) do a[#a + 1] = x end
  return H.run(a)
end

local sleep_ms = require("wbl.util").sleep_ms

-- A memory hog: busybox sh doubling a string up to 2^n bytes, then "grew".
local function hog(n) return ("s=x; while [ ${#s} -lt %d ]; do s=$s$s; done; echo grew"):format(2 ^ n) end

-- wbl in the background with -i: { pid, inp = stdin (write end), out }.
local function start(...)
  local ir, iw = assert(core.fd.pipe())
  local or_, ow = assert(core.fd.pipe())
  local argv = { H.wbl, H.top .. "/scripts/run.lua", "-i", "--cgroup-parent", parent }
  for _, a in ipairs({ ... }) do argv[#argv + 1] = a end
  local pid = assert(core.proc.fork())
  if pid == 0 then
    pcall(function()
      ir:dup2(0)
      ow:dup2(1)
      core.proc.execve(H.wbl, argv)
    end)
    core.proc._exit(127)
  end
  ir:close()
  ow:close()
  local job = { pid = pid, inp = iw, out = or_ }
  H.finally(function() -- a failed case kills its wbl; teardown still runs
    if not job.status then
      core.proc.kill(job.pid, "SIGTERM")
      core.proc.kill(job.pid, "SIGKILL")
      H.wait(job)
      H.wbl_run({ H.top .. "/scripts/cleanup.lua" })
    end
  end)
  return job
end

-- Let the container's `read x` return (a newline, then end of input);
-- its wbl's exit status.
local function stop(job)
  if job.inp then
    job.inp:write("\n")
    job.inp:close()
    job.inp = nil
  end
  job.status = H.wait(job)
  return job.status
end

-- The container's cgroup directories that exist now.
local function dirs(name)
  local cg = assert(cgroup.find(name, parent))
  return cg, #cg.dirs
end

-- Nothing of ours left: not the container's directories, not the parent.
local function assert_gone(name)
  local _, n = dirs(name)
  assert.equal(0, n, "cgroup directories of " .. name .. " remain")
  for _, d in ipairs(assert(cgroup.find("", parent)).dirs) do
    assert.is_nil(fs.stat(d.path), "the parent " .. d.path .. " remains")
  end
end

local function file(cg, ctl, names)
  local dir = assert(cgroup.dir(cg, ctl), "no " .. ctl .. " directory")
  for _, n in ipairs(names) do
    local s = fs.read_file(dir .. "/" .. n)
    if s then return s, dir .. "/" .. n end
  end
  error("none of " .. table.concat(names, ", ") .. " in " .. dir)
end

local function oom_kills(cg)
  local s = file(cg, "memory", { "memory.events", "memory.oom_control" })
  return tonumber(s:match("oom_kill (%d+)"))
end

local function cpus_online()
  local s = assert(fs.read_file("/sys/devices/system/cpu/online"))
  return tonumber(s:match("(%d+)%s*$")) + 1
end

describe("cgroups #priv", function()
  local layout = H.root and assert(cgroup.layout())

  H.it_priv("finds the layout: controllers for memory, cpu, cpuset, pids", function()
    assert.is_not_nil(({ v2 = 1, hybrid = 1, v1 = 1 })[layout.kind], layout.kind)
    for _, ctl in ipairs { "memory", "cpu", "cpuset", "pids" } do
      assert.is_true(layout.v2[ctl] or layout.v1[ctl] ~= nil, ctl)
    end
  end)

  -- The mount points of the hierarchies a container is in now.
  local function mounts_of(cg)
    local t = {}
    for _, d in ipairs(cg.dirs) do t[#t + 1] = d.mount end
    table.sort(t)
    return t
  end

  H.it_priv("run joins the v1 hierarchies its limits need, memory and devices; a limit set later joins its own",
    function()
    if layout.kind == "v2" then
      local name = H.name("hier")
      local job = start("--name", name, "sh", "-c", "echo up; read x")
      assert.equal("up", H.read_line(job))
      assert.same({ layout.unified }, mounts_of((dirs(name)))) -- one hierarchy: all of it
      assert.equal(0, stop(job))
      return
    end
    local name = H.name("hier")
    local job = start("--name", name, "sh", "-c", "sleep 30 & echo up; read x; echo next; sleep 0; echo forked")
    assert.equal("up", H.read_line(job))
    local cg = dirs(name)
    local want = { layout.v1.memory, layout.v1.devices, layout.unified }
    if not layout.unified then want[#want + 1] = layout.v1.freezer; want[#want + 1] = layout.v1.cpuacct end
    local set = {}
    for _, m in ipairs(want) do set[m] = true end
    want = {}
    for m in pairs(set) do want[#want + 1] = m end
    table.sort(want)
    assert.same(want, mounts_of(cg))
    -- stats still count its cpu time and its threads (sh and the sleep)
    local st = cgroup.stats(cg)
    assert.equal(2, st.pids)
    assert.is_number(st.cpu_usec)
    -- a pids limit set now (an OCI update): its hierarchy joined, every process moved in, the limit applies
    assert.is_nil(cgroup.dir(cg, "pids"))
    local c = assert(require("wbl.state").load(name))
    assert.same(mounts_of(cg), mounts_of(c.cgroup))
    assert(cgroup.update(c.cgroup, { pids = 2 }))
    assert(require("wbl.state").save(c))
    local pdir = assert(cgroup.dir(c.cgroup, "pids"))
    assert.equal("2", (fs.read_file(pdir .. "/pids.max"):gsub("%s+$", "")))
    local procs = cgroup.pids(pdir)
    assert.equal(2, #procs)
    local _, n = dirs(name)
    assert.equal(#want + 1, n)
    -- a third process is refused by the kernel (sh exits 2): the limit
    -- holds for the processes moved in
    assert(job.inp:write("\n"))
    assert.equal("next", H.read_line(job, 10000))
    assert.equal(2, stop(job))
    assert_gone(name) -- the joined hierarchy's cgroup goes with the others (its wbl did not join it)
  end)

  H.it_priv("--cpus, --cpuset-cpus, --pids-limit join their hierarchies (v1)", function()
    if layout.kind == "v2" then return end
    local name = H.name("hier2")
    local job = start("--name", name, "--cpus", "1", "--cpuset-cpus", "0", "--pids-limit", "9",
      "sh", "-c", "echo up; read x")
    assert.equal("up", H.read_line(job))
    local cg = dirs(name)
    for _, ctl in ipairs { "cpu", "cpuset", "pids", "memory", "devices" } do
      assert.is_not_nil(cgroup.dir(cg, ctl), ctl)
    end
    assert.equal(0, stop(job))
    assert_gone(name)
  end)

  H.it_priv("a process allocating twice the limit is OOM-killed: 137 #slow", function()
    local name = H.name("oom")
    local out, err, code = run("--name", name, "-m", "16m", "sh", "-c", hog(25))
    assert.equal(137, code, err)
    assert.equal("", out)
    assert_gone(name)
  end)

  H.it_priv("the kernel's OOM counter of the container goes from 0 to 1; under the limit exits 0", function()
    local name = H.name("oomc")
    local job = start("--name", name, "-m", "16M", "sh", "-c",
      'echo up; read x; sh -c "$0"; echo hog $?; sh -c "$1"; echo small $?; read x', hog(25), hog(20))
    assert.equal("up", H.read_line(job))
    local cg = dirs(name)
    assert.equal(0, oom_kills(cg))
    local limit = file(cg, "memory", { "memory.max", "memory.limit_in_bytes" })
    assert.equal(16 * 1024 * 1024, tonumber(limit))
    assert(job.inp:write("\n"))
    assert.equal("hog 137", H.read_line(job, 60000))
    assert.equal(1, oom_kills(cg))
    assert.equal("grew", H.read_line(job, 60000))
    assert.equal("small 0", H.read_line(job, 60000))
    assert.equal(1, oom_kills(cg))
    assert.equal(0, stop(job))
    assert_gone(name)
  end)

  H.it_priv("forks beyond --pids-limit fail inside the container", function()
    local name = H.name("pids")
    local out, err, code = run("--name", name, "--pids-limit", "5", "sh", "-c",
      "i=0; while [ $i -lt 10 ]; do sleep 30 & echo ok; i=$((i+1)); done")
    -- sh and 4 sleeps are the 5 processes; the 5th fork is refused (EAGAIN)
    assert.equal(2, code, err)
    assert.equal(("ok\n"):rep(4), out)
    assert.matches("can't fork: Resource temporarily unavailable", err)
    assert_gone(name)
  end)

  H.it_priv("a busy loop under --cpus 0.2 uses about 20% of a CPU, by the cgroup's counters", function()
    local name = H.name("cpu")
    local job = start("--name", name, "--cpus", "0.2", "sh", "-c",
      "while :; do :; done & echo up; read x; kill $!")
    assert.equal("up", H.read_line(job))
    local cg = dirs(name)
    local max = file(cg, "cpu", { "cpu.max", "cpu.cfs_quota_us" })
    assert.matches("^20000", max)
    sleep_ms(300)
    local a = cgroup.stats(cg)
    sleep_ms(2500)
    local b = cgroup.stats(cg)
    assert.equal(0, stop(job))
    local periods = b.nr_periods - a.nr_periods
    assert.is_true(periods >= 5, "only " .. periods .. " cfs periods")
    -- usage per period of 100 ms: 20 ms when throttled to 0.2 CPU
    local share = (b.cpu_usec - a.cpu_usec) / (periods * cgroup.cpu_period)
    assert.is_true(share > 0.15 and share < 0.25, ("used %.3f of a CPU per period"):format(share))
    assert.is_true(b.nr_throttled - a.nr_throttled >= periods // 2, "not throttled")
    assert_gone(name)
  end)

  H.it_priv("--cpu-shares is written as cpu.shares (v1) or crun's cpu.weight (v2)", function()
    local name = H.name("shares")
    local job = start("--name", name, "--cpu-shares", "512", "sh", "-c", "echo up; read x")
    assert.equal("up", H.read_line(job))
    local cg = dirs(name)
    local v, path = file(cg, "cpu", { "cpu.weight", "cpu.shares" })
    if path:match("weight$") then
      assert.equal(cgroup.shares_to_weight(512), tonumber(v))
    else
      assert.equal(512, tonumber(v))
    end
    assert.equal(0, stop(job))
    assert_gone(name)
  end)

  H.it_priv("the container's affinity equals --cpuset-cpus", function()
    local cpu = tostring(cpus_online() - 1)
    local name = H.name("cpuset")
    local out, err, code = run("--name", name, "--cpuset-cpus", cpu, "--cpuset-mems", "0",
      "sh", "-c", "grep -E '^(Cpus|Mems)_allowed_list' /proc/self/status")
    assert.equal(0, code, err)
    assert.equal("Cpus_allowed_list:\t" .. cpu .. "\nMems_allowed_list:\t0\n", out)
    assert_gone(name)
  end)

  H.it_priv("the container starts inside its cgroup (clone3 into cgroup2, or cgroup.procs before go)", function()
    local name = H.name("place")
    local job = start("--name", name, "sh", "-c", "cat /proc/self/cgroup; echo up; read x")
    local lines = {}
    repeat
      lines[#lines + 1] = assert(H.read_line(job))
    until lines[#lines] == "up"
    local cg = dirs(name)
    local pid1 = cgroup.pids(cg.dirs[1].path)[1]
    for _, d in ipairs(cg.dirs) do
      assert.same({ pid1 }, cgroup.pids(d.path), d.path)
    end
    -- The cgroup namespace is rooted at the container's cgroups (init.lua
    -- unshares it after joining them): every line of /proc/self/cgroup
    -- shows "/", where the host would show .../wbl/spec-.../NAME.
    table.remove(lines) -- "up"
    assert.is_true(#lines >= 1)
    for _, l in ipairs(lines) do assert.matches("^%d+:[^:]*:/$", l) end
    assert.equal(0, stop(job))
    assert_gone(name)
  end)

  H.it_priv("the container sees its own cgroups at /sys/fs/cgroup, read-only", function()
    local name = H.name("seen")
    local l = assert(cgroup.layout())
    -- v2: the cgroup2 files of the container's cgroup; v1 and hybrid: a
    -- directory per hierarchy, each at the container's cgroup.
    local limit = l.kind == "v2" and "/sys/fs/cgroup/memory.max" or "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    local procs = l.kind == "v2" and "/sys/fs/cgroup/cgroup.procs" or "/sys/fs/cgroup/pids/cgroup.procs"
    local out, err, code = run("--name", name, "-m", "64m", "--pids-limit", "50", "sh", "-c",
      ("while read p; do echo $p; done < %s; cat %s; echo $$ > %s || echo read-only"):format(procs, limit, procs))
    assert.equal(0, code, err)
    -- the limit, PID 1 alone in it (as the container's PID namespace sees it)
    assert.equal("1\n67108864\nread-only\n", out)
    assert.matches("Read%-only file system", err)
    assert_gone(name)
  end)

  H.it_priv("the race: sh -c 'hog & wait' is limited, 20 times in a row #slow", function()
    for i = 1, 20 do
      local name = H.name("race" .. i)
      local out, err, code = run("--name", name, "-m", "16m", "sh", "-c",
        'sh -c "$0" & wait $!', hog(26))
      assert.equal(137, code, ("run %d: %s"):format(i, err))
      assert.equal("", out, "run " .. i .. ": the hog grew past the limit")
      assert_gone(name)
    end
  end)

  H.it_priv("bad values exit 125 naming the option, before anything is made", function()
    for _, case in ipairs {
      { "--memory", "-m", "12x" }, { "--memory", "--memory", "1k" },
      { "--memory-swap", "--memory-swap", "8m" }, { "--memory-swap", "-m", "64m", "--memory-swap", "32m" },
      { "--cpus", "--cpus", "0" }, { "--cpus", "--cpus", "a" }, { "--cpu-shares", "--cpu-shares", "1" },
      { "--cpuset-cpus", "--cpuset-cpus", "9999" }, { "--cpuset-cpus", "--cpuset-cpus", "1-0" },
      { "--cpuset-mems", "--cpuset-mems", "x" }, { "--pids-limit", "--pids-limit", "x" },
      { "--cgroup-parent", "--cgroup-parent", "../up" },
    } do
      local name = H.name("bad")
      local a = { "--name", name, table.unpack(case, 2) }
      a[#a + 1] = "true"
      local _, err, code = run(table.unpack(a))
      assert.equal(125, code, table.concat(case, " "))
      assert.truthy(err:find(case[1], 1, true), case[1] .. " not named in: " .. err)
      assert.is_nil(fs.stat(H.state_dir(name)))
      assert_gone(name)
    end
  end)

  H.it_priv("no cgroup remains after failures: command not found, a failing step", function()
    local name = H.name("fail")
    local _, _, code = run("--name", name, "-m", "32m", "no-such-command")
    assert.equal(127, code)
    assert_gone(name)
    name = H.name("fail")
    local _, err
    _, err, code = run("--name", name, "--pids-limit", "9", "--rootfs", "/proc/sys", "true")
    assert.equal(125, code)
    assert.matches("^wbl: ", err) -- a step of init.lua failed, after the cgroup was made
    assert_gone(name)
  end)

  H.it_priv("SIGKILL of the command: 137, cgroup removed", function()
    local name = H.name("k9")
    local job = start("--name", name, "-m", "32m", "sh", "-c", "echo up; read x")
    assert.equal("up", H.read_line(job))
    local cg = dirs(name)
    local pid1 = cgroup.pids(cg.dirs[1].path)[1]
    assert(core.proc.kill(pid1, "SIGKILL"))
    assert.equal(137, stop(job))
    assert_gone(name)
  end)

  H.it_priv("SIGTERM to wbl: every process of the container ends, cgroup removed", function()
    local name = H.name("term")
    local job = start("--name", name, "--pids-limit", "10", "sh", "-c",
      'trap "exit 3" TERM; sleep 60 & echo up; wait')
    assert.equal("up", H.read_line(job))
    local cg = dirs(name)
    local pids = cgroup.pids(cg.dirs[1].path)
    assert.equal(2, #pids)
    assert(core.proc.kill(job.pid, "SIGTERM"))
    assert.equal(3, stop(job))
    for _, p in ipairs(pids) do
      local s = fs.read_file("/proc/" .. p .. "/stat")
      assert.is_true(s == nil or s:match("%) [ZX]") ~= nil, "pid " .. p .. " lives on")
    end
    assert_gone(name)
  end)

  H.it_priv("SIGKILL of wbl leaves the cgroup; cleanup.lua removes it, twice", function()
    local name = H.name("kw")
    local job = start("--name", name, "-m", "32m", "sh", "-c", "sleep 60 & echo up; read x")
    assert.equal("up", H.read_line(job))
    assert(core.proc.kill(job.pid, "SIGKILL"))
    assert.equal(137, stop(job))
    local _, n = dirs(name)
    assert.is_true(n > 0, "expected the cgroup of a killed wbl to remain")
    local out, err, code = H.wbl_run({ H.top .. "/scripts/cleanup.lua", name })
    assert.equal(0, code, err)
    assert.equal(name .. "\n", out)
    assert_gone(name)
    _, err, code = H.wbl_run({ H.top .. "/scripts/cleanup.lua", name })
    assert.equal(0, code, err)
  end)

  H.it_priv("init.lua's join cgroups step places PID 1 where the host side did not", function()
    -- A front end of the spec's own whose host side places nothing (no
    -- clone3 into the cgroup, no v1 writes): only init.lua can put PID 1
    -- in its cgroups, and the pids limit only holds if it does.
    local dir = H.tmpdir()
    finally(function() require("wbl.util").rm_rf(dir) end)
    local host = dir .. "/host.lua"
    assert(fs.write_file(host, ([[
      local wbl = require "wbl"
      wbl.cgroup.clone_opts = function() return {} end
      wbl.cgroup.add = function() return true end
      local scripts = %q
      local o, cmd = wbl.args.parse(wbl.docker.options, arg)
      local id = wbl.container.new_id()
      local c = wbl.container.new(assert(wbl.docker.spec(o, cmd, id)), id)
      local ok, st = xpcall(function()
        wbl.step("create", loadfile(scripts .. "/create.lua"))(c, scripts)
        wbl.step("start", wbl.container.start(c))
        return wbl.step("wait", wbl.container.wait(c))
      end, wbl.handler)
      if not ok then io.stderr:write(wbl.describe(st), "\n") end
      assert(wbl.container.destroy(c))
      os.exit(ok and st or 125)
    ]]):format(H.top .. "/scripts")))
    local forks = "for i in 1 2 3 4 5 6; do sleep 1 & done; wait; echo done"
    local out, err = H.wbl_run { host, "--cgroup-parent", parent, "--network", "none",
      "--pids-limit", "3", "sh", "-c", forks }
    assert.equal("", out)
    assert.matches("can't fork", err) -- limited: PID 1 is in its cgroups
    -- The same host side with init.lua's step removed: not limited.
    local scripts = dir .. "/scripts"
    assert(fs.mkdir(scripts, "0755"))
    for _, f in ipairs { "create.lua", "process.lua", "init.lua" } do
      local text = assert(fs.read_file(H.top .. "/scripts/" .. f))
      if f == "init.lua" then
        local n
        text, n = text:gsub('\n%s*if c%.cgroup[^\n]*step%("join cgroups"[^\n]*', "\n")
        assert.equal(1, n)
      end
      assert(fs.write_file(scripts .. "/" .. f, text))
    end
    assert(fs.write_file(host, (fs.read_file(host):gsub((H.top .. "/scripts"):gsub("%p", "%%%0"), scripts))))
    local code
    out, err, code = H.wbl_run { host, "--cgroup-parent", parent, "--network", "none",
      "--pids-limit", "3", "sh", "-c", forks }
    assert.equal(0, code, err)
    assert.equal("done\n", out)
    assert.is_nil(err:match("can't fork"), err)
  end)

  H.it_priv("a process put in its cgroups from outside its PID namespace is killed at teardown", function()
    local name = H.name("intruder")
    local job = start("--name", name, "--network", "none", "sh", "-c", "echo up; read x")
    assert.equal("up", H.read_line(job))
    local cg = dirs(name)
    local pid = assert(core.proc.fork())
    if pid == 0 then
      core.proc.execve("/bin/sleep", { "sleep", "600" })
      core.proc._exit(127)
    end
    for _, d in ipairs(cg.dirs) do assert(fs.write_file(d.path .. "/cgroup.procs", tostring(pid), "")) end
    assert.equal(0, stop(job)) -- PID 1 ends; the sleeper is not of its namespace
    local _, how, sig = core.proc.waitpid(pid)
    assert.equal("killed", how)
    assert.equal(9, sig)
    assert_gone(name)
  end)

  H.it_priv("keeps wbl's own parent for the next container; cleanup.lua removes it when empty", function()
    local out, err, code = H.run { "--rm", "--network", "none", "true" } -- the default parent, "wbl"
    assert.equal(0, code, err)
    assert.equal("", out)
    local top = assert(cgroup.find("", "wbl"))
    assert.is_true(#top.dirs > 0, "no wbl parent was kept")
    for _, d in ipairs(top.dirs) do assert.is_not_nil(fs.stat(d.path), d.path) end
    local _
    _, err, code = H.wbl_run { H.top .. "/scripts/cleanup.lua" }
    assert.equal(0, code, err)
    for _, d in ipairs(top.dirs) do
      -- gone, unless a container still running (another spec's) is below it
      local busy = false
      for _, n in ipairs(fs.readdir(d.path) or {}) do
        local st = fs.lstat(d.path .. "/" .. n)
        busy = busy or (st ~= nil and st.type == "directory")
      end
      assert.is_true(busy or fs.stat(d.path) == nil, d.path .. " remains, empty")
    end
  end)
end)
