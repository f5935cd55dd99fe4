-- bench/bench.lua: `make bench`.  wbl against crun, runc, bubblewrap,
-- unshare+chroot and the kernel's floor (bench/floor.c), all running
-- /bin/true in the same busybox root; then scaling rows, layered roots,
-- and a breakdown of where wbl's own time goes (WBL_TRACE).
--
--   build/wbl bench/bench.lua          (make bench builds what it needs first)
--
-- Environment: BENCH_RUNS (30: measured runs per case), BENCH_WARMUP (3),
-- BENCH_SEQ_RUNS (3: repetitions of "100 one after another"),
-- BENCH_PAR_RUNS (10: repetitions of each "N at once"), BENCH_ONLY (a Lua
-- pattern: run only the groups whose name matches: main, seq, par, layers,
-- trace), BENCH_KEEP=1 (keep the temp dir, to look at logs).
--
-- Everything the benchmark makes is under one temp dir (/tmp/wbl-bench.XXXX:
-- wbl's store and state, OCI bundles and runtime state, layers, logs) and
-- one cgroup name (wbl-bench-XXXX, for crun and runc); all of it is removed
-- at the end, on failure and on Ctrl-C too.  Cases run pair by pair
-- interleaved (bench/measure.c): A B C A B C ..., so drift on a shared
-- machine hits every case alike; ratios are medians of per-round ratios.
local wbl = require "wbl"
local core, util = wbl.core, wbl.util
local fs = core.fs

local function num(k, d) return tonumber(os.getenv(k) or "") or d end
local RUNS, WARMUP = num("BENCH_RUNS", 30), num("BENCH_WARMUP", 3)
local SEQ_N, SEQ_RUNS = 100, num("BENCH_SEQ_RUNS", 3)
local PAR_RUNS = num("BENCH_PAR_RUNS", 10)
local ONLY = os.getenv("BENCH_ONLY")
local MEM = 64 * 1024 * 1024

local home = wbl.home
local WBL = home .. "/build/wbl"
local RUN = home .. "/scripts/run.lua"
local MEASURE = home .. "/build/bench/measure"
local FLOOR = home .. "/build/bench/floor"

local out = io.stdout
local function say(...) out:write(string.format(...), "\n"); out:flush() end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- s with every plain occurrence of `from` replaced by `to`.
local function subst(s, from, to)
  return (s:gsub(from:gsub("[%^%$%(%)%%%.%[%]%*%+%-%?]", "%%%0"), (to:gsub("%%", "%%%%"))))
end

local function which(name)
  for dir in (os.getenv("PATH") or "/usr/sbin:/usr/bin:/sbin:/bin"):gmatch("[^:]+") do
    local p = dir .. "/" .. name
    local st = fs.stat(p)
    if st and st.type == "file" then return p end
  end
end

local function capture(cmd)
  local f = io.popen(cmd .. " 2>&1")
  local s = f:read("a")
  f:close()
  return s
end

local function median(t)
  if #t == 0 then return nil end
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

-- The temp dir, the cgroup name, and the cleanup that undoes both ---------

local tag = util.random_hex(4)
local TMP = "/tmp/wbl-bench." .. tag
local CGNAME = "wbl-bench-" .. tag
local D = {
  store = TMP .. "/store", state = TMP .. "/state", bundles = TMP .. "/bundles",
  layers = TMP .. "/layers", logs = TMP .. "/logs", floor = TMP .. "/floor",
  crun = TMP .. "/crun", runc = TMP .. "/runc", wbloci = TMP .. "/wbl-oci",
}

local function cgroup_dirs()
  local dirs = {}
  for _, h in ipairs(fs.readdir("/sys/fs/cgroup") or {}) do
    local d = "/sys/fs/cgroup/" .. h .. "/" .. CGNAME
    if fs.stat(d) then dirs[#dirs + 1] = d end
  end
  return dirs
end

-- rmdir a cgroup tree, deepest first (cgroup files cannot be unlinked).
local function rmdir_tree(d)
  for _, n in ipairs(fs.readdir(d) or {}) do
    local st = fs.lstat(d .. "/" .. n)
    if st and st.type == "directory" then rmdir_tree(d .. "/" .. n) end
  end
  fs.rmdir(d)
end

local function cleanup()
  local problems = {}
  -- OCI containers a killed run left behind.
  for _, rt in ipairs { "crun", "runc" } do
    local bin = which(rt)
    if bin and fs.stat(D[rt]) then
      local ids = capture(q(bin) .. " --root " .. q(D[rt]) .. " list -q")
      for id in ids:gmatch("[%w%-_]+") do
        if id ~= "ID" then
          os.execute(q(bin) .. " --root " .. q(D[rt]) .. " delete -f " .. q(id) .. " >/dev/null 2>&1")
        end
      end
    end
  end
  -- wbl-oci's (its own state root).
  local oci = home .. "/build/wbl-oci"
  if fs.stat(oci) and fs.stat(D.wbloci) then
    for id in capture(q(oci) .. " --root " .. q(D.wbloci) .. " list -q"):gmatch("%S+") do
      os.execute(q(oci) .. " --root " .. q(D.wbloci) .. " delete -f " .. q(id) .. " >/dev/null 2>&1")
    end
  end
  -- wbl containers whose wbl was killed.
  if #(fs.readdir(D.state .. "/containers") or {}) > 0 then
    os.execute(("WBL_STORE=%s WBL_ROOT=%s %s %s >/dev/null 2>&1"):format(
      q(D.store), q(D.state), q(WBL), q(home .. "/scripts/cleanup.lua")))
  end
  -- crun's and runc's cgroups (cgroupsPath /wbl-bench-TAG/...).
  for _, d in ipairs(cgroup_dirs()) do
    rmdir_tree(d)
    if fs.stat(d) then problems[#problems + 1] = "cgroup " .. d .. " remains" end
  end
  -- The floor's memory cgroups of floors that were killed.
  for _, n in ipairs(fs.readdir("/sys/fs/cgroup/memory") or {}) do
    local pid = n:match("^wbl%-bench%-floor%-(%d+)$")
    if pid and not fs.stat("/proc/" .. pid) then fs.rmdir("/sys/fs/cgroup/memory/" .. n) end
  end
  if os.getenv("BENCH_KEEP") == "1" then
    say("kept %s (BENCH_KEEP=1): remove it yourself", TMP)
  elseif fs.stat(TMP) then
    local ok, msg = util.rm_rf(TMP)
    if not ok then problems[#problems + 1] = "rm -rf " .. TMP .. ": " .. tostring(msg) end
  end
  for _, p in ipairs(problems) do io.stderr:write("bench: cleanup: ", p, "\n") end
end

-- Setup ------------------------------------------------------------------

local ROOT
local notes = {}

local function setup()
  if core.proc.getuid() ~= 0 then error("the benchmark needs root", 0) end
  for _, f in ipairs { MEASURE, FLOOR, WBL } do
    if not fs.stat(f) then error(f .. " is missing: run `make bench`", 0) end
  end
  local r = home .. "/rootfs/busybox"
  if not fs.stat(r .. "/bin/true") then error(r .. "/bin/true is missing: run `make rootfs`", 0) end
  ROOT = assert(fs.realpath(r))
  assert(fs.mkdir(TMP, "0700"))
  for _, d in pairs(D) do assert(fs.mkdir(d, "0700")) end
end

-- OCI bundles: one per slot (runc reads BUNDLE/config.json), same root,
-- read-only, the same namespaces as wbl, a 64 MiB memory limit (+ swap as
-- wbl's -m sets it), an absolute cgroupsPath under wbl-bench-TAG.
local function oci_config(rt, k)
  local swap = fs.stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
    and (', "swap": %d'):format(2 * MEM) or ""
  return ([[{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": { "uid": 0, "gid": 0 },
    "args": [ "/bin/true" ],
    "env": [ "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" ],
    "cwd": "/",
    "capabilities": {
      "bounding": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "effective": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "permitted": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ],
      "ambient": [ "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" ]
    },
    "rlimits": [ { "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 } ],
    "noNewPrivileges": true
  },
  "root": { "path": "%s", "readonly": true },
  "hostname": "bench",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "strictatime", "mode=755", "size=65536k" ] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": [ "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620" ] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": [ "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" ] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": [ "nosuid", "noexec", "nodev", "ro" ] },
    { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
      "options": [ "nosuid", "nodev", "mode=1777" ] }
  ],
  "linux": {
    "cgroupsPath": "/%s/%s-%d",
    "resources": {
      "devices": [ { "allow": false, "access": "rwm" } ],
      "memory": { "limit": %d%s }
    },
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
      { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
    ],
    "maskedPaths": [ "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
      "/proc/timer_list", "/proc/sched_debug", "/sys/firmware", "/proc/scsi" ],
    "readonlyPaths": [ "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" ]
  }
}
]]):format(ROOT, CGNAME, rt, k, MEM, swap)
end

local function bundle(rt, k)
  local dir = ("%s/%s-%d"):format(D.bundles, rt, k)
  if not fs.stat(dir) then
    assert(fs.mkdir(dir, "0700"))
    assert(fs.write_file(dir .. "/config.json", oci_config(rt, k), nil, "0644"))
  end
  return dir
end

-- Layers 2..60: one small directory each (a file of its own), over the
-- busybox root as the bottom layer.  Top first, as overlayfs wants.
local function layer_dirs(n)
  local t = {}
  for i = n - 1, 1, -1 do
    local d = ("%s/L%02d"):format(D.layers, i)
    if not fs.stat(d) then
      assert(fs.mkdir(d, "0755"))
      assert(fs.mkdir(d .. "/etc", "0755"))
      assert(fs.write_file(("%s/etc/layer%02d"):format(d, i), tostring(i) .. "\n", nil, "0644"))
    end
    t[#t + 1] = d
  end
  return t
end

-- What wbl can do now (the features land in parallel) ----------------------

local help = ""
local has = {}
local function probe()
  help = capture(q(WBL) .. " " .. q(RUN) .. " --help")
  has.rm = help:find("%-%-rm") ~= nil
  has.memory = help:find("%-%-memory") ~= nil
  has.network = help:find("%-%-network") ~= nil
  has.bridge = has.network and help:find("bridge") ~= nil
  has.layers_option = help:find("%-%-layer") ~= nil
end

-- Cases --------------------------------------------------------------------
-- A case: { id, label, par, seq, argv } or { id, label, skip = reason }.

local function wbl_args(extra, net)
  local a = { WBL, RUN }
  if has.rm then a[#a + 1] = "--rm" end
  if net and has.network then a[#a + 1] = "--network"; a[#a + 1] = net end
  for _, x in ipairs(extra or {}) do a[#a + 1] = x end
  a[#a + 1] = "true"
  return a
end

local function label_of(argv)
  local t = {}
  for i, a in ipairs(argv) do
    if i == 1 then a = a:match("[^/]+$") end
    if a == RUN then a = "run.lua" end
    a = subst(subst(a, TMP, "$T"), ROOT, "ROOT")
    t[#t + 1] = a
  end
  return table.concat(t, " ")
end

local function case(id, argv, o)
  o = o or {}
  return { id = id, argv = argv, label = o.label or label_of(argv), par = o.par or 1, seq = o.seq or 1,
           skip = o.skip }
end

local function skipped(id, label, why) return { id = id, label = label, skip = why } end

local function wbl_cases()
  local t = {}
  local none_label = "wbl run.lua --rm --network none true"
  if not has.rm then
    t[#t + 1] = skipped("wbl", none_label, "run.lua has no --rm option yet (issue 4)")
    return t
  end
  if has.network then
    t[#t + 1] = case("wbl", wbl_args({}, "none"))
  else
    notes[#notes + 1] = "run.lua has no --network option yet (issue 5): the wbl rows run without it; " ..
      "today every container gets a new network namespace with lo only, which is what --network none means."
    t[#t + 1] = case("wbl", wbl_args({}, nil))
  end
  if has.memory then
    t[#t + 1] = case("wbl-m", wbl_args({ "-m", "64m" }, "none"))
  else
    t[#t + 1] = skipped("wbl-m", "wbl run.lua --rm --network none -m 64m true",
      "run.lua has no -m/--memory option yet (issue 3)")
  end
  if has.bridge then
    t[#t + 1] = case("wbl-br", wbl_args({}, "bridge"))
  else
    t[#t + 1] = skipped("wbl-br", "wbl run.lua --rm --network bridge true",
      has.network and "run.lua --help does not mention a bridge network (issue 5)"
        or "run.lua has no --network option yet (issue 5)")
  end
  return t
end

local function crun_case(o)
  local bin = which("crun")
  if not bin then return skipped("crun", "crun run", "crun is not installed (apt-get install crun)") end
  for i = 0, (o and o.par or 1) - 1 do bundle("crun", i) end
  o = o or {}
  o.label = o.label or "crun run (OCI bundle, 64m)"
  return case("crun", { bin, "--root", D.crun, "run", "--bundle", D.bundles .. "/crun-{k}", "bench-crun-{k}" }, o)
end

-- wbl as an OCI runtime on crun's own bundle (the same config.json and root).
local function wbl_oci_case(o)
  local bin = home .. "/build/wbl-oci"
  if not fs.stat(bin) then return skipped("wbl-oci", "wbl-oci run", "build/wbl-oci is not built (make)") end
  for i = 0, (o and o.par or 1) - 1 do bundle("crun", i) end
  o = o or {}
  o.label = o.label or "wbl-oci run (crun's bundle, 64m)"
  return case("wbl-oci", { bin, "--root", D.wbloci, "run", "--bundle", D.bundles .. "/crun-{k}", "bench-wbloci-{k}" },
    o)
end

local function runc_case(o)
  local bin = which("runc")
  if not bin then return skipped("runc", "runc run", "runc is not installed (apt-get install runc)") end
  for i = 0, (o and o.par or 1) - 1 do bundle("runc", i) end
  o = o or {}
  o.label = o.label or "runc run (OCI bundle, 64m)"
  return case("runc", { bin, "--root", D.runc, "run", "--bundle", D.bundles .. "/runc-{k}", "bench-runc-{k}" }, o)
end

local function bwrap_case(o)
  local bin = which("bwrap")
  if not bin then return skipped("bwrap", "bwrap", "bwrap is not installed (apt-get install bubblewrap)") end
  o = o or {}
  return case("bwrap", { bin, "--unshare-all", "--ro-bind", ROOT, "/", "--proc", "/proc", "--dev", "/dev",
    "/bin/true" }, o)
end

local function unshare_case()
  local bin = which("unshare")
  if not bin then return skipped("unshare", "unshare", "unshare is not installed (util-linux)") end
  return case("unshare", { bin, "--fork", "--pid", "--mount", "--uts", "--ipc", "--net", "--mount-proc",
    "chroot", ROOT, "/bin/true" })
end

local function floor_case()
  return case("floor", { FLOOR, ROOT, "/bin/true" },
    { label = "floor: clone(6 ns), bind root, /proc, pivot_root, exec, wait" })
end

-- The floor doing what wbl does: overlay root (fresh upper), 64 MiB v1
-- memory cgroup, /proc /sys /dev /tmp, hostname, lo, stdin.
local function floor_same(o, nlayers)
  o = o or {}
  local a = { FLOOR, "-o", D.floor, "-m", tostring(MEM), "-f" }
  for _, d in ipairs(layer_dirs(nlayers or 1)) do a[#a + 1] = "-l"; a[#a + 1] = d end
  a[#a + 1] = ROOT
  a[#a + 1] = "/bin/true"
  o.label = o.label or "floor, same setup: overlay root, 64m memcg, /proc /sys /dev /tmp, lo"
  return case(o.id or "floor-s", a, o)
end

-- The target configuration: --rm --network none -m 64m (overlay root).
local function wbl_target(o)
  if not (has.rm and has.memory) then
    return skipped("wbl-m", "wbl run.lua --rm --network none -m 64m true", "run.lua lacks --rm or -m")
  end
  o = o or {}
  return case(o.id or "wbl-m", wbl_args({ "-m", "64m" }, "none"), o)
end

-- Running a group ----------------------------------------------------------

local group_no = 0

-- Run the cases (skipped ones are kept for the table) interleaved; return
-- { [id] = { wall = {}, cpu = {}, rss = {}, rounds = { [r] = wall } , fail = }, order = {...} }.
local function measure(name, cases, runs, warmup, extra)
  group_no = group_no + 1
  local file = ("%s/group%d.cases"):format(TMP, group_no)
  local lines, res = {}, { order = cases }
  for _, c in ipairs(cases) do
    res[c.id] = { wall = {}, cpu = {}, rss = {}, rounds = {}, cpu_rounds = {} }
    if not c.skip then
      lines[#lines + 1] = table.concat({ c.id, c.par, c.seq, table.concat(c.argv, "\t") }, "\t")
    end
  end
  if #lines == 0 then return res end
  assert(fs.write_file(file, table.concat(lines, "\n") .. "\n", nil, "0644"))
  local logs = ("%s/group%d"):format(D.logs, group_no)
  assert(fs.mkdir(logs, "0700"))
  local cmd = { q(MEASURE), "-C", "-r", runs, "-w", warmup, "-L", q(logs),
    "-E", q("WBL_STORE=" .. D.store), "-E", q("WBL_ROOT=" .. D.state) }
  for _, e in ipairs(extra or {}) do cmd[#cmd + 1] = e end
  cmd[#cmd + 1] = q(file)
  local resfile = file .. ".out"
  io.stderr:write(("bench: %s: %d case(s) x %d run(s)...\n"):format(name, #lines, runs))
  local ok, how, code = os.execute("exec " .. table.concat(cmd, " ") .. " > " .. q(resfile))
  if not ok then error(("measure (%s) %s %s: interrupted or failed"):format(name, how, code), 0) end
  for l in io.lines(resfile) do
    local f = {}
    for x in l:gmatch("[^\t]+") do f[#f + 1] = x end
    if f[1] == "run" then
      local r = res[f[3]]
      local round, wall, cpu, rss = tonumber(f[2]), tonumber(f[4]) / 1e6, tonumber(f[5]) / 1e6, tonumber(f[6])
      r.wall[#r.wall + 1], r.cpu[#r.cpu + 1], r.rss[#r.rss + 1] = wall, cpu, rss
      r.rounds[round], r.cpu_rounds[round] = wall, cpu
    elseif f[1] == "fail" then
      local log = fs.read_file(f[4]) or ""
      log = log:gsub("%s+$", ""):gsub("\n", " | ")
      if #log > 300 then log = log:sub(1, 300) .. "..." end
      res[f[2]].fail = ("exit %s: %s"):format(f[3], log ~= "" and log or "(no message)")
    end
  end
  return res
end

-- Median of per-round ratios a/b (rounds where both ran).
local function ratio(res, a, b, field)
  field = field or "rounds"
  local ra, rb = res[a] and res[a][field], res[b] and res[b][field]
  if not ra or not rb then return nil end
  local t = {}
  for r, v in pairs(ra) do
    if rb[r] and rb[r] > 0 then t[#t + 1] = v / rb[r] end
  end
  return median(t)
end

local function diff(res, a, b)
  local t = {}
  for r, v in pairs(res[a].rounds) do
    if res[b].rounds[r] then t[#t + 1] = v - res[b].rounds[r] end
  end
  return median(t)
end

local function fmt(v, f) return v and (f or "%.1f"):format(v) or "-" end

local function why(res, c)
  if c.skip then return "could not run: " .. c.skip end
  local r = res[c.id]
  if r.fail then return "FAILED: " .. r.fail end
  if #r.wall == 0 then return "no runs" end
end

-- Tables ------------------------------------------------------------------

local function print_main(res)
  say("")
  say("## Cases (median of %d runs after %d warm-up, interleaved; CPU = user+sys of the whole tree; RSS = peak)",
    RUNS, WARMUP)
  say("")
  say("%-8s %-74s %8s %8s %8s", "id", "command", "wall ms", "cpu ms", "rss MiB")
  for _, c in ipairs(res.order) do
    local r, w = res[c.id], why(res, c)
    if w then
      say("%-8s %-74s %s", c.id, c.label, w)
    else
      say("%-8s %-74s %8.1f %8.1f %8.1f", c.id, c.label, median(r.wall), median(r.cpu), median(r.rss) / 1024)
    end
  end
  -- The ratio matrix: row / column, median of per-round wall-time ratios.
  local ids = {}
  for _, c in ipairs(res.order) do
    if not why(res, c) then ids[#ids + 1] = c.id end
  end
  say("")
  say("Wall-time ratio row/column (median of per-round ratios, same rounds):")
  local head = { ("%-8s"):format("") }
  for _, b in ipairs(ids) do head[#head + 1] = ("%8s"):format(b) end
  say("%s", table.concat(head, " "))
  for _, a in ipairs(ids) do
    local row = { ("%-8s"):format(a) }
    for _, b in ipairs(ids) do row[#row + 1] = ("%8s"):format(a == b and "1" or fmt(ratio(res, a, b), "%.2f")) end
    say("%s", table.concat(row, " "))
  end
end

local function print_scaling(title, res, per, no_ratios)
  say("")
  say("## %s", title)
  say("%-8s %-50s %10s %12s %12s %8s %5s", "id", "command", "wall ms", "ms/container", "cpu ms", "rss MiB", "runs")
  for _, c in ipairs(res.order) do
    local r, w = res[c.id], why(res, c)
    if w then
      say("%-8s %-50s %s", c.id, c.label, w)
    else
      local wall = median(r.wall)
      say("%-8s %-50s %10.1f %12.2f %12.1f %8.1f %5d", c.id, c.label:sub(1, 50), wall, wall / per,
        median(r.cpu), median(r.rss) / 1024, #r.wall)
    end
  end
  local ids = {}
  for _, c in ipairs(res.order) do if not why(res, c) then ids[#ids + 1] = c.id end end
  if ids[1] and #ids > 1 and not no_ratios then
    local parts = {}
    for i = 2, #ids do parts[#parts + 1] = ("%s/%s %.2f"):format(ids[1], ids[i], ratio(res, ids[1], ids[i]) or 0) end
    say("ratios: %s", table.concat(parts, ", "))
  end
end

-- The breakdown ------------------------------------------------------------

local function breakdown(tracefile, untraced)
  local runs, cur = {}, nil
  for l in io.lines(tracefile) do
    local pid, ns, label = l:match("^(%d+)\t(%d+)\t(.*)$")
    if pid then
      if label == "bench:fork" then
        cur = { { who = "bench", label = "fork", t = tonumber(ns) } }
        runs[#runs + 1] = cur
      elseif cur then
        local who = label:match("^bench:") and "bench" or (pid == "1" and "ctr" or "host")
        label = subst(subst(label:gsub("^bench:", ""), TMP, "$T"), ROOT, "ROOT")
        label = subst(label, home .. "/build/../rootfs/busybox", "ROOT")
        label = label:gsub("%x%x%x%x%x%x%x%x%x%x%x%x+", "ID")
        cur[#cur + 1] = { who = who, label = label, t = tonumber(ns) }
      end
    end
  end
  -- Keys: who + label + occurrence; deltas since the previous mark (any process).
  local order, seen, deltas, totals = {}, {}, {}, {}
  for _, run in ipairs(runs) do
    table.sort(run, function(x, y) return x.t < y.t end)
    local count = {}
    for i = 2, #run do
      local e = run[i]
      local base = e.who .. "\t" .. e.label
      count[base] = (count[base] or 0) + 1
      local key = base .. (count[base] > 1 and (" (#" .. count[base] .. ")") or "")
      if not seen[key] then seen[key] = true; order[#order + 1] = key end
      deltas[key] = deltas[key] or {}
      table.insert(deltas[key], (e.t - run[i - 1].t) / 1e6)
    end
    totals[#totals + 1] = (run[#run].t - run[1].t) / 1e6
  end
  say("")
  say("## Where the time goes: %s", untraced.label)
  say("WBL_TRACE marks (wbl.step: when a step's work is done; teardown: after each undo), %d runs.", #runs)
  say("Each line: median ms since the previous mark, in whichever process made it; the line names")
  say("the work that ends there (host: wbl or floor; ctr: the container's side before exec).")
  say("")
  say("%-5s %-62s %8s %8s", "who", "step (work ending at this mark)", "ms", "cum ms")
  local cum = 0
  local names = {
    ["host\twbl loaded"] = "exec build/wbl, Lua state, run.lua loaded, require 'wbl'",
    ["bench\treaped"] = "wbl exits, reaped (Lua exit, process teardown)",
    ["host\twait"] = "exec /bin/true, it exits, namespaces die, SIGCHLD, waitpid",
  }
  for _, key in ipairs(order) do
    local m = median(deltas[key])
    cum = cum + m
    local who, label = key:match("^(.-)\t(.*)$")
    local nice = names[key] or label
    if #deltas[key] < #runs then nice = nice .. (" [%d/%d runs]"):format(#deltas[key], #runs) end
    say("%-5s %-62s %8.2f %8.2f", who, nice:sub(1, 62), m, cum)
  end
  say("%-5s %-62s %8.2f", "", "traced total (median, fork to reaped)", median(totals) or 0)
  -- The same, by phase.
  local phases, sums, phase = {}, {}, nil
  for _, key in ipairs(order) do
    local who, label = key:match("^(.-)\t(.*)$")
    if label == "wbl loaded" or label == "floor started" then
      phase = "1 start: exec (wbl: + Lua state, run.lua, require 'wbl')"
    elseif who == "host" and label == "clone" then phase = "3 clone (6 namespaces; wbl: fork of the Lua process)"
    elseif who == "ctr" then phase = "5 container side (wbl: init.lua: wake-up, COW faults, mounts, pivot)"
    elseif label == "wait" then phase = "6 exec /bin/true, exit, namespaces die, wait"
    elseif label:match("^teardown") then phase = "7 teardown"
    elseif who == "bench" then phase = "8 exit, reaped"
    elseif phase and phase:match("^1") then
      phase = "2 host setup before clone (wbl: options, modules, state, layer, cgroups)"
    elseif phase and phase:match("^3") then phase = "4 host after clone (state save, cgroup.procs, go)"
    end
    if phase then
      if not sums[phase] then sums[phase] = 0; phases[#phases + 1] = phase end
      sums[phase] = sums[phase] + median(deltas[key])
    end
  end
  say("")
  say("By phase (sums of the medians above):")
  for _, p in ipairs(phases) do say("  %-70s %6.2f ms", p:sub(3), sums[p]) end
  return sums
end

-- Main -----------------------------------------------------------------------

local function want(g) return not ONLY or g:match(ONLY) end

local function main()
  setup()
  probe()
  local uname = capture("uname -r"):gsub("%s+$", "")
  local load = (fs.read_file("/proc/loadavg") or ""):match("^(%S+ %S+ %S+)") or "?"
  say("# wbl benchmark: /bin/true in %s", ROOT)
  say("kernel %s, %d CPUs, load %s; crun %s, runc %s, %s", uname, #core.proc.getaffinity(),
    load, (capture("crun --version"):match("version (%S+)") or "-"),
    (capture("runc --version"):match("version (%S+)") or "-"),
    (capture("bwrap --version"):match("(bubblewrap %S+)") or "bwrap -"))
  say("wbl options found in run.lua --help: --rm %s, -m %s, --network %s (bridge %s)",
    has.rm and "yes" or "NO", has.memory and "yes" or "NO", has.network and "yes" or "NO",
    has.bridge and "yes" or "NO")
  say("crun runs in a private mount namespace where /sys/fs/cgroup/unified/cgroup.controllers is")
  say("/dev/null (crun 1.8.1 refuses hybrid hosts); every case runs there, nothing else changes.")

  local results = {}
  -- 1. The main cases, all interleaved.
  if want("main") then
    local cases = wbl_cases()
    cases[#cases + 1] = crun_case()
    cases[#cases + 1] = wbl_oci_case()
    cases[#cases + 1] = runc_case()
    cases[#cases + 1] = bwrap_case()
    cases[#cases + 1] = unshare_case()
    cases[#cases + 1] = floor_case()
    cases[#cases + 1] = floor_same()
    results.main = measure("main", cases, RUNS, WARMUP)
    for _, n in ipairs(notes) do say("note: %s", n) end
    print_main(results.main)
  end

  -- 2. Scaling: 100 one after another; 2, 8, 32 at once.
  if want("seq") then
    local o = function() return { seq = SEQ_N } end
    local cases = { wbl_target(o()), crun_case(o()), bwrap_case(o()), floor_same(o()) }
    results.seq = measure("100 in a row", cases, SEQ_RUNS, 0)
    print_scaling(("%d containers one after another (median of %d repetitions)"):format(SEQ_N, SEQ_RUNS),
      results.seq, SEQ_N)
  end
  if want("par") then
    results.par = {}
    for _, k in ipairs { 2, 8, 32 } do
      local o = function() return { par = k } end
      local cases = { wbl_target(o()), crun_case(o()), bwrap_case(o()), floor_same(o()) }
      results.par[k] = measure(k .. " at once", cases, PAR_RUNS, 1)
      print_scaling(("%d containers at once (wall: the whole batch; median of %d)"):format(k, PAR_RUNS),
        results.par[k], k)
    end
  end

  -- 3. Layered roots.
  if want("layers") then
    local cases = {}
    for _, n in ipairs { 1, 10, 60 } do
      local lowers = layer_dirs(n)
      lowers[#lowers + 1] = ROOT
      if has.layers_option then
        notes[#notes + 1] = "run.lua --help mentions --layer, but the bench drives layers through bench/layers.lua"
      end
      if has.rm and has.memory then
        local a = { WBL, home .. "/bench/layers.lua", table.concat(lowers, ":") }
        local w = wbl_args({ "-m", "64m" }, "none")
        for i = 3, #w do a[#a + 1] = w[i] end
        cases[#cases + 1] = case("wbl-L" .. n, a,
          { label = ("wbl (bench/layers.lua) %d layer(s), --rm -m 64m"):format(n) })
      else
        cases[#cases + 1] = skipped("wbl-L" .. n, n .. " layers", "run.lua lacks --rm or -m")
      end
      cases[#cases + 1] = floor_same({ id = "floor-L" .. n,
        label = ("floor, same setup, %d layer(s)"):format(n) }, n)
    end
    results.layers = measure("layers", cases, RUNS, WARMUP)
    say("")
    say("note: run.lua takes one layer per image (--rootfs DIR or --image NAME); the layer rows run")
    say("scripts/run.lua unchanged through bench/layers.lua, which makes wbl.image.lowers return")
    say("N directories (N-1 small ones over the busybox root).")
    print_scaling("Overlay root of 1, 10 and 60 layers", results.layers, 1, true)
    for _, n in ipairs { 1, 10, 60 } do
      local r = ratio(results.layers, "wbl-L" .. n, "floor-L" .. n)
      if r then say("wbl/floor with %d layer(s): %.2f", n, r) end
    end
  end

  -- 4. The breakdown: wbl's target case with WBL_TRACE, and bare starts.
  if want("trace") then
    local tracefile = TMP .. "/trace.tsv"
    local target = wbl_target()
    if target.skip then target = wbl_cases()[1] end
    if target.skip then
      say("breakdown: could not run: %s", target.skip)
    else
      measure("trace", { target }, RUNS, 1, { "-T", q(tracefile), "-E", q("WBL_TRACE=" .. tracefile) })
      local startup = {
        case("lua", { which("lua5.4") or "lua5.4", "-e", "local _" }, { label = "lua5.4 -e 'local _' (reference)" }),
        case("wbl-e", { WBL, "-e", "local _" }, { label = "wbl -e 'local _' (exec + Lua state + exit)" }),
        case("wbl-req", { WBL, "-e", "require 'wbl'" }, { label = "wbl -e \"require 'wbl'\"" }),
        case("wbl-help", { WBL, RUN, "--help" }, { label = "wbl run.lua --help (loads run.lua, args)" }),
      }
      local u = measure("startup", startup, RUNS, WARMUP)
      local wsums = breakdown(tracefile, target)
      local ffile = TMP .. "/trace-floor.tsv"
      local fl = floor_same()
      measure("trace floor", { fl }, RUNS, 1, { "-T", q(ffile), "-E", q("WBL_TRACE=" .. ffile) })
      local fsums = breakdown(ffile, fl)
      say("")
      say("wbl against the floor with the same setup, by phase (ms):")
      say("  %-70s %7s %7s %7s", "phase", "wbl", "floor", "wbl-fl")
      local keys = {}
      for k in pairs(wsums) do keys[#keys + 1] = k end
      for k in pairs(fsums) do if not wsums[k] then keys[#keys + 1] = k end end
      table.sort(keys)
      local tw, tf = 0, 0
      for _, k in ipairs(keys) do
        local a, b = wsums[k] or 0, fsums[k] or 0
        tw, tf = tw + a, tf + b
        say("  %-70s %7.2f %7.2f %7.2f", k:sub(3), a, b, a - b)
      end
      say("  %-70s %7.2f %7.2f %7.2f", "total", tw, tf, tw - tf)
      if has.bridge then
        local br = wbl_cases()[3]
        local brfile = TMP .. "/trace-bridge.tsv"
        measure("trace bridge", { br }, RUNS, 1, { "-T", q(brfile), "-E", q("WBL_TRACE=" .. brfile) })
        breakdown(brfile, br)
      end
      say("")
      say("Process start alone (untraced, interleaved):")
      for _, c in ipairs(startup) do
        local r = u[c.id]
        local w = why(u, c)
        if w then say("  %-44s %s", c.label, w)
        else say("  %-44s wall %6.2f ms  cpu %6.2f ms  rss %5.1f MiB", c.label, median(r.wall), median(r.cpu),
          median(r.rss) / 1024) end
      end
    end
  end

  -- 5. Targets.
  if results.main then
    local m = results.main
    local t = (m["wbl-m"] and #m["wbl-m"].wall > 0) and "wbl-m" or nil
    say("")
    say("## Targets (--rm --network none true, overlay root, -m 64m: row wbl-m)")
    local function verdict(ok) return ok and "MET" or "MISSED" end
    local function have(id) return m[id] and #m[id].wall > 0 end
    if not t then
      say("all: cannot be evaluated: the wbl-m row did not run")
    else
      local r = ratio(m, t, "crun")
      say("wall <= 1/2 of crun's:         %s", have("crun") and ("%s (wbl-m/crun = %.2f)"):format(verdict(r <= 0.5), r)
        or "cannot be evaluated: crun did not run")
      r = ratio(m, t, "bwrap")
      say("wall <= bwrap's:               %s", have("bwrap") and ("%s (wbl-m/bwrap = %.2f)"):format(verdict(r <= 1), r)
        or "cannot be evaluated: bwrap did not run")
      r = ratio(m, t, "floor-s")
      say("wall <= 1.5x floor, same setup: %s",
        have("floor-s") and ("%s (wbl-m/floor-s = %.2f)"):format(verdict(r <= 1.5), r)
        or "cannot be evaluated: the floor did not run")
      if have("crun") then
        local a, b = median(m[t].rss) / 1024, median(m.crun.rss) / 1024
        say("peak RSS < crun's:             %s (%.1f MiB vs %.1f MiB)", verdict(a < b), a, b)
      else
        say("peak RSS < crun's:             cannot be evaluated: crun did not run")
      end
    end
    if have("wbl-oci") and have("crun") then
      say("wbl-oci run vs crun run, the same bundle: %.2f (wall, median per-round ratio)", ratio(m, "wbl-oci", "crun"))
    end
    if have("wbl-br") and have("wbl") then
      local d = diff(m, "wbl-br", "wbl")
      say("bridge within 20 ms of none:   %s (median per-round difference %.1f ms)", verdict(d <= 20), d)
    else
      local c
      for _, x in ipairs(m.order) do if x.id == "wbl-br" then c = x end end
      say("bridge within 20 ms of none:   cannot be evaluated: %s", c and why(m, c) or "no bridge row")
    end
  end
end

local ok, err = xpcall(main, debug.traceback)
cleanup()
if not ok then
  io.stderr:write("bench: ", tostring(err), "\n")
  os.exit(1)
end
os.exit(0)
