-- Device rules, proven by the kernel: a container may make any device
-- node but open only the allowed ones (EPERM from the device cgroup, past
-- every other check: the same open works with --privileged); --device
-- grants one node its access; the rule lists read as wbl.devices says,
-- through the v1 devices files and through the cgroup2 BPF program alike.
-- Layout-agnostic: on this hybrid host the v1 devices hierarchy holds the
-- rules (and the BPF cases use the cgroup2 'unified' hierarchy); in the
-- pure cgroup v2 VM (vm/run.sh) the BPF program does.
local core = require "wbl.core"
local cgroup = require "wbl.cgroup"
local devices = require "wbl.devices"
local spec = require "wbl.spec"
local util = require "wbl.util"
local fs, E = core.fs, core.errno

local parent = "wbl/spec-dev-" .. util.random_hex(4)
local layout = assert(cgroup.layout())
local v1_dir = layout.v1.devices -- the v1 devices hierarchy, if any

local function run(...)
  local a = { "--cgroup-parent", parent, "--network", "none" }
  for _, x in ipairs({ ... }) do a[#a + 1] = x end
  return H.run(a)
end

-- A block device to mknod inside: the first of the host's that the host
-- itself can read (a host's own policy may forbid some: this VM's vda),
-- else loop0's numbers without a node (the pure v2 VM has no disk):
-- past the device rules the kernel then loads loop, or answers ENXIO;
-- never EPERM.
local function host_block()
  local cands = {}
  local parts = fs.read_file("/proc/partitions") or ""
  for maj, min, name in parts:gmatch("\n%s*(%d+)%s+(%d+)%s+%d+%s+(%S+)") do
    cands[#cands + 1] = { tonumber(maj), tonumber(min), "/dev/" .. name }
  end
  for i = 0, 7 do cands[#cands + 1] = { 7, i, "/dev/loop" .. i } end
  for _, b in ipairs(cands) do
    local st = fs.stat(b[3])
    if st and st.type == "block" and st.rdev_major == b[1] and st.rdev_minor == b[2] then
      local f = io.open(b[3], "rb") -- opened for reading only, never written
      if f then
        f:read(1)
        f:close()
        return { major = b[1], minor = b[2], path = b[3] }
      end
    end
  end
  return { major = 7, minor = 0 }
end
local blk = host_block()
local mknod_blk = ("mknod /dev/blk-x b %d %d && echo made; "):format(blk.major, blk.minor)

describe("device rules #priv", function()
  H.it_priv("let a container make a host block device's node but not open it", function()
    local out, err, code = run("sh", "-c", mknod_blk ..
      "head -c1 /dev/blk-x >/dev/null && echo opened; dd if=/dev/blk-x of=/dev/null bs=1 count=1; " ..
      "mknod /dev/kmsg-x c 1 11 && echo made-char; true >/dev/kmsg-x && echo opened-char; true")
    assert.equal(0, code, err)
    assert.matches("made\n", out)
    assert.matches("made%-char\n", out)
    assert.is_nil(out:find("opened", 1, true), out)
    assert.matches("head: /dev/blk%-x: Operation not permitted", err)
    assert.matches("dd: can't open '/dev/blk%-x': Operation not permitted", err)
    assert.matches("can't create /dev/kmsg%-x: Operation not permitted", err)
  end)

  H.it_priv("let the default devices open", function()
    local out, err, code = run("sh", "-c",
      "head -c4 /dev/zero | wc -c; head -c4 /dev/urandom | wc -c; head -c4 /dev/random | wc -c; " ..
      "echo x > /dev/null && echo null-ok; echo x > /dev/full; true <>/dev/ptmx && echo ptmx-ok; true")
    assert.equal(0, code, err)
    assert.equal("4\n4\n4\nnull-ok\nptmx-ok\n", out)
    assert.matches("No space left on device", err) -- /dev/full opened, its write refused
    assert.is_nil(err:find("Operation not permitted", 1, true), err)
  end)

  H.it_priv("--device HOST:CTR:r grants reading that node, not writing it", function()
    local tmp
    local host = blk.path
    if not host then -- no node on the host: make one (the container's read then gets ENXIO)
      tmp = H.tmpdir()
      host = tmp .. "/blk"
      assert(fs.mknod(host, "b", blk.major, blk.minor, "0600"))
    end
    finally(function() if tmp then util.rm_rf(tmp) end end)
    local out, err, code = run("--device", host .. ":/dev/disk/x:r", "--device", "/dev/kmsg:/dev/kmsg:w",
      "sh", "-c", "stat -c '%F %t:%T %a' /dev/disk/x; head -c1 /dev/disk/x >/dev/null && echo read; " ..
      "true >/dev/disk/x && echo wrote; true >/dev/kmsg && echo kmsg-opened; true")
    assert.equal(0, code, err)
    assert.matches(("^block special file %x:%x %%d+\n"):format(blk.major, blk.minor), out)
    assert.matches("can't create /dev/disk/x: Operation not permitted", err)
    assert.is_nil(out:find("wrote", 1, true))
    assert.matches("kmsg%-opened\n", out)
    -- past the rules: read, or ENXIO where no driver answers (no node on the host)
    assert.is_nil(err:find("head: /dev/disk/x: Operation not permitted", 1, true), err)
    assert.is_truthy(out:find("\nread\n") or not blk.path and err:find("No such device or address"), out .. err)
  end)

  H.it_priv("--privileged: the host's device nodes, and the block device opens", function()
    local out, err, code = run("--privileged", "sh", "-c", mknod_blk ..
      "head -c1 /dev/blk-x >/dev/null && echo opened; true >/dev/kmsg && echo kmsg-opened; ls /dev; true")
    assert.equal(0, code, err)
    assert.is_nil(err:find("Operation not permitted", 1, true), err)
    assert.matches("kmsg%-opened\n", out)
    assert.matches("\nkmsg\n", out)
    assert.is_truthy(out:find("\nopened\n") or not blk.path and err:find("No such device or address"), out .. err)
    if blk.path then assert.matches("\n" .. blk.path:match("[^/]+$") .. "\n", out) end
  end)

  H.it_priv("refuses a --device that is no device node, naming option and path", function()
    local _, err, code = run("--device", "/etc/passwd:/dev/x", "true")
    assert.equal(125, code)
    assert.matches("devices: %-%-device /etc/passwd: not a device node %(a file%)", err)
  end)

  H.it_priv("puts the rules where the host enforces them: v1 devices.list, or one BPF program", function()
    local name = H.name("dev")
    local ir, iw = assert(core.fd.pipe())
    local or_, ow = assert(core.fd.pipe())
    local argv = { H.wbl, H.top .. "/scripts/run.lua", "-i", "--cgroup-parent", parent, "--network", "none",
                   "--name", name, "--device", "/dev/kmsg:/dev/kmsg:w", "sh", "-c", "echo up; read x" }
    local pid = assert(core.proc.fork())
    if pid == 0 then
      pcall(function() ir:dup2(0); ow:dup2(1); core.proc.execve(H.wbl, argv) end)
      core.proc._exit(127)
    end
    ir:close()
    ow:close()
    local done = false
    finally(function()
      if not done then
        core.proc.kill(pid, "SIGKILL")
        core.proc.waitpid(pid)
        H.wbl_run({ H.top .. "/scripts/cleanup.lua" })
      end
      iw:close()
      or_:close()
    end)
    assert.is_truthy(or_:wait(20000), "the container did not start")
    assert.matches("up", or_:read())
    local cg = assert(cgroup.find(name, parent))
    local dir = cgroup.dir(cg, "devices")
    if v1_dir then
      local want = {}
      for _, w in ipairs(assert(devices.v1_writes(spec.default_device_rules()))) do
        if w[2] ~= "a" then want[#want + 1] = w[2] end
      end
      want[#want + 1] = "c 1:11 w"
      assert.equal(table.concat(want, "\n") .. "\n", fs.read_file(dir .. "/devices.list"))
      if cg.v2 then assert.equal(0, core.devcg.query(cg.v2)) end -- one mechanism
    else
      assert.is_nil(dir)
      assert.equal(1, core.devcg.query(cg.v2))
    end
    iw:write("\n")
    local _, how, st = core.proc.waitpid(pid)
    done = true
    assert.same({ "exited", 0 }, { how, st })
  end)
end)

-- The rule lists against the kernel, through each mechanism the host has:
-- a child in a fresh cgroup tries opens and mknods.
local mechanisms = {}
if layout.unified then
  mechanisms[#mechanisms + 1] = { name = "cgroup2 BPF", mount = layout.unified, apply = function(dir, rules)
    return core.devcg.attach(dir, rules)
  end }
end
if v1_dir then
  mechanisms[#mechanisms + 1] = { name = "v1 devices files", mount = v1_dir, apply = function(dir, rules)
    local writes, msg, en = devices.v1_writes(rules)
    if not writes then return nil, msg, en end
    for _, w in ipairs(writes) do
      local ok
      ok, msg, en = fs.write_file(dir .. "/" .. w[1], w[2], "")
      if not ok then return nil, msg, en end
    end
    return true
  end }
end

-- Run the probes in a child in a new cgroup under mount with rules
-- applied: "ok" or the errno's name, each.  A probe: { "open", path,
-- flags } or { "mknod", type, major, minor }.
local function try(m, rules, probes, dir, tmp)
  assert(m.apply(dir, rules))
  local r, w = assert(core.fd.pipe())
  local pid = assert(core.proc.fork())
  if pid == 0 then
    pcall(function()
      r:close()
      assert(fs.write_file(dir .. "/cgroup.procs", tostring(core.proc.getpid()), ""))
      local out = {}
      for i, p in ipairs(probes) do
        local ok, _, en
        if p[1] == "open" then
          ok, _, en = core.fd.open(p[2], p[3])
          if ok then ok:close() end
        else
          ok, _, en = fs.mknod(tmp .. "/n" .. i, p[2], p[3], p[4], "0600")
        end
        out[#out + 1] = ok and "ok" or require("wbl.errors").errno_name(en)
      end
      w:write(table.concat(out, " "))
    end)
    core.proc._exit(0)
  end
  w:close()
  local s = {}
  repeat
    local x = r:read()
    s[#s + 1] = x
  until x == nil or x == ""
  r:close()
  core.proc.waitpid(pid)
  return table.concat(s)
end

-- (busted keeps one finally per case: this cleans up itself, each call.)
local function probe(m, rules, probes)
  local dir = m.mount .. "/wbl-devspec-" .. util.random_hex(4)
  assert(fs.mkdir(dir, "0755"))
  local tmp = H.tmpdir()
  local ok, res = pcall(try, m, rules, probes, dir, tmp)
  assert(fs.rmdir(dir))
  util.rm_rf(tmp)
  if not ok then error(res, 0) end
  return res
end

local null_r, null_w, null_rw = { "open", "/dev/null", "rdonly" }, { "open", "/dev/null", "wronly" },
  { "open", "/dev/null", "rdwr" }
local zero_r, zero_w = { "open", "/dev/zero", "rdonly" }, { "open", "/dev/zero", "wronly" }
local function c(major, minor, access, allow)
  return { allow = allow ~= false, type = "c", major = major, minor = minor, access = access or "rwm" }
end
local deny_all = { allow = false, access = "rwm" }

for _, m in ipairs(mechanisms) do
  describe("device rule lists through " .. m.name .. " #priv", function()
    H.it_priv("decide by the last rule that matches", function()
      assert.equal("EPERM EPERM", probe(m, { deny_all, c(1, 3), c(1, 3, "rwm", false) }, { null_r, null_w }))
      assert.equal("ok ok EPERM", probe(m, { deny_all, c(1, 3, "rwm", false), c(1, 3) }, { null_r, null_w, zero_r }))
      -- a wildcard deny after it takes back what came before
      assert.equal("EPERM", probe(m, { deny_all, c(1, 3), c(nil, nil, "rwm", false) }, { null_r }))
      -- allow everything, then one device denied
      assert.equal("ok EPERM", probe(m, { { allow = true }, c(1, 5, "rwm", false) }, { null_rw, zero_r }))
    end)

    H.it_priv("decide each of r, w, m apart: all an access asks for must be allowed", function()
      assert.equal("ok EPERM EPERM", probe(m, { deny_all, c(1, 3), c(1, 3, "w", false) }, { null_r, null_w, null_rw }))
      assert.equal("ok EPERM EPERM", probe(m, { deny_all, c(1, 5, "r") }, { zero_r, zero_w, null_r }))
      assert.equal("ok ok EPERM", probe(m, { deny_all, c(1, nil, "r") }, { null_r, zero_r, null_w }))
      assert.equal("ok ok EPERM EPERM", probe(m, { deny_all, c(nil, nil, "m") },
        { { "mknod", "c", 1, 3 }, { "mknod", "c", 4000, 7 }, { "mknod", "b", 7, 0 }, null_r }))
    end)
  end)
end

-- A hybrid host: a list v1 cannot hold goes to the BPF program instead.
describe("wbl.devices.apply #priv", function()
  local unified = layout.unified
  local pending_why = not (v1_dir and unified) and "needs a hybrid host (v1 devices and cgroup2)"
  local it_hybrid = pending_why and function(n) pending(n .. " (" .. pending_why .. ")") end or H.it_priv
  it_hybrid("puts a list the v1 files cannot hold into a BPF program on the cgroup2 directory", function()
    local id = "wbl-devspec-" .. util.random_hex(4)
    local d1, d2 = v1_dir .. "/" .. id, unified .. "/" .. id
    assert(fs.mkdir(d1, "0755"))
    assert(fs.mkdir(d2, "0755"))
    finally(function() fs.rmdir(d1); fs.rmdir(d2) end)
    local rules = { deny_all, c(nil, nil, "rw"), c(1, 3, "w", false) }
    assert.is_nil(devices.v1_writes(rules))
    local ctn = { spec = { linux = { resources = { devices = rules } } },
                  cgroup = { kind = "hybrid", v2 = d2, dirs = { { path = d1, controllers = { "devices" } },
                                                               { path = d2, v2 = true, controllers = {} } } } }
    assert.is_true(devices.apply(ctn))
    assert.equal(1, core.devcg.query(d2))
    assert.equal("a *:* rwm\n", fs.read_file(d1 .. "/devices.list")) -- untouched: the parent's
    assert.equal(E.EINVAL, select(3, devices.apply { spec = { linux = { resources = { devices = { { allow = 1 } } } } },
                                                       cgroup = ctn.cgroup }))
  end)
end)
