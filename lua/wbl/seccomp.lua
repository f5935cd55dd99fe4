--- Seccomp: which syscalls a container's process may make.  The profile
-- is the OCI runtime spec's linux.seccomp (defaultAction, defaultErrnoRet,
-- architectures, flags, syscalls = { { names, action, errnoRet, args } }),
-- made on the host when the container is created (resolve: from
-- s.wbl.seccomp, docker's --security-opt seccomp=...), compiled there to
-- its BPF program (compile: libseccomp's work, ~10 ms for docker's
-- profile, done once and cached by content), and loaded by the process
-- itself as one of its last steps (load, scripts/process.lua: one
-- seccomp(2) call, the program already in its memory).
--
-- The default is docker's profile (wbl.seccomp_default, in docker's own
-- format); a file in that format (or podman's) is converted the way
-- docker does it: rules kept or dropped by the capabilities, architecture
-- and kernel they name (includes/excludes).  The default's conversions
-- are kept in the cache too, with their keys (M.default): a start with
-- the same capabilities on the same system only loads one.
local core = require "wbl.core"
local config = require "wbl.config"
local util = require "wbl.util"
local fs, E = core.fs, core.errno

local M = {}

-- What the core takes; checked here too, so that a bad profile file is
-- refused when the container is created, not when its process starts.
local actions = { SCMP_ACT_KILL = true, SCMP_ACT_KILL_THREAD = true, SCMP_ACT_KILL_PROCESS = true,
                  SCMP_ACT_TRAP = true, SCMP_ACT_ERRNO = true, SCMP_ACT_TRACE = true,
                  SCMP_ACT_ALLOW = true, SCMP_ACT_LOG = true }
local ops = { SCMP_CMP_NE = true, SCMP_CMP_LT = true, SCMP_CMP_LE = true, SCMP_CMP_EQ = true,
              SCMP_CMP_GE = true, SCMP_CMP_GT = true, SCMP_CMP_MASKED_EQ = true }
local flags = { SECCOMP_FILTER_FLAG_LOG = true, SECCOMP_FILTER_FLAG_SPEC_ALLOW = true }

--- OCI architecture -> the name docker's includes/excludes.arches use
-- (Go's, mostly).
M.docker_arch = {
  SCMP_ARCH_X86 = "x86", SCMP_ARCH_X86_64 = "amd64", SCMP_ARCH_X32 = "x32", SCMP_ARCH_ARM = "arm",
  SCMP_ARCH_AARCH64 = "arm64", SCMP_ARCH_MIPS = "mips", SCMP_ARCH_MIPS64 = "mips64",
  SCMP_ARCH_MIPS64N32 = "mips64n32", SCMP_ARCH_MIPSEL = "mipsle", SCMP_ARCH_MIPSEL64 = "mipsel64",
  SCMP_ARCH_MIPSEL64N32 = "mipsel64n32", SCMP_ARCH_PPC = "ppc", SCMP_ARCH_PPC64 = "ppc64",
  SCMP_ARCH_PPC64LE = "ppc64le", SCMP_ARCH_S390 = "s390", SCMP_ARCH_S390X = "s390x",
  SCMP_ARCH_PARISC = "parisc", SCMP_ARCH_PARISC64 = "parisc64", SCMP_ARCH_RISCV64 = "riscv64",
}

-- The kernel's release as /proc gives it (read once: it cannot change
-- while this process runs), or nil.
local osrelease_read, osrelease
local function release()
  if not osrelease_read then
    osrelease_read, osrelease = true, fs.read_file("/proc/sys/kernel/osrelease")
  end
  return osrelease
end

--- This system: { arch = "SCMP_ARCH_X86_64", kernel = "6.1.0-18-amd64" }.
function M.host()
  local arch = core.seccomp.native()
  return { arch = arch, kernel = (release() or ""):match("^%S*") }
end

-- Is kernel release `have` ("6.1.0-18-amd64") at least `want` ("4.8")?
local function kernel_at_least(have, want)
  local h, w = {}, {}
  for n in tostring(have):gmatch("%d+") do h[#h + 1] = tonumber(n) if #h == 3 then break end end
  for n in tostring(want):gmatch("%d+") do w[#w + 1] = tonumber(n) end
  for i = 1, math.max(#w, 1) do
    local a, b = h[i] or 0, w[i] or 0
    if a ~= b then return a > b end
  end
  return true
end

local function set_of(list)
  local set = {}
  for _, v in ipairs(list or {}) do set[v] = true end
  return set
end

local function any_in(list, set)
  for _, v in ipairs(list or {}) do if set[v] then return true end end
  return false
end

local function all_in(list, set)
  for _, v in ipairs(list or {}) do if not set[v] then return false end end
  return true
end

-- Check one action (and its errno) of a profile; the field named.
local function check_action(action, errno_ret, field)
  if type(action) ~= "string" or not actions[action] then
    return nil, ("%s: unknown action %s"):format(field, tostring(action))
  end
  if errno_ret ~= nil and (math.type(errno_ret) ~= "integer" or errno_ret < 0 or errno_ret > 0xffff) then
    return nil, ("%s: errno %s is not an errno number"):format(field, tostring(errno_ret))
  end
  return true
end

local function copy_args(args, field)
  if args == nil then return nil end
  if type(args) ~= "table" or #args > 6 then return nil, field .. ": not a list of at most 6 conditions" end
  local out = {}
  for i, a in ipairs(args) do
    local f = ("%s[%d]"):format(field, i)
    if type(a) ~= "table" then return nil, f .. ": not an object" end
    if math.type(a.index) ~= "integer" or a.index < 0 or a.index > 5 then
      return nil, f .. ".index: must be 0 to 5"
    end
    if not ops[a.op] then return nil, ("%s.op: unknown operator %s"):format(f, tostring(a.op)) end
    for _, k in ipairs { "value", "valueTwo" } do
      if a[k] ~= nil and type(a[k]) ~= "number" then return nil, ("%s.%s: not a number"):format(f, k) end
    end
    out[i] = { index = a.index, value = a.value or 0, valueTwo = a.valueTwo or 0, op = a.op }
  end
  return out
end

--- Docker's (and podman's) profile format -> the OCI profile for a
-- process with these capabilities (its bounding set: what it could ever
-- get back, as docker checks), on this system (or opts.arch, an OCI
-- architecture name, and opts.kernel, a release).  Rules are dropped by
-- excludes (any cap the process has, its arch, a kernel at least
-- minKernel) and kept only by matching includes (every cap, its arch, a
-- kernel at least minKernel); of archMap, the entry of the native
-- architecture gives the architectures.
-- @return the profile, or nil, message naming the field
function M.from_docker(j, capabilities, opts)
  if type(j) ~= "table" then return nil, "not a JSON object" end
  opts = opts or {}
  local host = (opts.arch and opts.kernel) and opts or M.host()
  local arch, kernel = opts.arch or host.arch, opts.kernel or host.kernel
  local darch, have = M.docker_arch[arch], set_of(capabilities)
  local ok, msg = check_action(j.defaultAction, j.defaultErrnoRet, "defaultAction")
  if not ok then return nil, msg end
  local p = { defaultAction = j.defaultAction, defaultErrnoRet = j.defaultErrnoRet, architectures = {},
              syscalls = {} }

  if j.architectures and #j.architectures > 0 and j.archMap and #j.archMap > 0 then
    return nil, "architectures and archMap: give one, not both"
  end
  for _, a in ipairs(j.architectures or {}) do p.architectures[#p.architectures + 1] = a end
  for _, m in ipairs(j.archMap or {}) do
    if m.architecture == arch then
      p.architectures[#p.architectures + 1] = m.architecture
      for _, a in ipairs(m.subArchitectures or {}) do p.architectures[#p.architectures + 1] = a end
    end
  end
  for i, a in ipairs(p.architectures) do
    if not M.docker_arch[a] then return nil, ("architectures[%d]: unknown architecture %s"):format(i, tostring(a)) end
  end
  if j.flags then
    p.flags = {}
    for i, f in ipairs(j.flags) do
      if not flags[f] then return nil, ("flags[%d]: unknown flag %s"):format(i, tostring(f)) end
      p.flags[i] = f
    end
  end
  if j.listenerPath and j.listenerPath ~= "" then return nil, "listenerPath: SCMP_ACT_NOTIFY is not supported" end

  for i, call in ipairs(j.syscalls or {}) do
    local field = ("syscalls[%d]"):format(i)
    if type(call) ~= "table" then return nil, field .. ": not an object" end
    local names = call.names
    if call.name and call.name ~= "" then
      if names and #names > 0 then return nil, field .. ": name and names: give one, not both" end
      names = { call.name }
    end
    if type(names) ~= "table" or #names == 0 then return nil, field .. ".names: no syscall named" end
    for k, n in ipairs(names) do
      if type(n) ~= "string" then return nil, ("%s.names[%d]: not a string"):format(field, k) end
    end
    ok, msg = check_action(call.action, call.errnoRet, field .. ".action")
    if not ok then return nil, msg end
    local args, why = copy_args(call.args, field .. ".args")
    if call.args ~= nil and not args then return nil, why end
    local ex, inc, keep = call.excludes or {}, call.includes or {}, true
    if any_in(ex.arches, { [darch or ""] = true }) or any_in(ex.caps, have)
      or (ex.minKernel and ex.minKernel ~= "" and kernel_at_least(kernel, ex.minKernel)) then
      keep = false
    end
    if (inc.arches and #inc.arches > 0 and not any_in(inc.arches, { [darch or ""] = true }))
      or not all_in(inc.caps, have)
      or (inc.minKernel and inc.minKernel ~= "" and not kernel_at_least(kernel, inc.minKernel)) then
      keep = false
    end
    if keep then
      p.syscalls[#p.syscalls + 1] = { names = table.move(names, 1, #names, 1, {}), action = call.action,
                                      errnoRet = call.errnoRet, args = args }
    end
  end
  return p
end

-- M.default (docker's profile, converted): below, with the cache it keeps
-- its conversions in.

--- Read a profile file in docker's JSON format and convert it.
-- @return the profile, or nil, message, errno
function M.read(path, capabilities, opts)
  local text, msg, en = core.fs.read_file(path)
  if not text then return nil, msg, en end
  local json = require "dkjson"
  local j, _, err = json.decode(text, 1, nil)
  if err then return nil, "not JSON: " .. err, E.EINVAL end
  local p, why = M.from_docker(j, capabilities, opts)
  if not p then return nil, why, E.EINVAL end
  return p
end

--- Host side, before anything is made: the profile s.wbl.seccomp asks
-- for into s.linux.seccomp.  "default": docker's, for the process's
-- capabilities; a path: that file (docker's format); nil: whatever the
-- front end put in linux.seccomp (none, for the docker front end's
-- seccomp=unconfined and --privileged; config.json's own, for an OCI one).
-- @return true, or nil, "seccomp profile FILE: why", errno
function M.resolve(s)
  local want = s.wbl and s.wbl.seccomp
  if want == nil then return true end
  local caps = s.process.capabilities and (s.process.capabilities.bounding or s.process.capabilities.effective)
  if want == "default" then
    s.linux.seccomp = M.default(caps or {})
    return true
  end
  local p, msg, en = M.read(want, caps or {})
  if not p then return nil, ("seccomp profile %s: %s"):format(want, msg), en end
  s.linux.seccomp = p
  return true
end

-- Compiling ------------------------------------------------------------------

-- The programs compile gave in this process, by profile table: a child
-- forked after it (the container's PID 1, an exec'd process) has them too.
local compiled = setmetatable({}, { __mode = "k" })

--- The cache of compiled programs: ROOT/cache/seccomp (wbl.config's
-- state root), root's only (0700), one file per key, 0600.
function M.cache_dir() return config.cache() .. "/seccomp" end

-- What a program depends on besides its profile: the native
-- architecture, the libseccomp version and the kernel, which may refuse or
-- change what libseccomp makes (and the format's tag).
local function bpf_inputs()
  local arch, version = core.seccomp.native()
  return table.concat({ "wbl seccomp bpf 3", arch, version, (release() or "?"):match("^%S*") }, "\n")
end

--- The cache key of a profile: the SHA-256 of what its program depends
-- on (bpf_inputs, then the profile, written canonically).
function M.key(profile)
  return core.hash.sha256(bpf_inputs() .. "\n" .. util.serialise(profile))
end

--- Could bytes be a program compile made?  Whole instructions (8 bytes
-- each), 1 to 4096 of them (BPF_MAXINSNS), the first libseccomp's
-- (load the architecture: ld [4]), the last a return.
function M.valid(bpf)
  if type(bpf) ~= "string" or #bpf == 0 or #bpf % 8 ~= 0 or #bpf > 4096 * 8 then return false end
  local code, _, _, k = string.unpack("=I2BBI4", bpf)
  local last = string.unpack("=I2", bpf, #bpf - 7)
  return code == 0x20 and k == 4 and last & 0x07 == 0x06 -- BPF_LD|BPF_W|BPF_ABS; BPF_RET
end

-- The cache directory, made if missing, if it is root's own (a directory
-- of this uid, 0700): anyone else's could hand us a filter.
local function cache()
  local dir = M.cache_dir()
  local st = fs.lstat(dir)
  if not st then
    fs.mkdir_p(dir, "0700")
    st = fs.lstat(dir)
  end
  if st and st.type == "directory" and st.uid == core.proc.getuid() and st.mode & tonumber("077", 8) == 0 then
    return dir
  end
end

-- Write bytes as the cache file dir/name, 0600, atomically (a reader sees
-- no file or the whole one); a failure leaves no file (the cache is only
-- a cache: the caller goes on without it).
local function put(dir, name, bytes) util.replace_file(dir .. "/" .. name, bytes) end

-- The default profile, memoised ---------------------------------------------

-- Converting docker's profile (~376 names) for a container's capabilities
-- is the same work every start, with the same result, and then compile
-- writes the whole profile out again and hashes it for its cache key.  So
-- default keeps each conversion it makes in the cache directory, as Lua
-- source (loadfile: in the wbl program, through its bytecode cache), with
-- the profile's key beside it; the next start with the same inputs loads
-- that instead of converting, and compile takes the key as it is.
--
--   file  CACHE/<inkey>.profile, "return { key = KEY, profile = {...} }"
--   inkey the SHA-256 of everything the conversion and its key depend on
--         (memo_key): a tag, bpf_inputs, the SHA-256 of this module's
--         source (the converter) and of wbl.seccomp_default's (the data),
--         the set of capabilities, the architecture and kernel converted for
--   KEY   M.key(profile), computed when the file is written
--
-- Trusted as the programs are, and by the same checks: only in a cache()
-- directory (this uid's, 0700), and only a plain file of this uid that no
-- one else may write.  A file that is not, or does not load, or is not of
-- that shape is converted again and replaced (atomically, as compile's).

-- The key of each profile default returned, by profile table (weak: it
-- goes with the table), for compile.
local keys = setmetatable({}, { __mode = "k" })

-- This module's own file (the converter: from_docker and the rest), as it
-- was loaded.
local self_file = debug.getinfo(1, "S").source:match("^@(.+)")

-- The memo's inkey, or nil when it cannot be made (a source file not
-- found or not readable, a capability that is not a string, no
-- architecture or kernel): then there is no memo.
local function memo_key(capabilities, arch, kernel)
  local data_file = package.searchpath("wbl.seccomp_default", package.path)
  -- (the files' digests: hashed in pieces, no string of either is made)
  local converter = self_file and core.hash.file(self_file)
  local data = data_file and core.hash.file(data_file)
  if not (converter and data) or type(arch) ~= "string" or type(kernel) ~= "string" then return nil end
  -- from_docker asks only whether a capability is in the set: the same
  -- set in any order, with repeats or not, is the same conversion
  local set, caps = {}, {}
  for _, c in ipairs(capabilities) do
    if type(c) ~= "string" then return nil end
    if not set[c] then set[c] = true; caps[#caps + 1] = c end
  end
  table.sort(caps)
  -- each part with its length before it: no two inputs write the same
  local parts = { "wbl seccomp default 2", bpf_inputs(), converter, data, arch, kernel, tostring(#caps) }
  table.move(caps, 1, #caps, #parts + 1, parts)
  return core.hash.sha256(string.pack(("s4"):rep(#parts), table.unpack(parts)))
end

-- The memo in file, { profile, key }, if it is there, trusted and whole.
local function memo_read(file)
  local st = fs.lstat(file)
  if not (st and st.type == "file" and st.uid == core.proc.getuid() and st.mode & tonumber("022", 8) == 0) then
    return nil
  end
  local chunk = loadfile(file, "t", {})
  if not chunk then return nil end
  local ok, t = pcall(chunk)
  if ok and type(t) == "table" and type(t.profile) == "table" and type(t.profile.defaultAction) == "string"
    and type(t.profile.syscalls) == "table" and type(t.key) == "string" and #t.key == 64
    and not t.key:find("%X") then
    return t
  end
end

--- The default profile (docker's, wbl.seccomp_default) for a process
-- with these capabilities (opts: as from_docker's), from its memo when
-- the cache holds it (see above).  Each call returns a table of its own;
-- compile it as it is returned: compile uses the key made with it, so a
-- changed one would get the program of the profile as it was.
function M.default(capabilities, opts)
  capabilities, opts = capabilities or {}, opts or {}
  local arch, kernel = opts.arch, opts.kernel
  if not (arch and kernel) then -- from_docker's choice, made once here
    local host = M.host()
    arch, kernel = arch or host.arch, kernel or host.kernel
  end
  local dir = cache()
  local inkey = dir and memo_key(capabilities, arch, kernel)
  local file = inkey and ("%s/%s.profile"):format(dir, inkey)
  local memo = file and memo_read(file)
  if memo then
    keys[memo.profile] = memo.key
    return memo.profile
  end
  local p = assert(M.from_docker(require "wbl.seccomp_default", capabilities, { arch = arch, kernel = kernel }))
  if file then -- atomically: a reader sees no file or the whole memo
    local key = M.key(p)
    keys[p] = key
    put(dir, inkey .. ".profile", util.serialise { profile = p, key = key })
  end
  return p
end

--- Host side: the BPF program of a profile, as libseccomp makes it
-- (core.seccomp.compile), from the cache when it holds it (a file that
-- is not a valid program is made again); if the cache cannot be used,
-- compiled anyway.  The program is kept in this process for load, in
-- this process or a child forked after this: the profile must not
-- change in between.  The key: default's, for a profile it returned
-- (from its memo: not computed again), M.key's for any other.
-- @return the program (bytes), or nil, message, errno
function M.compile(profile)
  local dir, key = cache(), keys[profile] or M.key(profile)
  local file = dir and util.join(dir, key)
  local bpf = file and fs.read_file(file)
  if not M.valid(bpf) then
    local ok, bytes, msg, en = pcall(core.seccomp.compile, profile)
    if not ok then return nil, tostring(bytes), E.EINVAL end -- a bad profile
    if not bytes then return nil, msg, en end
    bpf = bytes
    if file then -- atomically: a reader sees no file or the whole program
      put(dir, key, bpf)
    end
  end
  compiled[profile] = bpf
  return bpf
end

--- Container side: load the profile's program (compile's, made on the
-- host before this process was forked; or bpf) into this process, and
-- so into everything it execs; nil: unconfined, nothing to do.  Needs
-- CAP_SYS_ADMIN or no_new_privs (scripts/process.lua picks the moment);
-- never sets no_new_privs itself.
-- @return true, or nil, message, errno
function M.load(profile, bpf)
  if profile == nil then return true end
  bpf = bpf or compiled[profile]
  if not bpf then
    return nil, "the profile was not compiled on the host (wbl.seccomp.compile, before the process is made)",
      E.EINVAL
  end
  return core.seccomp.load_bpf(bpf, profile.flags)
end

--- This process's seccomp mode: 0 none, 1 strict, 2 filter.
function M.mode() return core.seccomp.mode() end

return M
