-- OCI conformance: one case per config.json field, its effect proven from
-- inside the container (or from the host where it lives there: cgroups,
-- hooks, state), run against wbl (build/wbl-oci) and the same cases
-- against crun, the reference.  crun 1.8.1 refuses a hybrid cgroup host,
-- so it runs (as bench/ runs it) in a mount namespace of its own where
-- /sys/fs/cgroup/unified/cgroup.controllers is /dev/null; nothing else
-- changes.  The crun cases are pending, saying why, when crun is not
-- installed.  The count: busted's last line, per runtime in the names.
local core = require "wbl.core"
local util = require "wbl.util"
local json = require "dkjson"
local O = require "ocihelp"
local fs = core.fs

local have_crun = H.sh("command -v crun") ~= ""
local T -- a temp dir: crun's wrapper, bind sources

local function crun_wrapper()
  local w = T .. "/crun"
  assert(fs.write_file(w, "#!/bin/sh\nexec " .. H.q(H.wbl) .. [==[ -e 'local core = require "wbl.core"
assert(core.ns.unshare("mnt"))
assert(core.mount.mount(nil, "/", nil, "rec,private"))
local f = "/sys/fs/cgroup/unified/cgroup.controllers"
if core.fs.stat(f) then assert(core.mount.mount("/dev/null", f, nil, "bind")) end
local argv = { "crun" }
for _, a in ipairs({ ... }) do argv[#argv + 1] = a end
core.proc.execvp("crun", argv)
io.stderr:write("crun: not found\n")
os.exit(127)' "$@"
]==], nil, "0755"))
  return w
end

local function host_ns(t) return fs.readlink("/proc/self/ns/" .. t) end

-- The cases -------------------------------------------------------------------
--
-- { field, what, over = config overrides, fn = function(cfg, b) (more),
--   sh = the container's shell script (process.args sh -c SH),
--   check = function(out, err, code, b) (a foreground `run`),
--   body = function(b) (anything else: create, state, ...) }
local cases = {}
local function case(t) cases[#cases + 1] = t end

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- process ----------------------------------------------------------------------

case { field = "process.args", what = "the command and its arguments, as given",
  fn = function(cfg) cfg.process.args = O.arr { "sh", "-c", 'printf "%s|" "$0" "$@"', "zero", "a b", "", "c" } end,
  check = function(out) assert.equal("zero|a b||c|", out) end }

case { field = "process.env", what = "exactly the listed variables",
  over = { process = { env = O.arr { "PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY=" } } },
  sh = 'echo "$FOO"; echo "${EMPTY-unset}"; env | grep -c "^LUA_PATH=" || true',
  check = function(out) assert.equal("bar baz\n\n0\n", out) end }

case { field = "process.cwd", what = "the working directory",
  over = { process = { cwd = "/etc" } }, sh = "pwd",
  check = function(out) assert.equal("/etc\n", out) end }

case { field = "process.user.uid/gid", what = "the ids the command runs as",
  over = { process = { user = { uid = 1000, gid = 1001 } } }, sh = "id -u; id -g; id -G",
  check = function(out) assert.equal("1000\n1001\n1001\n", out) end }

case { field = "process.user.additionalGids", what = "the supplementary groups, and only them",
  over = { process = { user = { uid = 1000, gid = 1001, additionalGids = O.arr { 5, 7 } } } },
  sh = "cat /proc/self/status | grep ^Groups:",
  check = function(out) assert.matches("^Groups:%s+5 7%s*\n$", out) end }

case { field = "process.user.umask", what = "the umask",
  over = { process = { user = { uid = 0, gid = 0, umask = 63 } } }, sh = "umask; touch /tmp/f; stat -c %a /tmp/f",
  check = function(out) assert.equal("0077\n600\n", out) end }

case { field = "process.capabilities (root)", what = "the bounding set; root's other sets follow it at exec",
  over = { process = { capabilities = { bounding = O.arr { "CAP_CHOWN", "CAP_KILL" },
    effective = O.arr { "CAP_CHOWN", "CAP_KILL" }, permitted = O.arr { "CAP_CHOWN", "CAP_KILL" },
    inheritable = O.arr {}, ambient = O.arr {} } } },
  sh = "grep ^Cap /proc/self/status",
  check = function(out)
    assert.matches("CapBnd:%s*0+21\n", out)
    assert.matches("CapPrm:%s*0+21\n", out)
    assert.matches("CapEff:%s*0+21\n", out)
    assert.matches("CapInh:%s*0+\n", out)
  end }

case { field = "process.capabilities (all five sets)", what = "a non-root user keeps what its sets say",
  over = { process = { user = { uid = 1000, gid = 1000 }, capabilities = {
    bounding = O.arr { "CAP_CHOWN", "CAP_KILL", "CAP_SETUID", "CAP_NET_RAW" },
    permitted = O.arr { "CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW" }, effective = O.arr { "CAP_KILL", "CAP_CHOWN" },
    inheritable = O.arr { "CAP_KILL", "CAP_NET_RAW" }, ambient = O.arr { "CAP_KILL" } } } },
  sh = "grep ^Cap /proc/self/status",
  check = function(out)
    assert.matches("CapInh:%s*0+2020\n", out)
    assert.matches("CapPrm:%s*0+20\n", out)
    assert.matches("CapEff:%s*0+20\n", out)
    assert.matches("CapBnd:%s*0+20a1\n", out)
    assert.matches("CapAmb:%s*0+20\n", out)
  end }

case { field = "process.rlimits", what = "soft and hard limits",
  over = { process = { rlimits = O.arr { { type = "RLIMIT_NOFILE", soft = 123, hard = 456 },
                                        { type = "RLIMIT_CORE", soft = 0, hard = 4096 } } } },
  sh = "ulimit -n; ulimit -Hn; ulimit -c; ulimit -Hc",
  check = function(out) assert.equal("123\n456\n0\n8\n", out) end }

case { field = "process.noNewPrivileges", what = "no_new_privs on (and off when false)",
  sh = "grep NoNewPrivs /proc/self/status",
  check = function(out) assert.matches("NoNewPrivs:%s*1", out) end }

case { field = "process.noNewPrivileges false", what = "no_new_privs off",
  over = { process = { noNewPrivileges = false } }, sh = "grep NoNewPrivs /proc/self/status",
  check = function(out) assert.matches("NoNewPrivs:%s*0", out) end }

case { field = "process.oomScoreAdj", what = "the OOM score adjustment",
  over = { process = { oomScoreAdj = 500 } }, sh = "cat /proc/self/oom_score_adj",
  check = function(out) assert.equal("500\n", out) end }

case { field = "process.terminal, consoleSize", what = "a pty of the container's, its size, over --console-socket",
  over = { process = { terminal = true, consoleSize = { height = 31, width = 97 },
    args = O.arr { "sh", "-c", "tty; stty size; echo done" } } },
  body = function(b)
    local sock = b.dir .. "/console.sock"
    local l = assert(core.sock.listen(sock))
    local code, err = b:rt_bg("create", "--bundle", b.dir, "--console-socket", sock, b.id)
    assert.equal(0, code, err)
    local conn = assert(l:accept())
    local _, fds = assert(conn:recv_fds())
    local master = assert(fds[1])
    _, err, code = b:rt("start", b.id)
    assert.equal(0, code, err)
    local got = ""
    O.eventually(function()
      if master:wait(50) then got = got .. (master:read(4096) or "") end
      return got:find("done") ~= nil
    end)
    master:close(); conn:close(); l:close()
    -- (wbl's stdio is opened through /dev/console, crun's through /dev/pts/N: the same pty)
    assert.is_truthy(got:find("^/dev/console") or got:find("^/dev/pts/%d"), got)
    assert.matches("31 97", got)
  end }

-- root, hostname, domainname ------------------------------------------------------

case { field = "root.path (relative)", what = "the bundle's rootfs is /",
  fn = function(_, b) assert(fs.write_file(b.dir .. "/rootfs/marker", "in the bundle\n")) end,
  sh = "cat /marker", check = function(out) assert.equal("in the bundle\n", out) end }

case { field = "root.path (absolute)", what = "a root anywhere",
  fn = function(cfg, b)
    assert(os.rename(b.dir .. "/rootfs", b.dir .. "/elsewhere"))
    assert(fs.write_file(b.dir .. "/elsewhere/marker", "elsewhere\n"))
    cfg.root.path = b.dir .. "/elsewhere"
  end,
  sh = "cat /marker", check = function(out) assert.equal("elsewhere\n", out) end }

case { field = "root.readonly", what = "the root refuses writes",
  over = { root = { readonly = true } }, sh = "touch /x 2>&1; touch /tmp/x 2>&1; true",
  check = function(out) assert.matches("Read%-only file system", out) end }

case { field = "hostname", what = "the UTS namespace's hostname",
  over = { hostname = "conformance" }, sh = "hostname; cat /proc/sys/kernel/hostname",
  check = function(out) assert.equal("conformance\nconformance\n", out) end }

case { field = "domainname", what = "the UTS namespace's NIS domain name",
  over = { domainname = "example.org" }, sh = "cat /proc/sys/kernel/domainname",
  check = function(out) assert.equal("example.org\n", out) end }

-- mounts ------------------------------------------------------------------------------

-- A host directory with a file and, under sub/, a tmpfs of its own.
local function source_dir()
  local d = H.tmpdir()
  assert(fs.write_file(d .. "/file", "host file\n"))
  assert(fs.mkdir(d .. "/sub", "0755"))
  assert(core.mount.mount("tmpfs", d .. "/sub", "tmpfs", nil, "size=64k"))
  assert(fs.write_file(d .. "/sub/inner", "submount\n"))
  return d
end
local function drop_source(d)
  core.mount.umount2(d .. "/sub", "detach")
  util.rm_rf(d)
end

local function mount_case(field, what, options, sh, check, crun_differs)
  case { field = field, what = what, crun_differs = crun_differs,
    fn = function(cfg, b)
      b.src = source_dir()
      cfg.mounts[#cfg.mounts + 1] = { destination = "/data", type = "bind", source = b.src, options = O.arr(options) }
    end,
    sh = sh, check = check, after = function(b) drop_source(b.src) end }
end

mount_case("mounts: bind, rbind", "a host directory with its submounts", { "rbind" },
  "cat /data/file /data/sub/inner; echo new > /data/new",
  function(out, _, _, b)
    assert.equal("host file\nsubmount\n", out)
    assert.equal("new\n", fs.read_file(b.src .. "/new"))
  end)

mount_case("mounts: bind (not rbind)", "the directory alone, not its submounts", { "bind" },
  "cat /data/file; ls /data/sub | wc -l",
  function(out) assert.equal("host file\n0\n", out) end)

mount_case("mounts: ro, nosuid, nodev, noexec", "the per-mount flags", { "rbind", "ro", "nosuid", "nodev", "noexec" },
  "touch /data/x 2>&1; grep ' /data ' /proc/self/mountinfo | cut -d' ' -f6",
  function(out)
    local l = lines(out)
    assert.matches("Read%-only file system", l[1])
    for _, f in ipairs { "ro", "nosuid", "nodev", "noexec" } do assert.matches("%f[%w]" .. f .. "%f[%W]", l[2]) end
  end)

mount_case("mounts: propagation (rshared)", "the mount's peer group", { "rbind", "rshared" },
  "grep ' /data ' /proc/self/mountinfo",
  function(out) assert.matches(" shared:%d+", out) end,
  "crun 1.8.1 makes the whole root rprivate after the mounts: a mount's own rshared does not last (runc keeps it)")

mount_case("mounts: propagation (rprivate)", "no peer group", { "rbind", "rprivate" },
  "grep ' /data ' /proc/self/mountinfo",
  function(out) assert.is_nil(out:find(" shared:", 1, true), out) end)

case { field = "mounts: tmpfs", what = "size and mode options",
  fn = function(cfg)
    cfg.mounts[#cfg.mounts + 1] = { destination = "/scratch", type = "tmpfs", source = "tmpfs",
      options = O.arr { "nosuid", "size=1m", "mode=1750" } }
  end,
  sh = "stat -c %a /scratch; df -k /scratch | tail -1 | awk '{print $2}'",
  check = function(out) assert.equal("1750\n1024\n", out) end }

for _, m in ipairs {
  { "/proc", "proc", "ls -d /proc/1/ns >/dev/null && echo ok" },
  { "/sys", "sysfs", "test -d /sys/kernel && echo ok" },
  { "/dev/pts", "devpts", "test -c /dev/pts/ptmx && echo ok" },
  { "/dev/mqueue", "mqueue", "echo ok" },
} do
  case { field = "mounts: " .. m[2], what = m[1] .. " is a " .. m[2],
    sh = ("%s; awk '$5 == \"%s\" { for (i = 7; $i != \"-\"; i++); print $(i+1) }' /proc/self/mountinfo"):format(m[3],
      m[1]),
    check = function(out) assert.equal("ok\n" .. m[2] .. "\n", out) end }
end

case { field = "mounts: cgroup", what = "the container's own cgroups at /sys/fs/cgroup, read-only",
  over = { linux = { resources = { pids = { limit = 77 } } } },
  sh = "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; " ..
    "(echo 9 > /sys/fs/cgroup/pids/pids.max || echo 9 > /sys/fs/cgroup/pids.max) 2>&1; true",
  check = function(out)
    assert.matches("^77\n", out)
    assert.matches("Read%-only file system", out)
  end }

-- linux.namespaces ------------------------------------------------------------------

case { field = "linux.namespaces (new)", what = "pid, network, ipc, uts, mount, cgroup: each its own",
  sh = "for t in pid net ipc uts mnt cgroup; do readlink /proc/self/ns/$t; done; echo $$",
  check = function(out)
    local l = lines(out)
    for i, t in ipairs { "pid", "net", "ipc", "uts", "mnt", "cgroup" } do assert.not_equal(host_ns(t), l[i], t) end
    assert.equal("1", l[7])
  end }

case { field = "linux.namespaces (left out)", what = "a type not listed is the runtime's",
  over = { linux = { namespaces = O.arr { { type = "pid" }, { type = "mount" }, { type = "uts" } } } },
  sh = "readlink /proc/self/ns/net; readlink /proc/self/ns/ipc",
  check = function(out) assert.equal(host_ns("net") .. "\n" .. host_ns("ipc") .. "\n", out) end }

case { field = "linux.namespaces[].path", what = "network and uts joined by path",
  fn = function(cfg, b)
    b.ns = H.netns()
    for _, n in ipairs(cfg.linux.namespaces) do
      if n.type == "network" then n.path = b.ns.path end
    end
  end,
  sh = "readlink /proc/self/ns/net",
  check = function(out, _, _, b) assert.equal(fs.readlink(b.ns.path) .. "\n", out) end,
  after = function(b) b.ns.done() end }

case { field = "linux.uidMappings, gidMappings", what = "a user namespace with the given maps", userns = true,
  fn = function(cfg, b)
    cfg.linux.namespaces[#cfg.linux.namespaces + 1] = { type = "user" }
    cfg.linux.uidMappings = O.arr { { containerID = 0, hostID = 200000, size = 65536 } }
    cfg.linux.gidMappings = O.arr { { containerID = 0, hostID = 200000, size = 65536 } }
    -- the root must be the mapped root's (as podman chowns it), its path searchable
    assert(os.execute("chown -R 200000:200000 " .. H.q(b.dir .. "/rootfs")))
    assert(fs.chmod(b.dir, "0755"))
  end,
  sh = "cat /proc/self/uid_map /proc/self/gid_map; id -u",
  check = function(out)
    assert.matches("^%s*0%s+200000%s+65536\n%s*0%s+200000%s+65536\n0\n$", out)
  end }

-- linux.resources -------------------------------------------------------------------

case { field = "linux.resources.memory", what = "limit, reservation, swap (limit + swap)",
  over = { linux = { resources = { memory = { limit = 64 << 20, reservation = 32 << 20, swap = 128 << 20 } } } },
  sh = "cd /sys/fs/cgroup/memory 2>/dev/null && cat memory.limit_in_bytes memory.soft_limit_in_bytes " ..
    "memory.memsw.limit_in_bytes || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory.low " ..
    "/sys/fs/cgroup/memory.swap.max",
  check = function(out)
    local v1 = ("%d\n%d\n%d\n"):format(64 << 20, 32 << 20, 128 << 20)
    local v2 = ("%d\n%d\n%d\n"):format(64 << 20, 32 << 20, 64 << 20)
    assert.is_true(out == v1 or out == v2, out)
  end }

case { field = "linux.resources.cpu", what = "shares, quota, period, cpus, mems",
  over = { linux = { resources = { cpu = { shares = 512, quota = 50000, period = 100000, cpus = "0", mems = "0" } } } },
  sh = "cd /sys/fs/cgroup && if test -d cpu; then cat cpu/cpu.shares cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us " ..
    "cpuset/cpuset.cpus cpuset/cpuset.mems; else cat cpu.weight cpu.max cpuset.cpus cpuset.mems; fi",
  check = function(out)
    local v1 = "512\n50000\n100000\n0\n0\n"
    local v2 = "20\n50000 100000\n0\n0\n"
    assert.is_true(out == v1 or out == v2, out)
  end }

case { field = "linux.resources.pids", what = "the limit, and it holds",
  over = { linux = { resources = { pids = { limit = 10 } } } },
  sh = "f=/sys/fs/cgroup/pids/pids.current; test -f $f || f=/sys/fs/cgroup/pids.current; " ..
    "(for i in $(seq 20); do sleep 3 & done) 2>/dev/null; read n < $f; echo $n",
  check = function(out) assert.is_true(tonumber(out) <= 10, out) end }

-- A block device the host has (loop0) as a node in the container.
local loop = { path = "/dev/wblloop", type = "b", major = 7, minor = 0, fileMode = 384, uid = 0, gid = 0 }

case { field = "linux.resources.devices (denied)", what = "a node not allowed cannot be opened",
  fn = function(cfg) cfg.linux.devices = O.arr { loop } end,
  sh = "(exec 3</dev/wblloop) 2>&1 && echo opened; true",
  check = function(out) assert.matches("Operation not permitted", out) end }

case { field = "linux.resources.devices (allowed)", what = "an allow rule lets it open",
  fn = function(cfg)
    cfg.linux.devices = O.arr { loop }
    table.insert(cfg.linux.resources.devices, { allow = true, type = "b", major = 7, minor = 0, access = "r" })
  end,
  sh = "(exec 3</dev/wblloop) 2>&1 && echo opened; true",
  check = function(out) assert.equal("opened\n", out) end }

case { field = "linux.resources.unified", what = "cgroup2 files as given (pure cgroup v2 only)",
  v2 = true,
  over = { linux = { resources = { unified = { ["memory.high"] = "50331648", ["pids.max"] = "33" } } } },
  sh = "cat /sys/fs/cgroup/memory.high /sys/fs/cgroup/pids.max",
  check = function(out) assert.equal("50331648\n33\n", out) end }

case { field = "linux.cgroupsPath (absolute)", what = "the container's cgroup, in every hierarchy",
  body = function(b)
    local path = "/wbl-conf-" .. util.random_hex(3) .. "/" .. b.id
    b.cfg.linux.cgroupsPath = path
    b:write()
    local code, err = b:rt_bg("create", "--bundle", b.dir, b.id)
    assert.equal(0, code, err)
    local pid = b:state().pid
    local cg = assert(fs.read_file("/proc/" .. pid .. "/cgroup"))
    local p = path:gsub("%-", "%%-")
    assert.matches("0::" .. p .. "\n", cg) -- cgroup2 (hybrid: its tracking hierarchy)
    if cg:find(":memory:", 1, true) then assert.matches(":memory:" .. p .. "\n", cg) end -- and v1's
    b:rt("delete", "--force", b.id)
    for _, d in ipairs(O.cgroup_dirs(path:match("^(/[^/]+)"))) do fs.rmdir(d) end
  end }

case { field = "linux.cgroupsPath (relative)", what = "a path without a leading /",
  body = function(b)
    local path = "wbl-conf-" .. util.random_hex(3) .. "/" .. b.id
    b.cfg.linux.cgroupsPath = path
    b:write()
    local code, err = b:rt_bg("create", "--bundle", b.dir, b.id)
    assert.equal(0, code, err)
    local pid = b:state().pid
    local cg = assert(fs.read_file("/proc/" .. pid .. "/cgroup"))
    local p = path:gsub("%-", "%%-")
    assert.matches("0::[^\n]*/" .. p .. "\n", cg)
    if cg:find(":memory:", 1, true) then assert.matches(":memory:[^\n]*/" .. p .. "\n", cg) end
    b:rt("delete", "--force", b.id)
    for _, d in ipairs(O.cgroup_dirs("/" .. path:match("^([^/]+)"))) do fs.rmdir(d) end
  end }

-- linux: devices, paths, sysctl, seccomp, propagation ---------------------------------

case { field = "linux.devices", what = "the node, its type, numbers, mode and owner",
  fn = function(cfg)
    cfg.linux.devices = O.arr { { path = "/dev/mynull", type = "c", major = 1, minor = 3, fileMode = 416, uid = 7,
                                  gid = 8 } }
  end,
  sh = "stat -c '%F %t:%T %a %u:%g' /dev/mynull; echo x > /dev/mynull && echo written",
  check = function(out) assert.equal("character special file 1:3 640 7:8\nwritten\n", out) end }

case { field = "linux.maskedPaths", what = "a file and a directory show nothing",
  sh = "wc -c < /proc/timer_list; ls /sys/firmware | wc -l",
  check = function(out) assert.equal("0\n0\n", out) end }

case { field = "linux.maskedPaths (empty)", what = "nothing masked when none is listed",
  over = { linux = { maskedPaths = O.arr {} } }, sh = "wc -c < /proc/timer_list; ls /sys/firmware | wc -l",
  check = function(out)
    local l = lines(out)
    assert.is_true(tonumber(l[1]) > 0, out)
    assert.is_true(tonumber(l[2]) > 0, out)
  end }

case { field = "linux.readonlyPaths", what = "writes refused there",
  sh = "echo 1 > /proc/sys/net/ipv4/ip_forward 2>&1; true",
  check = function(out, err) assert.matches("Read%-only file system", out .. err) end }

case { field = "linux.sysctl", what = "set in the container's namespaces",
  over = { linux = { sysctl = { ["net.ipv4.ip_forward"] = "1", ["kernel.shmmni"] = "1234" } } },
  sh = "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
  check = function(out) assert.equal("1\n1234\n", out) end }

case { field = "linux.seccomp", what = "the filter: a listed call fails with its errnoRet, others work",
  over = { linux = { seccomp = { defaultAction = "SCMP_ACT_ALLOW",
    architectures = O.arr { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" },
    syscalls = O.arr { { names = O.arr { "mkdir", "mkdirat" }, action = "SCMP_ACT_ERRNO", errnoRet = 13 } } } } },
  sh = "mkdir /tmp/d 2>&1; touch /tmp/f && echo touched; grep Seccomp: /proc/self/status",
  check = function(out)
    assert.matches("Permission denied", out)
    assert.matches("touched", out)
    assert.matches("Seccomp:%s*2", out)
  end }

case { field = "linux.rootfsPropagation", what = "the root's propagation (rshared: a peer group)",
  over = { linux = { rootfsPropagation = "rshared" } },
  sh = "awk '$5 == \"/\"' /proc/self/mountinfo",
  check = function(out) assert.matches(" shared:%d+", out) end }

-- hooks, annotations ---------------------------------------------------------------------

case { field = "hooks", what = "prestart, createRuntime, poststart, poststop: with the state on stdin",
  body = function(b)
    local log = H.tmpdir()
    local function hook(name)
      return { path = "/bin/sh", args = O.arr { "sh", "-c", ("cat > %s/%s.json"):format(log, name) } }
    end
    b.cfg.process.args = O.arr { "sleep", "20" }
    b.cfg.hooks = { prestart = O.arr { hook("prestart") }, createRuntime = O.arr { hook("createRuntime") },
                    poststart = O.arr { hook("poststart") }, poststop = O.arr { hook("poststop") } }
    b:write()
    local code, err = b:rt_bg("create", "--bundle", b.dir, b.id)
    assert.equal(0, code, err)
    local pid = b:state().pid
    for _, k in ipairs { "prestart", "createRuntime" } do
      local j = json.decode((assert(fs.read_file(log .. "/" .. k .. ".json"), k)))
      assert.equal(b.id, j.id)
      assert.equal(pid, j.pid)
      -- (the runtime spec's state during create is creating; crun says created)
      assert.is_truthy(j.status == "creating" or j.status == "created", j.status)
    end
    assert.equal(0, (select(3, b:rt("start", b.id))))
    assert.is_true(O.eventually(function() return fs.stat(log .. "/poststart.json") ~= nil end))
    assert.equal(0, (select(3, b:rt("delete", "--force", b.id))))
    assert.is_true(O.eventually(function() return fs.stat(log .. "/poststop.json") ~= nil end))
    assert.equal(b.id, json.decode(fs.read_file(log .. "/poststop.json")).id)
    util.rm_rf(log)
  end }

case { field = "annotations", what = "given back by state",
  over = { annotations = { ["org.example.key"] = "value", ["org.example.other"] = "2" } },
  body = function(b)
    b.cfg.process.args = O.arr { "sleep", "20" }
    b:write()
    assert.equal(0, (b:rt_bg("create", "--bundle", b.dir, b.id)))
    local st = b:state()
    assert.equal("value", st.annotations["org.example.key"])
    assert.equal("2", st.annotations["org.example.other"])
    assert.equal("created", st.status)
    assert.equal(b.dir, st.bundle)
    b:rt("delete", "--force", b.id)
  end }

-- The runs -----------------------------------------------------------------------------

local v2 = (fs.read_file("/sys/fs/cgroup/cgroup.controllers") or ""):find("memory") ~= nil
-- user namespaces are wbl.userns's (--userns); OCI's maps go through it
local have_userns = pcall(require, "wbl.userns")

local runtimes = {
  { name = "wbl", path = function() return O.wbl_oci end },
  { name = "crun", path = function() return crun_wrapper() end,
    missing = not have_crun and "crun is not installed (apt-get install crun)" },
}

describe("OCI conformance #priv", function()
  setup(function() if H.root then T = H.tmpdir() end end)
  teardown(function() if T then util.rm_rf(T) end end)

  for _, rt in ipairs(runtimes) do
    for _, c in ipairs(cases) do
      local name = ("%s: %s -- %s"):format(rt.name, c.field, c.what)
      if rt.missing then
        pending(name .. " (" .. rt.missing .. ")")
      elseif rt.name == "crun" and c.crun_differs then
        pending(name .. " (the reference differs: " .. c.crun_differs .. ")")
      elseif rt.name == "wbl" and c.userns and not have_userns then
        pending(name .. " (wbl.userns, user namespaces, is not in this tree yet)")
      elseif c.v2 and not v2 then
        pending(name .. " (needs cgroup v2 controllers: this host's are v1; make test-vm runs it)")
      else
        H.it_priv(name, function()
          local b = O.bundle(c.over, c.fn)
          b.runtime = rt.path()
          local ok, e = pcall(function()
            if c.body then return c.body(b) end
            if c.sh then b.cfg.process.args = O.arr { "sh", "-c", c.sh }; b:write() end
            local out, err, code = b:rt("run", "--bundle", b.dir, b.id)
            assert.equal(0, code, err)
            c.check(out, err, code, b)
          end)
          if c.after then c.after(b) end
          b:remove()
          for _, d in ipairs(O.cgroup_dirs("/wbl-oci-spec")) do fs.rmdir(d) end
          assert(ok, e)
        end)
      end
    end
  end
end)
