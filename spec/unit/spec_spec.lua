-- The container spec (wbl.spec) and the docker-style front end that fills
-- it (wbl.docker): OCI-shaped fields, defaults, validation; no root needed.
local spec = require "wbl.spec"
local docker = require "wbl.docker"
local args = require "wbl.args"

local function from(...)
  local o, cmd = args.parse(docker.options, { ... })
  assert(o, cmd)
  return docker.spec(o, cmd, "c0ffee")
end

describe("wbl.spec #unit", function()
  it("has the OCI config's shape and wbl's defaults", function()
    local s = spec.new()
    assert.equal(spec.oci_version, s.ociVersion)
    assert.same({ uid = 0, gid = 0, additionalGids = {} }, s.process.user)
    assert.equal("/", s.process.cwd)
    assert.equal(spec.default_path, spec.getenv(s.process.env, "PATH"))
    local dests = {}
    for _, m in ipairs(s.mounts) do dests[#dests + 1] = m.destination end
    -- the cgroups last: the container waits for the host's go there (init.lua)
    assert.same({ "/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/tmp", "/sys/fs/cgroup" }, dests)
    assert.equal(6, #s.linux.devices)
    assert.equal("mnt,uts,net", spec.clone_flags({ linux = { namespaces = {
      { type = "mount" }, { type = "uts" }, { type = "network" }, { type = "cgroup" } } } }, false))
  end)

  it("refuses what the library cannot run, naming the field", function()
    local s = spec.new()
    s.root.path = "/r"
    local _, msg = spec.check(s)
    assert.matches("^process.args: no command", msg)
    s.process.args = { "sh" }
    assert.equal(s, spec.check(s))
    for field, change in pairs {
      ["process.cwd"] = function(t) t.process.cwd = "rel" end,
      ["process.env"] = function(t) t.process.env = { "NOEQUALS" } end,
      ["root.path"] = function(t) t.root.path = nil end,
      ["mounts%[8%].type"] = function(t) t.mounts[8] = { destination = "/x", type = "nfs" } end,
      ["linux.namespaces%[1%]"] = function(t) t.linux.namespaces[1] = { type = "nope" } end,
      ["linux.resources.memory.swap"] = function(t) t.linux.resources.memory = { limit = 10, swap = 5 } end,
    } do
      local t = spec.new()
      t.root.path, t.process.args = "/r", { "sh" }
      change(t)
      local ok, m = spec.check(t)
      assert.is_nil(ok, field)
      assert.matches("^" .. field, m)
    end
  end)
end)

describe("wbl.docker #unit", function()
  it("fills the spec from run.lua's options: process, root, mounts, resources", function()
    local s = assert(from("--hostname", "box", "-e", "A=1", "-w", "/srv", "--read-only", "--rm",
      "-v", "/h:/c:ro", "--tmpfs", "/t:size=1m", "-m", "64m", "--cpus", "0.5", "--pids-limit", "9",
      "--cgroup-parent", "ci", "sh", "-c", "true"))
    assert.same({ "sh", "-c", "true" }, s.process.args)
    assert.equal("/srv", s.process.cwd)
    assert.equal("1", spec.getenv(s.process.env, "A"))
    assert.equal("box", spec.getenv(s.process.env, "HOSTNAME"))
    assert.equal("box", s.hostname)
    assert.is_true(s.root.readonly)
    assert.is_true(s.wbl.rm)
    local n = #s.mounts
    assert.same({ destination = "/c", type = "bind", source = "/h", options = { "rbind", "ro" } }, s.mounts[n - 1])
    assert.same({ destination = "/t", type = "tmpfs", source = "tmpfs", options = { "nosuid", "nodev", "size=1m" } },
      s.mounts[n])
    assert.same({ "/h" }, s.wbl.volume_sources)
    assert.same({ limit = 64 * 2 ^ 20, swap = 128 * 2 ^ 20 }, s.linux.resources.memory)
    assert.same({ quota = 50000, period = 100000 }, s.linux.resources.cpu)
    assert.same({ limit = 9 }, s.linux.resources.pids)
    assert.equal("ci/c0ffee", s.linux.cgroupsPath)
    assert.equal("bridge", s.wbl.network)
  end)

  it("--network host keeps the host's network namespace; -p needs a bridge", function()
    local s = assert(from("--network", "host", "true"))
    assert.is_false(spec.has_namespace(s, "network"))
    assert.is_true(spec.has_namespace(assert(from("true")), "network"))
    local none, msg = from("--network", "none", "-p", "80:80", "true")
    assert.is_nil(none)
    assert.matches("-p needs a bridge network", msg, 1, true)
    none, msg = from("--image", "x", "--rootfs", "/r", "true")
    assert.is_nil(none)
    assert.matches("exclude each other", msg)
  end)
end)
