-- bench/bench.lua: `make bench`.  wbl against crun, runc, bubblewrap,
-- unshare+chroot and the kernel's floor (bench/floor.c), all running
-- /bin/true in the same busybox root; then scaling rows, layered roots,
-- a breakdown of where wbl's own time goes (WBL_TRACE), and the targets
-- of issue 14, each MET or MISSED with its numbers.
--
--   WBL_CACHE= build/wbl bench/bench.lua    (make bench builds what it needs first)
--
-- The container every runtime runs is wbl's default one (docker's), made
-- from wbl's own spec (wbl.docker.spec of `--rm --network none -m 64m
-- true`, wbl.seccomp.resolve): its capabilities, seccomp profile, device
-- rules, masked and read-only paths, mounts and memory limit go into the
-- OCI bundle crun and runc run (and wbl-oci, on the same bundle), and into
-- floor -s's options; the seccomp filter floor loads is the BPF program
-- wbl compiles from that profile (wbl.seccomp.compile, what its
-- containers load).  The header prints what the bundle holds.
--
-- Environment: BENCH_RUNS (30: measured runs per case), BENCH_WARMUP (3),
-- BENCH_SEQ_RUNS (3: repetitions of "100 one after another"),
-- BENCH_PAR_RUNS (10: repetitions of each "N at once"; 50 at once:
-- BENCH_PAR50_RUNS, 5), BENCH_COLD_RUNS (8), BENCH_ONLY (Lua patterns,
-- separated by "," or "|": run only the groups whose name one matches:
-- main, seq, par, layers, trace, and cold, which runs only when asked
-- for), BENCH_KEEP=1 (keep the temp dir, to look at logs).
--
-- Everything the benchmark makes is under one temp dir (/tmp/wbl-bench.XXXX:
-- wbl's store, state and chunk cache, OCI bundles and runtime state,
-- layers, logs; WBL_CACHE= keeps this script's own wbl out of the default
-- cache too), one bridge network (bench-XXXX, the wbl-br row's) and one
-- cgroup name (wbl-bench-XXXX: crun's, runc's, measure -W's; the floor's
-- are wbl-bench-floor-PID); all of it is removed at the end, on failure
-- and on Ctrl-C too.  Cases run pair by pair interleaved (bench/measure.c):
-- A B C A B C ..., so drift on a shared machine hits every case alike;
-- ratios are medians of per-round ratios.
local wbl = require "wbl"
local core, util = wbl.core, wbl.util
local fs = core.fs

local function num(k, d) return tonumber(os.getenv(k) or "") or d end
local RUNS, WARMUP = num("BENCH_RUNS", 30), num("BENCH_WARMUP", 3)
local SEQ_N, SEQ_RUNS = 100, num("BENCH_SEQ_RUNS", 3)
local PAR_RUNS, PAR50_RUNS = num("BENCH_PAR_RUNS", 10), num("BENCH_PAR50_RUNS", 5)
local COLD_RUNS = num("BENCH_COLD_RUNS", 8)
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
-- The bridge network of the wbl-br row: one of the bench's own (network.lua
-- create, rm at cleanup), not the default "bridge" (wbl0): that bridge and
-- its nft table are the host's, there may be one already (from a wbl whose
-- state is gone), and the default network outlives its last container by
-- a grace period, in a state dir the bench removes.  Per container the work
-- is the same: a lease, a veth into the bridge, addresses and routes.
local BRIDGE_NET, NET_ERR = "bench-" .. tag, nil
-- The runtimes' state roots (wbl's WBL_ROOT, crun's, runc's and wbl-oci's
-- --root, the floor's /etc files) are on a tmpfs of the bench's own, RUNFS:
-- each runtime's default is under /run (/run/wbl, /run/crun, /run/runc),
-- a tmpfs on a systemd host, but on this VM /run is the root's ext4, where
-- every rename over a file starts a write-back (ext4's auto_da_alloc).  The
-- row wbl-disk runs wbl-m with its state root on disk (D.state_disk), to
-- show what that costs.  Stores, layers and bundles stay on disk for all.
local RUNFS = TMP .. "/run"
local D = {
  store = TMP .. "/store", bundles = TMP .. "/bundles", layers = TMP .. "/layers", logs = TMP .. "/logs",
  floor = TMP .. "/floor", state_disk = TMP .. "/state-disk",
  state = RUNFS .. "/state", crun = RUNFS .. "/crun", runc = RUNFS .. "/runc", wbloci = RUNFS .. "/wbl-oci",
  flooretc = RUNFS .. "/floor",
}

-- The environment of every wbl the bench runs: its own store, state and
-- chunk cache (wbl's compiled Lua, WBL_CACHE), all under TMP.
local WENV = { WBL_STORE = D.store, WBL_ROOT = D.state, WBL_CACHE = TMP .. "/luac" }
local function wenv()
  return ("WBL_STORE=%s WBL_ROOT=%s WBL_CACHE=%s "):format(q(WENV.WBL_STORE), q(WENV.WBL_ROOT), q(WENV.WBL_CACHE))
end

local function cgroup_dirs()
  local dirs = {}
  if fs.stat("/sys/fs/cgroup/" .. CGNAME) then dirs[1] = "/sys/fs/cgroup/" .. CGNAME end -- (pure v2: WARM's)
  for _, h in ipairs(fs.readdir("/sys/fs/cgroup") or {}) do
    local d = "/sys/fs/cgroup/" .. h .. "/" .. CGNAME
    if fs.stat(d) then dirs[#dirs + 1] = d end
  end
  return dirs
end

-- rmdir a cgroup tree, deepest first (cgroup files cannot be unlinked);
-- EBUSY a while: a process just killed (measure's parked one) may not be
-- released yet.
local function rmdir_tree(d)
  for _, n in ipairs(fs.readdir(d) or {}) do
    local st = fs.lstat(d .. "/" .. n)
    if st and st.type == "directory" then rmdir_tree(d .. "/" .. n) end
  end
  for _ = 1, 50 do
    local ok, _, en = fs.rmdir(d)
    if ok or en ~= core.errno.EBUSY then return end
    util.sleep_ms(10)
  end
end

local mounted_runfs = false

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
    for id in capture(wenv() .. q(oci) .. " --root " .. q(D.wbloci) .. " list -q"):gmatch("%S+") do
      os.execute(wenv() .. q(oci) .. " --root " .. q(D.wbloci) .. " delete -f " .. q(id) .. " >/dev/null 2>&1")
    end
  end
  -- wbl containers whose wbl was killed, then the bench's bridge network
  -- (and the default one, had anything made it: cleanup.lua prunes it).
  local env = wenv() .. "WBL_NET_GRACE_MS=0 "
  if fs.stat(D.state) then
    os.execute(env .. q(WBL) .. " " .. q(home .. "/scripts/cleanup.lua") .. " >/dev/null 2>&1")
  end
  if fs.stat(D.state_disk) then
    os.execute(env .. "WBL_ROOT=" .. q(D.state_disk) .. " " .. q(WBL) .. " " .. q(home .. "/scripts/cleanup.lua")
      .. " >/dev/null 2>&1")
  end
  if fs.stat(D.state .. "/networks/" .. BRIDGE_NET) then
    local msg = capture(env .. q(WBL) .. " " .. q(home .. "/scripts/network.lua") .. " rm " .. q(BRIDGE_NET))
    if fs.stat(D.state .. "/networks/" .. BRIDGE_NET) then
      problems[#problems + 1] = "network " .. BRIDGE_NET .. ": " .. msg:gsub("%s+$", "")
    end
  end
  if fs.stat(D.state .. "/networks/bridge") then problems[#problems + 1] = "the default network remains" end
  -- crun's and runc's cgroups (cgroupsPath /wbl-bench-TAG/...).
  for _, d in ipairs(cgroup_dirs()) do
    rmdir_tree(d)
    if fs.stat(d) then problems[#problems + 1] = "cgroup " .. d .. " remains" end
  end
  -- The cgroups of floors that were killed (memory, devices).
  for _, h in ipairs { "memory", "devices" } do
    for _, n in ipairs(fs.readdir("/sys/fs/cgroup/" .. h) or {}) do
      local pid = n:match("^wbl%-bench%-floor%-(%d+)$")
      if pid and not fs.stat("/proc/" .. pid) then fs.rmdir("/sys/fs/cgroup/" .. h .. "/" .. n) end
    end
  end
  -- The state roots' tmpfs (its contents go with it).
  if mounted_runfs then
    local ok, msg = core.mount.umount2(RUNFS, "detach")
    if ok then mounted_runfs = false else problems[#problems + 1] = "umount " .. RUNFS .. ": " .. tostring(msg) end
  end
  if os.getenv("BENCH_KEEP") == "1" then
    say("kept %s (BENCH_KEEP=1; the state roots were on a tmpfs, unmounted): remove it yourself", TMP)
  elseif fs.stat(TMP) then
    local ok, msg = util.rm_rf(TMP)
    if not ok then problems[#problems + 1] = "rm -rf " .. TMP .. ": " .. tostring(msg) end
  end
  for _, p in ipairs(problems) do io.stderr:write("bench: cleanup: ", p, "\n") end
end

-- Setup ------------------------------------------------------------------

local ROOT
local notes = {}
-- measure -W: two cgroups a parked process goes between before each run
-- (see RCU_NOTE); under CGNAME in the v1 memory hierarchy (or cgroup2).
local WARM

local function setup()
  if core.proc.getuid() ~= 0 then error("the benchmark needs root", 0) end
  for _, f in ipairs { MEASURE, FLOOR, WBL } do
    if not fs.stat(f) then error(f .. " is missing: run `make bench`", 0) end
  end
  local r = home .. "/rootfs/busybox"
  if not fs.stat(r .. "/bin/true") then error(r .. "/bin/true is missing: run `make rootfs`", 0) end
  ROOT = assert(fs.realpath(r))
  assert(fs.mkdir(TMP, "0700"))
  assert(fs.mkdir(RUNFS, "0700"))
  assert(core.mount.mount("tmpfs", RUNFS, "tmpfs", "nosuid,nodev", "mode=0700,size=256m"))
  mounted_runfs = true
  for _, d in pairs(D) do assert(fs.mkdir(d, "0700")) end
  local base = fs.stat("/sys/fs/cgroup/memory/cgroup.procs") and "/sys/fs/cgroup/memory"
    or fs.stat("/sys/fs/cgroup/cgroup.controllers") and "/sys/fs/cgroup"
  if base then
    WARM = base .. "/" .. CGNAME .. "/warm"
    for _, d in ipairs { base .. "/" .. CGNAME, WARM, WARM .. "/a", WARM .. "/b" } do assert(fs.mkdir(d, "0755")) end
  end
end

-- wbl's default container, as a spec --------------------------------------

-- The spec run.lua makes of `--rm --network none -m 64m true` (wbl.docker:
-- docker's defaults), with the seccomp profile resolved as create.lua
-- resolves it.  Everything the other runtimes and the floor are given
-- comes from here, so the bench follows wbl's defaults when they change.
local function default_spec()
  local o, cmd = wbl.args.parse(wbl.docker.options, { "--rm", "--network", "none", "-m", "64m", "true" })
  if not o then error("run.lua options: " .. tostring(cmd), 0) end
  local s = assert(wbl.docker.spec(o, cmd, "bench"))
  assert(wbl.seccomp.resolve(s))
  return s
end

local SPEC         -- default_spec(), made at setup
local FLOOR_HARD   -- floor's options for the spec's confinement (-d -M -R -c -s [-n])
local BPF = TMP .. "/seccomp.bpf"
local swap_accounting = fs.stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") ~= nil

local json = require "dkjson"
local function arr(t) return setmetatable(t, { __jsontype = "array" }) end
local function list(t)
  local o = {}
  for i, v in ipairs(t or {}) do o[i] = v end
  return arr(o)
end

-- The floor's hardening options from the spec.
local function floor_hardening(s)
  local a = {}
  for _, w in ipairs(assert(wbl.devices.v1_writes(s.linux.resources.devices))) do
    a[#a + 1] = "-d"; a[#a + 1] = (w[1] == "devices.allow" and "allow " or "deny ") .. w[2]
  end
  for _, p in ipairs(s.linux.maskedPaths) do a[#a + 1] = "-M"; a[#a + 1] = p end
  for _, p in ipairs(s.linux.readonlyPaths) do a[#a + 1] = "-R"; a[#a + 1] = p end
  local caps, number = s.process.capabilities, {}
  for i, n in ipairs(wbl.spec.all_capabilities) do number[n] = i - 1 end
  for _, set in ipairs { "effective", "permitted" } do
    assert(table.concat(caps[set], ",") == table.concat(caps.bounding, ","),
      "floor -c gives one set for bounding, permitted and effective; the spec's differ")
  end
  assert(#caps.inheritable == 0 and #caps.ambient == 0,
    "floor -c clears inheritable and ambient; the spec's are not empty")
  local nums = {}
  for _, n in ipairs(caps.bounding) do nums[#nums + 1] = assert(number[n], n) end
  a[#a + 1] = "-c"; a[#a + 1] = table.concat(nums, ",")
  if s.linux.seccomp then a[#a + 1] = "-s"; a[#a + 1] = BPF end
  if s.process.noNewPrivileges then a[#a + 1] = "-n" end
  return a
end

-- OCI bundles: one per slot (runc reads BUNDLE/config.json), the spec's
-- container as config.json: its process (args, env, cwd, user,
-- capabilities, noNewPrivileges, rlimits), mounts plus the /etc/hosts,
-- hostname and resolv.conf wbl binds in (files in the bundle), devices,
-- device rules, memory (+ swap where the kernel accounts it, as wbl's -m),
-- masked and read-only paths, seccomp, namespaces; the busybox root
-- read-only (it is shared by every slot and runtime; wbl's is a fresh
-- overlay); an absolute cgroupsPath under wbl-bench-TAG.
local function oci_config(s, rt, k, dir)
  local p, l = s.process, s.linux
  local caps = {}
  for _, set in ipairs { "bounding", "effective", "permitted", "inheritable", "ambient" } do
    caps[set] = list(p.capabilities[set])
  end
  local mounts = arr {}
  for _, m in ipairs(s.mounts) do
    mounts[#mounts + 1] = { destination = m.destination, type = m.type, source = m.source, options = list(m.options) }
  end
  for _, n in ipairs { "hosts", "hostname", "resolv.conf" } do
    mounts[#mounts + 1] = { destination = "/etc/" .. n, type = "bind", source = dir .. "/" .. n,
                            options = arr { "rbind", "rprivate" } }
  end
  local rules = arr {}
  for _, r in ipairs(l.resources.devices) do
    rules[#rules + 1] = { allow = r.allow, type = r.type, major = r.major, minor = r.minor, access = r.access }
  end
  local devices = arr {}
  for _, d in ipairs(l.devices) do
    devices[#devices + 1] = { path = d.path, type = d.type, major = d.major, minor = d.minor, fileMode = d.fileMode,
                              uid = d.uid, gid = d.gid }
  end
  local mem = l.resources.memory
  local ns = arr {}
  for _, n in ipairs(l.namespaces) do ns[#ns + 1] = { type = n.type } end
  local sc = l.seccomp and {
    defaultAction = l.seccomp.defaultAction, defaultErrnoRet = l.seccomp.defaultErrnoRet,
    architectures = list(l.seccomp.architectures), flags = l.seccomp.flags and list(l.seccomp.flags),
    syscalls = arr {},
  }
  for _, c in ipairs(sc and l.seccomp.syscalls or {}) do
    local args = c.args and arr {}
    for _, x in ipairs(c.args or {}) do
      args[#args + 1] = { index = x.index, value = x.value, valueTwo = x.valueTwo, op = x.op }
    end
    sc.syscalls[#sc.syscalls + 1] = { names = list(c.names), action = c.action, errnoRet = c.errnoRet, args = args }
  end
  local rl = arr {}
  for _, r in ipairs(p.rlimits) do rl[#rl + 1] = { type = r.type, soft = r.soft, hard = r.hard } end
  return json.encode({
    ociVersion = "1.0.2", -- crun 1.8.1's most
    process = {
      terminal = false, user = { uid = p.user.uid, gid = p.user.gid }, args = list(p.args), env = list(p.env),
      cwd = p.cwd, capabilities = caps, rlimits = rl, noNewPrivileges = p.noNewPrivileges or false,
    },
    root = { path = ROOT, readonly = true },
    hostname = s.hostname,
    mounts = mounts,
    linux = {
      cgroupsPath = ("/%s/%s-%d"):format(CGNAME, rt, k),
      resources = { devices = rules, memory = { limit = mem.limit, swap = swap_accounting and mem.swap or nil } },
      namespaces = ns, devices = devices,
      maskedPaths = list(l.maskedPaths), readonlyPaths = list(l.readonlyPaths),
      seccomp = sc,
    },
  }, { indent = true }) .. "\n"
end

local function bundle(rt, k)
  local dir = ("%s/%s-%d"):format(D.bundles, rt, k)
  if not fs.stat(dir) then
    assert(fs.mkdir(dir, "0700"))
    assert(fs.write_file(dir .. "/config.json", oci_config(SPEC, rt, k, dir), nil, "0644"))
    assert(fs.write_file(dir .. "/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
      nil, "0644"))
    assert(fs.write_file(dir .. "/hostname", SPEC.hostname .. "\n", nil, "0644"))
    assert(fs.write_file(dir .. "/resolv.conf", "", nil, "0644"))
  end
  return dir
end

-- What the bundle holds, for the header.
local function describe_spec(s)
  local l, p = s.linux, s.process
  local mounts = {}
  for _, m in ipairs(s.mounts) do mounts[#mounts + 1] = m.destination end
  local names = 0
  for _, c in ipairs(l.seccomp and l.seccomp.syscalls or {}) do names = names + #c.names end
  local allow = 0
  for _, r in ipairs(l.resources.devices) do if r.allow then allow = allow + 1 end end
  local short = {}
  for _, c in ipairs(p.capabilities.bounding) do short[#short + 1] = c:gsub("^CAP_", "") end
  local mem = l.resources.memory
  return {
    ("capabilities (%d; bounding, effective, permitted; inheritable and ambient empty): %s"):format(
      #short, table.concat(short, " ")),
    ("seccomp: docker's default profile through wbl.seccomp (%s, errno %s, %s; %d rules naming %d syscalls)")
      :format(l.seccomp and l.seccomp.defaultAction or "none", tostring(l.seccomp and l.seccomp.defaultErrnoRet),
        table.concat(l.seccomp and l.seccomp.architectures or {}, " "), l.seccomp and #l.seccomp.syscalls or 0, names),
    ("no_new_privs %s; device rules: deny all, then %d allow (wbl.spec.default_device_rules); %d device nodes")
      :format(tostring(p.noNewPrivileges), allow, #l.devices),
    ("masked paths (%d): %s"):format(#l.maskedPaths, table.concat(l.maskedPaths, " ")),
    ("read-only paths (%d): %s"):format(#l.readonlyPaths, table.concat(l.readonlyPaths, " ")),
    ("mounts: %s, and /etc/hosts, hostname, resolv.conf bound in"):format(table.concat(mounts, " ")),
    ("memory %d MiB (+ swap to %d MiB%s); namespaces: %s; root: the busybox dir, read-only (wbl: a fresh overlay)")
      :format(mem.limit // 1048576, mem.swap // 1048576, swap_accounting and "" or ": no swap accounting, left out",
        wbl.spec.clone_flags(s, true)),
  }
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
  help = capture(wenv() .. q(WBL) .. " " .. q(RUN) .. " --help")
  has.rm = help:find("%-%-rm") ~= nil
  has.memory = help:find("%-%-memory") ~= nil
  has.network = help:find("%-%-network") ~= nil
  has.bridge = has.network and help:find("bridge") ~= nil
  has.layers_option = help:find("%-%-layer") ~= nil
end

-- After setup and probe: the bench's bridge network; wbl's default spec,
-- its seccomp filter as wbl compiles it, the floor's options.
local function prepare()
  if has.bridge then
    local msg = capture(("%s%s %s create %s"):format(wenv(), q(WBL), q(home .. "/scripts/network.lua"),
      q(BRIDGE_NET)))
    if not fs.stat(D.state .. "/networks/" .. BRIDGE_NET) then
      NET_ERR = "network.lua create: " .. msg:gsub("%s+$", "")
    end
  end
  SPEC = default_spec()
  if SPEC.linux.seccomp then -- the program wbl's containers load (the specs compare it with the kernel's)
    assert(fs.write_file(BPF, assert(wbl.seccomp.compile(SPEC.linux.seccomp)), nil, "0600"))
  end
  FLOOR_HARD = floor_hardening(SPEC)
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
    -- (measure sets a leading KEY=VAL in the environment, no env exec'd)
    t[#t + 1] = case("wbl-disk", { "WBL_ROOT=" .. D.state_disk, table.unpack(wbl_args({ "-m", "64m" }, "none")) },
      { label = "wbl-m with its state root on disk (this VM's /run is ext4)" })
  else
    t[#t + 1] = skipped("wbl-m", "wbl run.lua --rm --network none -m 64m true",
      "run.lua has no -m/--memory option yet (issue 3)")
  end
  if has.bridge and not NET_ERR then
    t[#t + 1] = case("wbl-br", wbl_args({}, BRIDGE_NET),
      { label = "wbl run.lua --rm --network " .. BRIDGE_NET .. " true (a bridge network)" })
  elseif has.bridge then
    t[#t + 1] = skipped("wbl-br", "wbl run.lua --rm --network bridge true", NET_ERR or "no bridge network")
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
-- memory cgroup, /proc /sys /sys/fs/cgroup /dev /tmp, the /etc files,
-- hostname, lo, stdin; and (unless o.hard == false) wbl's default
-- confinement: devices cgroup, masked and read-only paths, bounding set,
-- seccomp, user, capabilities (FLOOR_HARD, from the spec).
local function floor_same(o, nlayers)
  o = o or {}
  local hard = o.hard ~= false
  local a = { FLOOR, "-o", D.floor, "-e", D.flooretc, "-m", tostring(MEM), "-f" }
  if hard then table.move(FLOOR_HARD, 1, #FLOOR_HARD, #a + 1, a) end
  for _, d in ipairs(layer_dirs(nlayers or 1)) do a[#a + 1] = "-l"; a[#a + 1] = d end
  a[#a + 1] = ROOT
  a[#a + 1] = "/bin/true"
  o.label = o.label or (hard and "floor, same setup + confinement: devices cg, masks, caps, seccomp"
    or "floor, same setup, unconfined: overlay, 64m memcg, mounts, /etc, lo")
  return case(o.id or (hard and "floor-s" or "floor-u"), a, o)
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

-- Run the cases (skipped ones are kept for the table) interleaved, each
-- run after a cgroup migration (measure -W WARM) unless cold; return
-- { [id] = { wall = {}, cpu = {}, rss = {}, rounds = { [r] = wall }, procs = { [r] = { wall of
-- each process } }, fail = }, order = {...} } (ms; procs for cases of more than one process).
local function measure(name, cases, runs, warmup, extra, cold)
  group_no = group_no + 1
  local file = ("%s/group%d.cases"):format(TMP, group_no)
  local lines, res = {}, { order = cases }
  for _, c in ipairs(cases) do
    res[c.id] = { wall = {}, cpu = {}, rss = {}, rounds = {}, cpu_rounds = {}, procs = {} }
    if not c.skip then
      lines[#lines + 1] = table.concat({ c.id, c.par, c.seq, table.concat(c.argv, "\t") }, "\t")
    end
  end
  if #lines == 0 then return res end
  assert(fs.write_file(file, table.concat(lines, "\n") .. "\n", nil, "0644"))
  local logs = ("%s/group%d"):format(D.logs, group_no)
  assert(fs.mkdir(logs, "0700"))
  local cmd = { q(MEASURE), "-C", "-r", runs, "-w", warmup, "-L", q(logs) }
  for _, k in ipairs { "WBL_STORE", "WBL_ROOT", "WBL_CACHE" } do
    cmd[#cmd + 1] = "-E"; cmd[#cmd + 1] = q(k .. "=" .. WENV[k])
  end
  if WARM and not cold then cmd[#cmd + 1] = "-W"; cmd[#cmd + 1] = q(WARM) end
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
    elseif f[1] == "proc" then -- one process of a run: fork to reap
      local r, round = res[f[3]], tonumber(f[2])
      r.procs[round] = r.procs[round] or {}
      r.procs[round][tonumber(f[4]) + 1] = tonumber(f[5]) / 1e6
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

-- quiet: print nothing, only return { phase = ms }, { order, med } (the
-- floor's, shown beside wbl's).
local function breakdown(tracefile, untraced, quiet)
  local function show(...) if not quiet then say(...) end end
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
        label = label:gsub("%x%x%x%x%x%x%x%x%x%x%x%x+", "ID"):gsub("into %d+$", "into PID")
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
  show("")
  show("## Where the time goes: %s", untraced.label)
  show("WBL_TRACE marks (wbl.step: when a step's work is done; teardown: after each undo), %d runs.", #runs)
  show("Each line: median ms since the previous mark, in whichever process made it; the line names")
  show("the work that ends there (host: wbl or floor; ctr: the container's side before exec).")
  show("")
  show("%-5s %-62s %8s %8s", "who", "step (work ending at this mark)", "ms", "cum ms")
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
    show("%-5s %-62s %8.2f %8.2f", who, nice:sub(1, 62), m, cum)
  end
  show("%-5s %-62s %8.2f", "", "traced total (median, fork to reaped)", median(totals) or 0)
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
    elseif phase and phase:match("^[345]") then -- (wbl: the host's last steps run beside the child's first)
      phase = "4 host after clone (wbl: v1 cgroups, device rules, state, go)"
    end
    if phase then
      if not sums[phase] then sums[phase] = 0; phases[#phases + 1] = phase end
      sums[phase] = sums[phase] + median(deltas[key])
    end
  end
  show("")
  show("By phase (sums of the medians above):")
  for _, p in ipairs(phases) do show("  %-70s %6.2f ms", p:sub(3), sums[p]) end
  local med = {}
  for _, key in ipairs(order) do med[key] = median(deltas[key]) end
  return sums, { order = order, med = med }
end

-- A step's name without the path it names, so wbl's and the floor's marks
-- of the same work meet ("pivot_root $T/store/.../root", "pivot_root").
local function step_key(key)
  local who, label = key:match("^(.-)\t(.*)$")
  if label == "floor started" then label = "wbl loaded" end -- both: the program's exec, up to its first mark
  for _, p in ipairs { "mount the overlay root", "pivot_root", "rootfs", "exec", "workdir" } do
    if label:sub(1, #p + 1) == p .. " " then label = p end
  end
  return who .. "\t" .. label
end

-- wbl's steps beside the floor's marks of the same work (same names), in
-- wbl's order, then the floor's steps wbl has no mark of the same name for.
local function side_by_side(w, f)
  local fmed, fseen = {}, {}
  for _, k in ipairs(f.order) do
    local sk = step_key(k)
    fmed[sk] = (fmed[sk] or 0) + f.med[k]
  end
  say("")
  say("Step by step, wbl against the floor with the same setup (median ms of the work ending at")
  say("each mark; same name, same work; \"-\": that side has no such mark):")
  say("%-5s %-58s %8s %8s %8s", "who", "step", "wbl", "floor", "wbl-fl")
  local tw, tf = 0, 0
  local function row(who, label, a, b)
    tw, tf = tw + (a or 0), tf + (b or 0)
    say("%-5s %-58s %8s %8s %8s", who, label:sub(1, 58), fmt(a, "%.2f"), fmt(b, "%.2f"),
      (a and b) and ("%.2f"):format(a - b) or "")
  end
  local wsum, worder = {}, {}
  for _, k in ipairs(w.order) do
    local sk = step_key(k)
    if not wsum[sk] then worder[#worder + 1] = sk end
    wsum[sk] = (wsum[sk] or 0) + w.med[k]
  end
  local nice = { ["wbl loaded"] = "exec (wbl: + Lua state, run.lua loaded, require 'wbl')",
                 wait = "exec /bin/true, it exits, namespaces die, waitpid", reaped = "exit, reaped" }
  for _, sk in ipairs(worder) do
    local who, label = sk:match("^(.-)\t(.*)$")
    if fmed[sk] then fseen[sk] = true end
    row(who, nice[label] or label, wsum[sk], fmed[sk])
  end
  for _, k in ipairs(f.order) do
    local sk = step_key(k)
    if not fseen[sk] then
      fseen[sk] = true
      local who, label = sk:match("^(.-)\t(.*)$")
      row(who, label .. " (floor only)", nil, fmed[sk])
    end
  end
  say("%-5s %-58s %8.2f %8.2f %8.2f", "", "total", tw, tf, tw - tf)
end

-- Per-process times (measure's "proc" lines) ------------------------------

-- Of runs with several processes: for each run, its processes' median and
-- slowest (ms); the run whose slowest is the most times its median.
local function spread(r)
  local worst
  for round, walls in pairs(r.procs) do
    local t = {}
    for _, v in pairs(walls) do t[#t + 1] = v end
    local med, max = median(t), math.max(table.unpack(t))
    local x = { round = round, n = #t, median = med, max = max, ratio = max / med }
    if not worst or x.ratio > worst.ratio then worst = x end
  end
  return worst
end

-- Of runs of processes one after another: the median of the first n
-- starts and of the last n, over every run.
local function growth(r, n)
  local first, last = {}, {}
  for _, walls in pairs(r.procs) do
    for i = 1, math.min(n, #walls) do first[#first + 1] = walls[i] end
    for i = math.max(1, #walls - n + 1), #walls do last[#last + 1] = walls[i] end
  end
  return median(first), median(last)
end

local function print_procs(res, what)
  for _, c in ipairs(res.order) do
    local r = res[c.id]
    if not why(res, c) and next(r.procs) then
      if what == "seq" then
        local a, b = growth(r, 10)
        say("  %-8s per container: first 10 %.1f ms, last 10 %.1f ms (median over the repetitions)", c.id, a, b)
      else
        local w = spread(r)
        say("  %-8s per container (fork to reap): worst batch median %.1f ms, slowest %.1f ms (%.2fx)",
          c.id, w.median, w.max, w.ratio)
      end
    end
  end
end

-- Targets ----------------------------------------------------------------------

local function verdict(ok) return ok and "MET" or "MISSED" end

local function print_targets(results)
  local m = results.main
  local function have(res, id) return res and res[id] and #res[id].wall > 0 end
  local function line(name, text) say("%-40s %s", name, text) end
  say("")
  say("## Targets (issue 14; row wbl-m: run --rm --network none -m 64m true, overlay root, default confinement)")
  if not have(m, "wbl-m") then
    local c
    for _, x in ipairs(m and m.order or {}) do if x.id == "wbl-m" then c = x end end
    line("wall, RSS, bridge:", "cannot be evaluated: " ..
      (not m and "the main group did not run (BENCH_ONLY)" or (c and why(m, c) or "no wbl-m row")))
  else
    local r = have(m, "crun") and ratio(m, "wbl-m", "crun")
    line("wall <= 0.5x crun's:", r and ("%s (wbl-m/crun = %.2f)"):format(verdict(r <= 0.5), r)
      or "cannot be evaluated: crun did not run")
    r = have(m, "floor-s") and ratio(m, "wbl-m", "floor-s")
    line("wall <= 1.5x floor, same confined setup:", r and ("%s (wbl-m/floor-s = %.2f; floor-s/floor-u = %s)")
      :format(verdict(r <= 1.5), r, fmt(have(m, "floor-u") and ratio(m, "floor-s", "floor-u"), "%.2f"))
      or "cannot be evaluated: floor-s did not run")
    if have(m, "crun") then
      local a, b = median(m["wbl-m"].rss) / 1024, median(m.crun.rss) / 1024
      line("peak RSS < crun's:", ("%s (%.1f MiB vs %.1f MiB)"):format(verdict(a < b), a, b))
    else
      line("peak RSS < crun's:", "cannot be evaluated: crun did not run")
    end
    if have(m, "wbl-br") and have(m, "wbl") then
      local d = diff(m, "wbl-br", "wbl")
      line("--network bridge adds <= 5 ms:", ("%s (wbl-br - wbl, median per-round difference: %.1f ms)")
        :format(verdict(d <= 5), d))
    else
      local c
      for _, x in ipairs(m.order) do if x.id == "wbl-br" then c = x end end
      line("--network bridge adds <= 5 ms:", "cannot be evaluated: " .. (c and why(m, c) or "no bridge row"))
    end
  end
  local sq = results.seq
  if not sq then
    line("100 back to back <= 1.2x 100 starts:", "cannot be evaluated: the seq group did not run")
  elseif not have(sq, "wbl-m") then
    local c = sq.order[1]
    line("100 back to back <= 1.2x 100 starts:", "cannot be evaluated: " .. (why(sq, c) or "no runs"))
  else
    local total = median(sq["wbl-m"].wall)
    local one, from = have(m, "wbl-m") and median(m["wbl-m"].wall), "the main group's wbl-m median"
    if not one then
      local t = {}
      for _, walls in pairs(sq["wbl-m"].procs) do for _, v in ipairs(walls) do t[#t + 1] = v end end
      one, from = median(t), "the median start within the 100 (main group not run)"
    end
    local first, last = growth(sq["wbl-m"], 10)
    line("100 back to back <= 1.2x 100 starts:", ("%s (total %.0f ms = %.2fx 100 x %.1f ms, %s;")
      :format(verdict(total <= 1.2 * SEQ_N * one), total, total / (SEQ_N * one), one, from))
    line("", ("first 10 starts %.1f ms, last 10 %.1f ms: growth %.2fx)"):format(first, last, last / first))
  end
  local p50 = results.par and results.par[50]
  if not p50 then
    line("50 at once: all succeed, none > 3x:", "cannot be evaluated: the par group did not run")
  else
    local c = p50.order[1]
    local r, w = p50["wbl-m"], why(p50, c)
    if w then
      line("50 at once: all succeed, none > 3x:", ("MISSED (%s)"):format(w))
    else
      local sp = spread(r)
      local ok = #r.wall == PAR50_RUNS and sp.ratio <= 3
      line("50 at once: all succeed, none > 3x:", ("%s (%d/%d batches of 50 all exited 0; worst batch: slowest %.0f ms"
        .. " = %.2fx its median %.0f ms)"):format(verdict(ok), #r.wall, PAR50_RUNS, sp.max, sp.ratio, sp.median))
    end
  end
  line("breakdown names each step's cost:", results.trace and "see \"Where the time goes\" and \"Step by step\" above"
    or "the trace group did not run")
  if have(m, "wbl-m") then
    local extra = {}
    for _, id in ipairs { "bwrap", "runc", "floor-u" } do
      if have(m, id) then extra[#extra + 1] = ("wbl-m/%s %.2f"):format(id, ratio(m, "wbl-m", id)) end
    end
    if have(m, "wbl-oci") and have(m, "crun") then
      extra[#extra + 1] = ("wbl-oci/crun (the same bundle) %.2f"):format(ratio(m, "wbl-oci", "crun"))
    end
    if #extra > 0 then say("for reference: %s", table.concat(extra, ", ")) end
  end
end

-- Main -----------------------------------------------------------------------

-- BENCH_ONLY: Lua patterns, separated by "," or "|"; cold runs only when
-- one of them matches it.
local function want(g)
  if not ONLY then return g ~= "cold" end
  for p in ONLY:gmatch("[^,|]+") do
    if g:match(p) then return true end
  end
  return false
end

local RCU_NOTE = {
  "note: on this host (cgroup v1 controllers) a cgroup.procs write takes the kernel's",
  "cgroup_threadgroup_rwsem for writing, which waits for an RCU grace period (rcu_sync) unless a",
  "migration happened in the last ~15-20 ms: crun measured 21 ms cold against 6.5 ms back to back.",
  "wbl's PID 1 (wbl-oci's too) and the floor's child join their v1 cgroups themselves (0 to tasks:",
  "one thread moving itself takes no such lock); crun and runc write cgroup.procs from the host.",
  "So that no case is cold because of what ran before it, measure moves a parked process between",
  "two cgroups before every run (-W, outside the time): every case runs warm, as on a busy host.",
  "BENCH_ONLY=cold runs each case after 100 ms idle, without that, and shows the cold cost.",
}

local function main()
  setup()
  probe()
  prepare()
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
  say("Every runtime's state root (wbl's, crun's, runc's, wbl-oci's; the floor's /etc files) is on a")
  say("tmpfs, as under /run on a systemd host (this VM's /run is ext4): wbl-disk is wbl-m on disk.")
  say("")
  say("The container (wbl's default spec: wbl.docker.spec of --rm --network none -m 64m true), as")
  say("crun's and runc's config.json (and wbl-oci's, on crun's bundle) and floor-s's options hold it:")
  for _, l in ipairs(describe_spec(SPEC)) do say("  %s", l) end
  local bpf = fs.stat(BPF)
  if bpf then
    say("  floor-s's seccomp filter: the %d BPF instructions wbl compiles from that profile (what its",
      bpf.size // 8)
    say("  containers load); floor-u: floor-s without the confinement.")
  end
  say("")
  for _, l in ipairs(RCU_NOTE) do say("%s", l) end

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
    cases[#cases + 1] = floor_same { hard = false }
    cases[#cases + 1] = floor_same()
    results.main = measure("main", cases, RUNS, WARMUP)
    for _, n in ipairs(notes) do say("note: %s", n) end
    print_main(results.main)
  end

  -- 2. Scaling: 100 one after another; 2, 8, 32, 50 at once.
  if want("seq") then
    local o = function() return { seq = SEQ_N } end
    local cases = { wbl_target(o()), crun_case(o()), bwrap_case(o()), floor_same(o()) }
    results.seq = measure("100 in a row", cases, SEQ_RUNS, 0)
    print_scaling(("%d containers one after another (median of %d repetitions)"):format(SEQ_N, SEQ_RUNS),
      results.seq, SEQ_N)
    print_procs(results.seq, "seq")
  end
  if want("par") then
    results.par = {}
    for _, k in ipairs { 2, 8, 32, 50 } do
      local runs = k == 50 and PAR50_RUNS or PAR_RUNS
      local o = function() return { par = k } end
      local cases = { wbl_target(o()), crun_case(o()), bwrap_case(o()), floor_same(o()) }
      results.par[k] = measure(k .. " at once", cases, runs, 1)
      print_scaling(("%d containers at once (wall: the whole batch; median of %d)"):format(k, runs),
        results.par[k], k)
      print_procs(results.par[k], "par")
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
        label = ("floor, same confined setup, %d layer(s)"):format(n) }, n)
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
    local tr = not target.skip
      and measure("trace", { target }, RUNS, 1, { "-T", q(tracefile), "-E", q("WBL_TRACE=" .. tracefile) })
    if not tr or why(tr, target) then
      say("")
      say("breakdown: could not run: %s", target.skip or why(tr, target))
    else
      local startup = {
        case("lua", { which("lua5.4") or "lua5.4", "-e", "local _" }, { label = "lua5.4 -e 'local _' (reference)" }),
        case("wbl-e", { WBL, "-e", "local _" }, { label = "wbl -e 'local _' (exec + Lua state + exit)" }),
        case("wbl-req", { WBL, "-e", "require 'wbl'" }, { label = "wbl -e \"require 'wbl'\"" }),
        case("wbl-help", { WBL, RUN, "--help" }, { label = "wbl run.lua --help (loads run.lua, args)" }),
      }
      local u = measure("startup", startup, RUNS, WARMUP)
      local wsums, wsteps = breakdown(tracefile, target)
      local ffile = TMP .. "/trace-floor.tsv"
      local fl = floor_same()
      measure("trace floor", { fl }, RUNS, 1, { "-T", q(ffile), "-E", q("WBL_TRACE=" .. ffile) })
      local fsums, fsteps = breakdown(ffile, fl, true)
      side_by_side(wsteps, fsteps)
      results.trace = true
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
        local r = measure("trace bridge", { br }, RUNS, 1, { "-T", q(brfile), "-E", q("WBL_TRACE=" .. brfile) })
        if why(r, br) then say("") say("breakdown of %s: %s", br.label, why(r, br))
        else breakdown(brfile, br) end
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

  -- 5. Cold starts (only with BENCH_ONLY=cold): each run after 100 ms idle.
  if want("cold") then
    local cases = { wbl_target(), crun_case(), floor_same() }
    local res = measure("cold", cases, COLD_RUNS, 1, { "-i", "100" }, true)
    say("")
    say("## Cold: each run after 100 ms idle (median of %d; no cgroup migration just before)", COLD_RUNS)
    say("%-8s %-74s %8s %8s", "id", "command", "cold ms", "warm ms")
    for _, c in ipairs(res.order) do
      local w = why(res, c)
      local warm = results.main and results.main[c.id] and median(results.main[c.id].wall)
      if w then say("%-8s %-74s %s", c.id, c.label, w)
      else say("%-8s %-74s %8.1f %8s", c.id, c.label, median(res[c.id].wall), fmt(warm)) end
    end
    if not results.main then say("(warm: BENCH_ONLY='main|cold' runs the main group first)") end
  end

  -- 6. Targets.
  if results.main or results.seq or results.par then print_targets(results) end
end

local ok, err = xpcall(main, debug.traceback)
cleanup()
if not ok then
  io.stderr:write("bench: ", tostring(err), "\n")
  os.exit(1)
end
os.exit(0)
