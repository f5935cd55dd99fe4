-- wbl.seccomp without privilege: docker's format to the OCI profile
-- (from_docker, default), resolve, and wbl.core.seccomp in a child that
-- sets no_new_privs (which any process may do) before it loads a filter.
local core = require "wbl.core"
local seccomp = require "wbl.seccomp"
local spec = require "wbl.spec"
local E = core.errno

local amd64 = { arch = "SCMP_ARCH_X86_64", kernel = "6.1.0-18-amd64" }

-- A state root of each case's own (config.set_root): default's memos and
-- compile's programs go to a cache of its own, never the user's, and are
-- removed after.  The root's path, for a case that needs it.
local function private_root()
  local config, util = require "wbl.config", require "wbl.util"
  local root, saved
  before_each(function()
    saved = config.root()
    root = os.tmpname()
    os.remove(root)
    config.set_root(root)
  end)
  after_each(function()
    config.set_root(saved)
    util.rm_rf(root)
  end)
  return function() return root end
end

-- The names a profile allows unconditionally (no args), as a set, and its
-- rules by name.
local function allowed(p)
  local set, rules = {}, {}
  for _, r in ipairs(p.syscalls) do
    for _, n in ipairs(r.names) do
      if r.action == "SCMP_ACT_ALLOW" and not r.args then set[n] = true end
      rules[n] = rules[n] or {}
      table.insert(rules[n], r)
    end
  end
  return set, rules
end

local never = { "keyctl", "add_key", "request_key", "kexec_load", "kexec_file_load", "pivot_root", "swapon",
                "swapoff", "io_uring_setup", "io_uring_enter", "userfaultfd", "uselib", "nfsservctl" }
local admin = { "mount", "umount2", "unshare", "setns", "bpf", "perf_event_open", "fsopen", "move_mount",
                "open_tree", "sethostname", "lsm_set_self_attr" }

describe("wbl.seccomp.default #unit", function()
  private_root()

  it("is an allow-list: EPERM for the rest, the native architecture and its 32-bit ones", function()
    local p = seccomp.default(spec.default_capabilities, amd64)
    assert.equal("SCMP_ACT_ERRNO", p.defaultAction)
    assert.equal(E.EPERM, p.defaultErrnoRet)
    assert.same({ "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" }, p.architectures)
    local ok = allowed(p)
    -- what wbl itself needs after loading it: the user, capabilities, exec
    for _, n in ipairs { "read", "write", "openat", "mmap", "execve", "setuid", "setgid", "setgroups", "capset",
                         "prctl", "exit_group", "rt_sigprocmask", "wait4", "fork", "getdents64",
                         "arch_prctl", "modify_ldt", "chroot", "ptrace" } do
      assert.is_true(ok[n], n)
    end
    for _, n in ipairs(never) do assert.is_nil(ok[n], n) end
    for _, n in ipairs(admin) do assert.is_nil(ok[n], n) end
    for _, n in ipairs { "init_module", "reboot", "open_by_handle_at", "acct", "clock_settime", "iopl",
                         "syslog", "vhangup", "mbind", "kcmp" } do
      assert.is_nil(ok[n], n)
    end
  end)

  it("without CAP_SYS_ADMIN: clone without namespace flags only, clone3 ENOSYS", function()
    local _, rules = allowed(seccomp.default(spec.default_capabilities, amd64))
    assert.same({ { names = { "clone" }, action = "SCMP_ACT_ALLOW",
                    args = { { index = 0, value = 0x7e020000, valueTwo = 0, op = "SCMP_CMP_MASKED_EQ" } } } },
                rules.clone)
    assert.same({ { names = { "clone3" }, action = "SCMP_ACT_ERRNO", errnoRet = E.ENOSYS } }, rules.clone3)
  end)

  it("socket: any family but AF_ALG (38) and AF_VSOCK (40), in three rules", function()
    local _, rules = allowed(seccomp.default(spec.default_capabilities, amd64))
    local conds = {}
    for _, r in ipairs(rules.socket) do conds[#conds + 1] = r.args[1].op .. " " .. r.args[1].value end
    assert.same({ "SCMP_CMP_LT 38", "SCMP_CMP_EQ 39", "SCMP_CMP_GT 40" }, conds)
  end)

  it("each capability opens its syscalls (docker's includes.caps)", function()
    local function with(cap) return (allowed(seccomp.default({ cap }, amd64))) end
    local a = with("CAP_SYS_ADMIN")
    for _, n in ipairs(admin) do assert.is_true(a[n], n) end
    assert.is_true(a.clone)
    assert.is_true(a.clone3)
    for _, n in ipairs(never) do assert.is_nil(a[n], n) end
    assert.is_true(with("CAP_SYS_MODULE").init_module)
    assert.is_true(with("CAP_SYS_MODULE").finit_module)
    assert.is_true(with("CAP_SYS_BOOT").reboot)
    assert.is_true(with("CAP_BPF").bpf)
    assert.is_nil(with("CAP_BPF").mount)
    assert.is_true(with("CAP_PERFMON").perf_event_open)
    assert.is_true(with("CAP_DAC_READ_SEARCH").open_by_handle_at)
    assert.is_true(with("CAP_SYS_TIME").clock_settime)
    assert.is_true(with("CAP_SYS_PTRACE").process_madvise)
    assert.is_nil(with("CAP_SYS_PTRACE").kexec_load)
  end)

  it("every capability (--privileged with a profile): only the never-allowed stay out", function()
    local ok = allowed(seccomp.default(spec.all_capabilities, amd64))
    for _, n in ipairs(never) do assert.is_nil(ok[n], n) end
    for _, n in ipairs { "mount", "init_module", "reboot", "bpf", "chroot", "acct", "vhangup" } do
      assert.is_true(ok[n], n)
    end
  end)

  it("ptrace needs kernel 4.8 (or CAP_SYS_PTRACE); each architecture gets its own calls", function()
    assert.is_nil(allowed(seccomp.default({}, { arch = "SCMP_ARCH_X86_64", kernel = "4.4.0" })).ptrace)
    assert.is_true(allowed(seccomp.default({}, { arch = "SCMP_ARCH_X86_64", kernel = "4.8" })).ptrace)
    local old = { arch = "SCMP_ARCH_X86_64", kernel = "3.10" }
    assert.is_true(allowed(seccomp.default({ "CAP_SYS_PTRACE" }, old)).ptrace)
    local arm = seccomp.default({}, { arch = "SCMP_ARCH_AARCH64", kernel = "6.1" })
    assert.same({ "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM" }, arm.architectures)
    local ok = allowed(arm)
    assert.is_nil(ok.arch_prctl)
    assert.is_true(ok.set_tls)
    local s390 = select(2, allowed(seccomp.default({}, { arch = "SCMP_ARCH_S390X", kernel = "6.1" })))
    assert.equal(1, #s390.clone)
    assert.equal(1, s390.clone[1].args[1].index) -- s390's clone has its flags second
  end)

  it("leaves the data it was made from as it was", function()
    local data = require "wbl.seccomp_default"
    local n = #data.syscalls
    local p = seccomp.default({}, amd64)
    p.syscalls[1].names[1] = "changed"
    assert.equal(n, #data.syscalls)
    assert.equal("accept", data.syscalls[1].names[1])
    assert.is_nil(data.syscalls[1].includes)
  end)
end)

describe("wbl.seccomp.default's memo #unit", function()
  local fs = core.fs
  local root = private_root()
  local data = require "wbl.seccomp_default"

  -- The memo files in the cache, sorted.
  local function memos()
    local out = {}
    for _, n in ipairs(fs.readdir(seccomp.cache_dir()) or {}) do
      if n:match("%.profile$") then out[#out + 1] = n end
    end
    table.sort(out)
    return out
  end
  local function memo_file() return seccomp.cache_dir() .. "/" .. assert(memos()[1]) end
  -- What a memo file holds, loaded as default loads it.
  local function memo(file) return assert(loadfile(file, "t", {}))() end
  -- The conversion itself, without the memo.
  local function fresh(caps, opts) return assert(seccomp.from_docker(data, caps, opts)) end
  -- Run f with from_docker (or another function of wbl.seccomp) raising:
  -- what it returns was not made by it.
  local function without(name, f)
    local real = seccomp[name]
    seccomp[name] = function() error(name .. " called") end
    local ok, v = pcall(f)
    seccomp[name] = real
    assert(ok, v)
    return v
  end

  it("a cold default writes one memo: 0600, the profile and its key, nothing else", function()
    local caps = spec.default_capabilities
    local p = seccomp.default(caps, amd64)
    assert.same(fresh(caps, amd64), p)
    local names = memos()
    assert.equal(1, #names)
    assert.matches("^%x+%.profile$", names[1])
    assert.equal(64 + #".profile", #names[1])
    assert.same(names, fs.readdir(seccomp.cache_dir())) -- no temporary file left, no program yet
    local st = fs.lstat(memo_file())
    assert.same({ "file", tonumber("600", 8) }, { st.type, st.mode })
    local m = memo(memo_file())
    assert.same(p, m.profile)
    assert.equal(seccomp.key(p), m.key)
    assert.equal(seccomp.key(fresh(caps, amd64)), m.key)
  end)

  it("a second default is served from the memo: an equal profile, a table of its own, the file as it was", function()
    local caps = spec.default_capabilities
    local first = seccomp.default(caps, amd64)
    local st = fs.lstat(memo_file())
    local second = without("from_docker", function() return seccomp.default(caps, amd64) end)
    assert.same(fresh(caps, amd64), second)
    assert.not_equal(first, second)
    assert.not_equal(first.syscalls, second.syscalls)
    local st2 = fs.lstat(memo_file())
    assert.same({ st.ino, st.mtime, st.size }, { st2.ino, st2.mtime, st2.size })
    assert.equal(1, #memos())
    -- the same set of capabilities in another order, repeated: the same memo
    local shuffled = {}
    for i = #caps, 1, -1 do shuffled[#shuffled + 1] = caps[i] end
    shuffled[#shuffled + 1] = caps[1]
    assert.same(second, without("from_docker", function() return seccomp.default(shuffled, amd64) end))
    assert.equal(1, #memos())
  end)

  it("other capabilities, another architecture or kernel: a memo of their own", function()
    local a = seccomp.default({}, amd64)
    local b = seccomp.default({ "CAP_SYS_ADMIN" }, amd64)
    local arm = { arch = "SCMP_ARCH_AARCH64", kernel = amd64.kernel }
    local c = seccomp.default({}, arm)
    local old = { arch = amd64.arch, kernel = "4.4.0" }
    local d = seccomp.default({}, old)
    assert.equal(4, #memos())
    assert.same(fresh({}, amd64), a)
    assert.same(fresh({ "CAP_SYS_ADMIN" }, amd64), b)
    assert.same(fresh({}, arm), c)
    assert.same(fresh({}, old), d)
    assert.not_same(a, b)
    assert.not_same(a, c)
    assert.not_same(a, d)
    -- and each is served as its own
    without("from_docker", function()
      assert.same(b, seccomp.default({ "CAP_SYS_ADMIN" }, amd64))
      assert.same(d, seccomp.default({}, old))
    end)
    assert.equal(4, #memos())
  end)

  it("another wbl.seccomp_default, or another converter (this module's source): a memo of their own", function()
    local a = seccomp.default({}, amd64)
    assert.equal(1, #memos())
    -- the data from a copy of its file with a line added
    local src = assert(fs.read_file(package.searchpath("wbl.seccomp_default", package.path)))
    assert(fs.mkdir(root() .. "/wbl", "0700"))
    assert(fs.write_file(root() .. "/wbl/seccomp_default.lua", "-- a change\n" .. src))
    local path = package.path
    package.path = root() .. "/?.lua;" .. path
    local ok, b = pcall(seccomp.default, {}, amd64)
    package.path = path
    assert.is_true(ok, b)
    assert.same(a, b)
    assert.equal(2, #memos())
    -- the module loaded from a copy of its file with a line added
    local self = assert(fs.read_file(package.searchpath("wbl.seccomp", package.path)))
    assert(fs.write_file(root() .. "/seccomp.lua", self .. "-- a change\n"))
    local other = dofile(root() .. "/seccomp.lua")
    assert.same(a, other.default({}, amd64))
    assert.equal(3, #memos())
  end)

  it("a damaged memo (not Lua, raising, the wrong shape) is converted again and replaced", function()
    local caps = { "CAP_CHOWN" }
    local want = fresh(caps, amd64)
    assert.same(want, seccomp.default(caps, amd64))
    local file = memo_file()
    local good = fs.read_file(file)
    local key = seccomp.key(want)
    for _, bad in ipairs {
      "", "return {", "garbage", "error('no')", "return 42", "return {}", "return { key = '" .. key .. "' }",
      "return { profile = { defaultAction = 'SCMP_ACT_ALLOW', syscalls = {} } }",
      "return { key = 'x', profile = { defaultAction = 'SCMP_ACT_ALLOW', syscalls = {} } }",
      "return { key = '" .. ("g"):rep(64) .. "', profile = { defaultAction = 'SCMP_ACT_ALLOW', syscalls = {} } }",
      "return { key = '" .. key .. "', profile = { defaultAction = 'SCMP_ACT_ALLOW' } }",
      "return { key = '" .. key .. "', profile = { syscalls = {} } }",
      good:sub(1, #good // 2),
    } do
      assert(fs.write_file(file, bad, nil, "0600"))
      local ino = fs.lstat(file).ino
      assert.same(want, seccomp.default(caps, amd64), bad)
      assert.equal(good, fs.read_file(file), bad)
      assert.not_equal(ino, fs.lstat(file).ino) -- a new file, renamed over it
      assert.same({ file:match("[^/]+$") }, fs.readdir(seccomp.cache_dir()))
    end
  end)

  it("a memo of another uid's making, or that others may write, or in a directory not root's own: not used", function()
    local caps = { "CAP_CHOWN" }
    local want = seccomp.default(caps, amd64)
    local file = memo_file()
    -- a well-made memo of another profile, planted as this one's: served as it is
    local other = { profile = { defaultAction = "SCMP_ACT_ALLOW", syscalls = {} }, key = ("0"):rep(64) }
    local planted = require("wbl.util").serialise(other)
    assert(fs.write_file(file, planted, nil, "0600"))
    assert.same(other.profile, seccomp.default(caps, amd64))
    -- group or other writable: converted again, and replaced by a memo of our own
    for _, mode in ipairs { "0620", "0602" } do
      assert(fs.write_file(file, planted, nil, "0600"))
      assert(fs.chmod(file, mode))
      assert.same(want, seccomp.default(caps, amd64), mode)
      assert.equal(tonumber("600", 8), fs.lstat(file).mode)
      assert.equal(seccomp.key(want), memo(file).key)
    end
    -- another uid's (as root, who can make one): converted again, replaced
    if core.proc.getuid() == 0 then
      assert(fs.write_file(file, planted, nil, "0600"))
      assert(fs.lchown(file, 65534, 65534))
      assert.same(want, seccomp.default(caps, amd64))
      assert.equal(0, fs.lstat(file).uid)
    end
    -- a symbolic link to a well-made memo: not a file of ours
    local elsewhere = root() .. "/elsewhere.profile"
    assert(fs.write_file(elsewhere, planted, nil, "0600"))
    os.remove(file)
    assert(fs.symlink(elsewhere, file))
    assert.same(want, seccomp.default(caps, amd64))
    assert.equal("file", fs.lstat(file).type)
    -- the directory not root's own: the memo neither read nor written
    assert(fs.write_file(file, planted, nil, "0600"))
    assert(fs.chmod(seccomp.cache_dir(), "0770"))
    assert.same(want, seccomp.default(caps, amd64))
    assert.equal(planted, fs.read_file(file))
    assert.same(fresh({ "CAP_SYS_ADMIN" }, amd64), seccomp.default({ "CAP_SYS_ADMIN" }, amd64))
    assert.equal(1, #memos()) -- none written there either
  end)

  it("no memo when wbl.seccomp_default's file cannot be found; the profile all the same", function()
    local path = package.path
    package.path = root() .. "/nowhere/?.lua"
    local ok, p = pcall(seccomp.default, { "CAP_CHOWN" }, amd64)
    package.path = path
    assert.is_true(ok, p)
    assert.same(fresh({ "CAP_CHOWN" }, amd64), p)
    assert.same({}, memos())
  end)

  it("compile of a memo's profile: its key taken as it is, the program of an equal profile", function()
    local caps = { "CAP_CHOWN" }
    seccomp.default(caps) -- the memo, for this host
    local p = without("from_docker", function() return seccomp.default(caps) end)
    local bpf = without("key", function() return assert(seccomp.compile(p)) end)
    local q = fresh(caps)
    local program = seccomp.cache_dir() .. "/" .. seccomp.key(q)
    assert.is_true(bpf == fs.read_file(program)) -- the cache entry M.key names
    os.remove(program)
    assert.is_true(bpf == assert(seccomp.compile(q))) -- compiled again, through M.key
    assert.is_true(bpf == fs.read_file(program))
    assert.is_true(bpf == assert(core.seccomp.compile(q)))
    -- any other profile: M.key, as ever
    local r = fresh(caps)
    r.defaultErrnoRet = E.EACCES
    assert.is_true(bpf ~= assert(seccomp.compile(r)))
    assert.is_true(assert(core.seccomp.compile(r)) == fs.read_file(seccomp.cache_dir() .. "/" .. seccomp.key(r)))
  end)
end)

describe("wbl.seccomp.from_docker #unit", function()
  local function conv(j, caps, opts) return seccomp.from_docker(j, caps or {}, opts or amd64) end

  it("takes name or names, architectures or the native archMap entry", function()
    local p = assert(conv { defaultAction = "SCMP_ACT_ALLOW", architectures = { "SCMP_ARCH_X86" },
      syscalls = { { name = "getpid", action = "SCMP_ACT_ERRNO", errnoRet = 95 },
                   { names = { "mkdir", "mkdirat" }, action = "SCMP_ACT_LOG" } } })
    assert.same({ defaultAction = "SCMP_ACT_ALLOW", architectures = { "SCMP_ARCH_X86" }, syscalls = {
      { names = { "getpid" }, action = "SCMP_ACT_ERRNO", errnoRet = 95 },
      { names = { "mkdir", "mkdirat" }, action = "SCMP_ACT_LOG" } } }, p)
    p = assert(conv { defaultAction = "SCMP_ACT_ALLOW",
      archMap = { { architecture = "SCMP_ARCH_AARCH64", subArchitectures = { "SCMP_ARCH_ARM" } },
                  { architecture = "SCMP_ARCH_X86_64", subArchitectures = { "SCMP_ARCH_X86" } } } })
    assert.same({ "SCMP_ARCH_X86_64", "SCMP_ARCH_X86" }, p.architectures)
  end)

  it("includes: every cap, the arch, minKernel; excludes: any cap, the arch, minKernel", function()
    local j = { defaultAction = "SCMP_ACT_ERRNO", syscalls = {
      { names = { "a" }, action = "SCMP_ACT_ALLOW", includes = { caps = { "CAP_X", "CAP_Y" } } },
      { names = { "b" }, action = "SCMP_ACT_ALLOW", excludes = { caps = { "CAP_X", "CAP_Z" } } },
      { names = { "c" }, action = "SCMP_ACT_ALLOW", includes = { arches = { "arm64", "amd64" } } },
      { names = { "d" }, action = "SCMP_ACT_ALLOW", excludes = { arches = { "amd64" } } },
      { names = { "e" }, action = "SCMP_ACT_ALLOW", includes = { minKernel = "5.10" } },
      { names = { "f" }, action = "SCMP_ACT_ALLOW", excludes = { minKernel = "5.10" } },
    } }
    local function names(caps, opts)
      local out = {}
      for _, r in ipairs(assert(conv(j, caps, opts)).syscalls) do out[#out + 1] = r.names[1] end
      return table.concat(out)
    end
    assert.equal("bce", names({}))
    assert.equal("bce", names({ "CAP_Y" }))
    assert.equal("ace", names({ "CAP_X", "CAP_Y" }))
    assert.equal("bcdf", names({}, { arch = "SCMP_ARCH_AARCH64", kernel = "5.4.0" }))
    assert.equal("bde", names({}, { arch = "SCMP_ARCH_PPC64LE", kernel = "5.10.0-rc1" }))
  end)

  it("keeps args (value, valueTwo default 0) and flags", function()
    local p = assert(conv { defaultAction = "SCMP_ACT_ALLOW", flags = { "SECCOMP_FILTER_FLAG_LOG" },
      syscalls = { { names = { "x" }, action = "SCMP_ACT_ERRNO",
                     args = { { index = 1, value = 7, op = "SCMP_CMP_MASKED_EQ" } } } } })
    assert.same({ "SECCOMP_FILTER_FLAG_LOG" }, p.flags)
    assert.same({ { index = 1, value = 7, valueTwo = 0, op = "SCMP_CMP_MASKED_EQ" } }, p.syscalls[1].args)
  end)

  it("refuses what it cannot load, naming the field", function()
    local function why(j) return select(2, conv(j)) end
    assert.equal("not a JSON object", why(nil))
    assert.matches("^defaultAction: unknown action SCMP_ACT_PAUSE", why { defaultAction = "SCMP_ACT_PAUSE" })
    assert.matches("^defaultAction: errno", why { defaultAction = "SCMP_ACT_ERRNO", defaultErrnoRet = -1 })
    local ok = "SCMP_ACT_ALLOW"
    assert.matches("architectures and archMap", why { defaultAction = ok, architectures = { "SCMP_ARCH_X86" },
      archMap = { { architecture = "SCMP_ARCH_X86_64" } } })
    assert.matches("^architectures%[1%]: unknown", why { defaultAction = ok, architectures = { "SCMP_ARCH_VAX" } })
    assert.matches("^flags%[1%]", why { defaultAction = ok, flags = { "SECCOMP_FILTER_FLAG_TSYNC" } })
    assert.matches("^listenerPath", why { defaultAction = ok, listenerPath = "/run/x.sock" })
    assert.matches("^syscalls%[1%]: name and names", why { defaultAction = ok,
      syscalls = { { name = "a", names = { "b" }, action = ok } } })
    assert.matches("^syscalls%[1%]%.names", why { defaultAction = ok, syscalls = { { action = ok } } })
    assert.matches("^syscalls%[2%]%.action: unknown action SCMP_ACT_NOTIFY", why { defaultAction = ok,
      syscalls = { { names = { "a" }, action = ok }, { names = { "b" }, action = "SCMP_ACT_NOTIFY" } } })
    assert.matches("^syscalls%[1%]%.args%[1%]%.index", why { defaultAction = ok,
      syscalls = { { names = { "a" }, action = ok, args = { { index = 6, op = "SCMP_CMP_EQ" } } } } })
    assert.matches("^syscalls%[1%]%.args%[1%]%.op: unknown operator SCMP_CMP_XX", why { defaultAction = ok,
      syscalls = { { names = { "a" }, action = ok, args = { { index = 0, op = "SCMP_CMP_XX" } } } } })
  end)
end)

describe("wbl.seccomp.resolve #unit", function()
  private_root()

  local function s_with(want)
    local s = spec.new()
    s.wbl.seccomp = want
    return s
  end

  it("default: docker's profile for the bounding set; nil: leaves linux.seccomp as the front end set it", function()
    local s = s_with("default")
    assert.is_true(seccomp.resolve(s))
    assert.same(seccomp.default(s.process.capabilities.bounding), s.linux.seccomp)
    s = s_with(nil)
    assert.is_true(seccomp.resolve(s))
    assert.is_nil(s.linux.seccomp)
    s.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW" } -- config.json's own
    assert.is_true(seccomp.resolve(s))
    assert.same({ defaultAction = "SCMP_ACT_ALLOW" }, s.linux.seccomp)
  end)

  it("a file: read as docker's JSON; a bad one names itself", function()
    local f = os.tmpname()
    finally(function() os.remove(f) end)
    assert(core.fs.write_file(f, '{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [' ..
      '{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "args": null}]}'))
    local s = s_with(f)
    assert.is_true(seccomp.resolve(s))
    assert.same({ defaultAction = "SCMP_ACT_ALLOW", architectures = {},
                  syscalls = { { names = { "getpid" }, action = "SCMP_ACT_ERRNO", errnoRet = 1 } } },
                s.linux.seccomp)
    assert(core.fs.write_file(f, '{"defaultAction": '))
    local ok, msg, en = seccomp.resolve(s_with(f))
    assert.is_nil(ok)
    assert.equal(E.EINVAL, en)
    assert.equal("seccomp profile " .. f .. ": not JSON", msg:sub(1, #f + 26))
    ok, msg, en = seccomp.resolve(s_with(f .. ".missing"))
    assert.is_nil(ok)
    assert.equal(E.ENOENT, en)
    assert.matches("^seccomp profile " .. (f .. ".missing"):gsub("%p", "%%%0"), msg)
  end)

  it("load(nil) is unconfined: nothing to do", function()
    assert.is_true(seccomp.load(nil))
  end)
end)

describe("wbl.core.seccomp #unit", function()
  local S = core.seccomp

  it("knows this system: the native architecture, libseccomp's version, the mode", function()
    local arch, version = S.native()
    assert.is_not_nil(seccomp.docker_arch[arch])
    assert.matches("^%d+%.%d+%.%d+$", version)
    assert.equal(0, S.mode())
  end)

  it("loads a filter the kernel then applies (errno per rule, same-argument conditions ORed)", function()
    local dir = os.tmpname()
    os.remove(dir)
    finally(function() os.remove(dir .. "/a"); os.remove(dir .. "/c"); os.remove(dir) end)
    assert(core.fs.mkdir(dir, "0700"))
    local how, code = H.in_child(function()
      assert(core.proc.prctl("no_new_privs", true))
      local deny = { { index = 1, value = tonumber("700", 8), op = "SCMP_CMP_EQ" },
                     { index = 1, value = tonumber("750", 8), op = "SCMP_CMP_EQ" } }
      local deny_at = { { index = 2, value = tonumber("700", 8), op = "SCMP_CMP_EQ" },
                        { index = 2, value = tonumber("750", 8), op = "SCMP_CMP_EQ" } }
      assert(S.load { defaultAction = "SCMP_ACT_ALLOW", architectures = { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86" },
        syscalls = { { names = { "mkdir" }, action = "SCMP_ACT_ERRNO", errnoRet = E.EACCES, args = deny },
                     { names = { "mkdirat" }, action = "SCMP_ACT_ERRNO", errnoRet = E.EACCES, args = deny_at },
                     { names = { "no_such_syscall", "getpid" }, action = "SCMP_ACT_ALLOW" } } })
      if S.mode() ~= 2 then return 10 end
      if select(3, core.fs.mkdir(dir .. "/a", "0700")) ~= E.EACCES then return 11 end
      if select(3, core.fs.mkdir(dir .. "/b", "0750")) ~= E.EACCES then return 12 end
      if not core.fs.mkdir(dir .. "/c", "0711") then return 13 end
      return 0
    end)
    assert.same({ "exited", 0 }, { how, code })
    assert.is_nil(core.fs.stat(dir .. "/a"))
    assert.is_not_nil(core.fs.stat(dir .. "/c"))
  end)

  it("without no_new_privs nor CAP_SYS_ADMIN: fail, seccomp_load, EACCES (the kernel's)", function()
    local how, code = H.in_child(function()
      if core.proc.getuid() == 0 then
        assert(core.proc.setgid(65534))
        assert(core.proc.setuid(65534)) -- and with it every capability
      end
      local ok, msg, en = S.load { defaultAction = "SCMP_ACT_ALLOW" }
      if ok ~= nil or en ~= E.EACCES or not msg:match("^seccomp_load: ") then return 20 end
      return S.mode() == 0 and 0 or 21
    end)
    assert.same({ "exited", 0 }, { how, code })
  end)

  it("raises for a bad profile, naming the field", function()
    local function err(p)
      local ok, e = pcall(S.load, p)
      assert.is_false(ok)
      return e
    end
    assert.matches("bad argument #1", err(42))
    assert.matches("defaultAction", err {})
    assert.matches("defaultAction: unknown", err { defaultAction = "SCMP_ACT_PAUSE" })
    assert.matches("defaultErrnoRet", err { defaultAction = "SCMP_ACT_ERRNO", defaultErrnoRet = 70000 })
    assert.matches("architectures%[1%]", err { defaultAction = "SCMP_ACT_ALLOW", architectures = { "x" } })
    assert.matches("flags%[1%]", err { defaultAction = "SCMP_ACT_ALLOW", flags = { "SECCOMP_FILTER_FLAG_X" } })
    local function call(r) return err { defaultAction = "SCMP_ACT_ALLOW", syscalls = { r } } end
    assert.matches("syscalls%[1%]%.names", call { action = "SCMP_ACT_ERRNO" })
    assert.matches("syscalls%[1%]%.action", call { names = { "getpid" }, action = "SCMP_ACT_NOTIFY" })
    assert.matches("args%[1%]%.index", call { names = { "getpid" }, action = "SCMP_ACT_ERRNO",
      args = { { index = 6, op = "SCMP_CMP_EQ" } } })
    assert.matches("args%[1%]%.op", call { names = { "getpid" }, action = "SCMP_ACT_ERRNO",
      args = { { index = 0, op = "SCMP_CMP_XX" } } })
    assert.matches("args%[1%]%.value", call { names = { "getpid" }, action = "SCMP_ACT_ERRNO",
      args = { { index = 0, op = "SCMP_CMP_EQ", value = -0.5 } } })
    assert.equal(0, S.mode()) -- nothing was loaded
  end)
end)

-- The instructions of a BPF program: { { code, jt, jf, k }, ... }.
local function insns(bpf)
  local out = {}
  for i = 1, #bpf, 8 do
    local code, jt, jf, k = string.unpack("=I2BBI4", bpf, i)
    out[#out + 1] = { code, jt, jf, k }
  end
  return out
end

-- Is there an instruction with this code and k?
local function has(bpf, code, k)
  for _, x in ipairs(insns(bpf)) do
    if x[1] == code and x[4] == k then return true end
  end
  return false
end

local RET, JEQ = 0x06, 0x15 -- BPF_RET|BPF_K, BPF_JMP|BPF_JEQ|BPF_K
local RET_ERRNO, RET_ALLOW = 0x00050000, 0x7fff0000

-- A profile that refuses mkdir (EACCES) and chmod (EROFS), allows the rest.
local function deny_profile(errno)
  return { defaultAction = "SCMP_ACT_ALLOW", architectures = { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86" },
           syscalls = { { names = { "mkdir", "mkdirat" }, action = "SCMP_ACT_ERRNO", errnoRet = errno or E.EACCES },
                        { names = { "chmod", "fchmodat" }, action = "SCMP_ACT_ERRNO", errnoRet = E.EROFS } } }
end

describe("wbl.core.hash #unit", function()
  it("sha256: FIPS 180-4's vectors, and at the padding's edges as sha256sum", function()
    local h = core.hash.sha256
    assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", h(""))
    assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", h("abc"))
    assert.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
                 h("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
    for _, n in ipairs { 55, 56, 63, 64, 65, 1000 } do
      local s = ("x"):rep(n)
      local f = os.tmpname()
      assert(core.fs.write_file(f, s))
      local p = io.popen("sha256sum < " .. f)
      local want = p:read("l"):match("^%x+")
      p:close()
      os.remove(f)
      assert.equal(want, h(s), n)
    end
  end)

  it("sha256 of several strings is that of them one after another; file: of a file's bytes, read in pieces", function()
    local h = core.hash.sha256
    assert.equal(h("abc"), h("a", "", "bc"))
    assert.equal(h("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                 h("abcdbcdecdefdefgefghfghighijhijkijkl", "jklmklmnlmnomnopnopq"))
    local f = os.tmpname()
    local big = ("0123456789abcdef"):rep(3000) .. "tail" -- past the 16 KB it reads at a time
    assert(core.fs.write_file(f, big))
    local p = io.popen("sha256sum < " .. f)
    local want = p:read("l"):match("^%x+")
    p:close()
    assert.equal(want, core.hash.file(f))
    assert.equal(h(big), core.hash.file(f))
    os.remove(f)
    local none, msg, en = core.hash.file(f)
    assert.is_nil(none)
    assert.equal("open " .. f .. ": No such file or directory", msg) -- (fs.read_file's words)
    assert.equal(core.errno.ENOENT, en)
  end)
end)

describe("wbl.seccomp.compile #unit", function()
  local config = require "wbl.config"
  local util = require "wbl.util"
  local fs = core.fs
  local root, saved

  before_each(function()
    saved = config.root()
    root = os.tmpname()
    os.remove(root)
    config.set_root(root) -- a cache of this case's own
  end)
  after_each(function()
    config.set_root(saved)
    util.rm_rf(root)
  end)

  local function entry(p) return seccomp.cache_dir() .. "/" .. seccomp.key(p) end

  it("is the program libseccomp exports: the architectures checked, each rule's errno", function()
    local p = deny_profile()
    local bpf = assert(seccomp.compile(p))
    assert.equal(assert(core.seccomp.compile(p)), bpf)
    assert.is_true(seccomp.valid(bpf))
    assert.equal(0, #bpf % 8)
    local first = insns(bpf)[1]
    assert.same({ 0x20, 0, 0, 4 }, first) -- ld [4]: seccomp_data.arch
    assert.is_true(has(bpf, RET, RET_ERRNO | E.EACCES))
    assert.is_true(has(bpf, RET, RET_ERRNO | E.EROFS))
    assert.is_true(has(bpf, RET, RET_ALLOW))
    if core.seccomp.native() == "SCMP_ARCH_X86_64" then
      assert.is_true(has(bpf, JEQ, 0xc000003e)) -- AUDIT_ARCH_X86_64
      assert.is_true(has(bpf, JEQ, 0x40000003)) -- AUDIT_ARCH_I386
      assert.is_true(has(bpf, JEQ, 83))         -- mkdir
      assert.is_true(has(bpf, JEQ, 90))         -- chmod
    end
    -- another errno, another program
    assert.is_false(has(assert(seccomp.compile(deny_profile(E.EPERM))), RET, RET_ERRNO | E.EACCES))
  end)

  it("keeps the program in a root-only cache: the directory 0700, the file 0600, the bytes", function()
    local p = deny_profile()
    local bpf = assert(seccomp.compile(p))
    local d, f = fs.lstat(seccomp.cache_dir()), fs.lstat(entry(p))
    assert.same({ "directory", tonumber("700", 8) }, { d.type, d.mode })
    assert.same({ "file", tonumber("600", 8), #bpf }, { f.type, f.mode, f.size })
    assert.equal(bpf, fs.read_file(entry(p)))
    assert.same({ seccomp.key(p) }, fs.readdir(seccomp.cache_dir())) -- no temporary file left
  end)

  it("a second compile is served from the cache, not by libseccomp", function()
    local p = deny_profile()
    assert(seccomp.compile(p))
    -- a valid program of another profile planted as this profile's: served as is
    local other = assert(core.seccomp.compile(deny_profile(E.EPERM)))
    assert(fs.write_file(entry(p), other, nil, "0600"))
    local real = core.seccomp.compile
    core.seccomp.compile = function() error("compiled again") end
    local ok, got = pcall(seccomp.compile, deny_profile()) -- an equal table, not the same one
    core.seccomp.compile = real
    assert.is_true(ok, got)
    assert.equal(other, got)
  end)

  it("a changed profile gets an entry of its own", function()
    local a, b = deny_profile(), deny_profile(E.EPERM)
    assert.not_equal(seccomp.key(a), seccomp.key(b))
    assert.equal(seccomp.key(a), seccomp.key(deny_profile())) -- the same content, the same key
    local c = deny_profile()
    c.flags = { "SECCOMP_FILTER_FLAG_LOG" }
    assert.not_equal(seccomp.key(a), seccomp.key(c))
    local pa, pb = assert(seccomp.compile(a)), assert(seccomp.compile(b))
    assert.not_equal(pa, pb)
    local names = fs.readdir(seccomp.cache_dir())
    table.sort(names)
    local want = { seccomp.key(a), seccomp.key(b) }
    table.sort(want)
    assert.same(want, names)
    assert.equal(pa, fs.read_file(entry(a)))
    assert.equal(pb, fs.read_file(entry(b)))
  end)

  it("a cache file that is not a valid program is not used, and is made again", function()
    local p = deny_profile()
    local want = assert(core.seccomp.compile(p))
    assert(seccomp.compile(p)) -- (the directory)
    local zero = string.pack("=I2BBI4", 0, 0, 0, 0)
    for _, bad in ipairs { "", want:sub(1, -2), want .. "x", zero:rep(3), want:sub(9),
                           want:sub(1, -9) .. string.pack("=I2BBI4", 0x15, 0, 0, 0) } do
      assert(fs.write_file(entry(p), bad, nil, "0600"))
      assert.is_false(seccomp.valid(bad))
      assert.equal(want, seccomp.compile(p))
      assert.equal(want, fs.read_file(entry(p)))
    end
  end)

  it("a cache directory not root's own is neither read nor written; none at all: compiled anyway", function()
    local p = deny_profile()
    assert(seccomp.compile(p))
    local other = assert(core.seccomp.compile(deny_profile(E.EPERM)))
    assert(fs.write_file(entry(p), other, nil, "0600"))
    assert(fs.chmod(seccomp.cache_dir(), "0770"))
    local want = assert(core.seccomp.compile(p))
    assert.equal(want, seccomp.compile(p))
    assert.equal(other, fs.read_file(entry(p))) -- left as it was
    -- a state root that cannot be made (under a file)
    local file = root .. "/file"
    assert(fs.write_file(file, "x"))
    config.set_root(file .. "/root")
    assert.equal(want, seccomp.compile(p))
    assert.is_nil(fs.stat(file .. "/root"))
  end)

  it("a bad profile: nil, the field, EINVAL (before any process)", function()
    local ok, msg, en = seccomp.compile { defaultAction = "SCMP_ACT_PAUSE" }
    assert.is_nil(ok)
    assert.matches("defaultAction: unknown action", msg)
    assert.equal(E.EINVAL, en)
    assert.is_nil(fs.stat(seccomp.cache_dir() .. "/x"))
  end)
end)

describe("wbl.seccomp.load #unit", function()
  local config = require "wbl.config"
  local util = require "wbl.util"
  local root, saved, dir

  before_each(function()
    saved = config.root()
    root = os.tmpname()
    os.remove(root)
    config.set_root(root)
    dir = os.tmpname()
    os.remove(dir)
    assert(core.fs.mkdir(dir, "0700"))
  end)
  after_each(function()
    config.set_root(saved)
    util.rm_rf(root)
    util.rm_rf(dir)
  end)

  it("loads the program compiled before the fork: the kernel refuses mkdir and chmod, allows the rest", function()
    local p = deny_profile()
    assert(seccomp.compile(p))
    local how, code = H.in_child(function()
      assert(core.proc.prctl("no_new_privs", true))
      local ok, msg = seccomp.load(p)
      if not ok then io.stderr:write(msg, "\n"); return 10 end
      if seccomp.mode() ~= 2 then return 11 end
      if select(3, core.fs.mkdir(dir .. "/a", "0700")) ~= E.EACCES then return 12 end
      if select(3, core.fs.chmod(dir, "0755")) ~= E.EROFS then return 13 end
      if not core.fs.write_file(dir .. "/f", "x") then return 14 end
      return 0
    end)
    assert.same({ "exited", 0 }, { how, code })
    assert.is_nil(core.fs.stat(dir .. "/a"))
    assert.equal(tonumber("700", 8), core.fs.stat(dir).mode)
    assert.equal("x", core.fs.read_file(dir .. "/f"))
  end)

  it("with the profile's flags (SECCOMP_FILTER_FLAG_LOG); unknown flags raise", function()
    local p = deny_profile()
    p.flags = { "SECCOMP_FILTER_FLAG_LOG" }
    assert(seccomp.compile(p))
    local how, code = H.in_child(function()
      assert(core.proc.prctl("no_new_privs", true))
      if not seccomp.load(p) then return 10 end
      if seccomp.mode() ~= 2 then return 11 end
      return select(3, core.fs.mkdir(dir .. "/a", "0700")) == E.EACCES and 0 or 12
    end)
    assert.same({ "exited", 0 }, { how, code })
    assert.has_error(function() core.seccomp.load_bpf(seccomp.compile(p), { "SECCOMP_FILTER_FLAG_TSYNC" }) end)
    assert.equal(0, seccomp.mode())
  end)

  it("a profile never compiled in this process: nil, why, EINVAL, and nothing loaded", function()
    local how, code = H.in_child(function()
      assert(core.proc.prctl("no_new_privs", true))
      local ok, msg, en = seccomp.load(deny_profile())
      if ok ~= nil or en ~= E.EINVAL or not msg:match("not compiled") then return 10 end
      return seccomp.mode() == 0 and 0 or 11
    end)
    assert.same({ "exited", 0 }, { how, code })
  end)

  it("load_bpf: whole instructions only (EINVAL); without no_new_privs nor CAP_SYS_ADMIN: EACCES", function()
    local bpf = assert(seccomp.compile(deny_profile()))
    local how, code = H.in_child(function()
      assert(core.proc.prctl("no_new_privs", true))
      for i, bad in ipairs { "", bpf:sub(1, -2), ("\0"):rep(8 * 4097) } do
        local ok, _, en = core.seccomp.load_bpf(bad)
        if ok ~= nil or en ~= E.EINVAL then return 10 + i end
      end
      return seccomp.mode() == 0 and 0 or 20
    end)
    assert.same({ "exited", 0 }, { how, code })
    how, code = H.in_child(function()
      if core.proc.getuid() == 0 then
        assert(core.proc.setgid(65534))
        assert(core.proc.setuid(65534))
      end
      local ok, msg, en = core.seccomp.load_bpf(bpf)
      if ok ~= nil or en ~= E.EACCES or not msg:match("^seccomp") then return 30 end
      return seccomp.mode() == 0 and 0 or 31
    end)
    assert.same({ "exited", 0 }, { how, code })
  end)
end)
