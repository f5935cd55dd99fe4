-- wbl.cgroup and its options, without root: the layout read from
-- mountinfo, docker's units and conversions, values refused at parse time.
local cgroup = require "wbl.cgroup"
local args = require "wbl.args"
local docker = require "wbl.docker"

local function parse(...)
  return args.parse(docker.options, { ... })
end

-- run.lua's options -> the spec -> the limits (or nil, message).
local function limits(...)
  local o, cmd = parse(...)
  assert(o, cmd)
  local s, msg = docker.spec(o, cmd, "x")
  if not s then return nil, msg end
  return cgroup.limits(s)
end

describe("wbl.cgroup #unit", function()
  describe("layout from mountinfo", function()
    local hybrid = table.concat({
      "30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755",
      "31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
      "32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
      "33 30 0:29 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,name=systemd",
      "34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct",
      "35 30 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw",
      "36 35 0:31 /sub /mnt/sub rw - cgroup2 cgroup2 rw",
    }, "\n")

    it("finds v1 controllers and the unified hierarchy of a hybrid host", function()
      local l = cgroup.parse_mountinfo(hybrid)
      assert.equal("/sys/fs/cgroup/unified", l.unified)
      assert.equal("/sys/fs/cgroup/cpu", l.v1.cpu)
      assert.equal("/sys/fs/cgroup/cpu,cpuacct", l.v1.cpuacct)
      assert.equal("/sys/fs/cgroup/memory", l.v1.memory)
      assert.is_nil(l.v1["name=systemd"])
      assert.is_nil(l.v1.rw)
      -- what a new mount of each hierarchy names (wbl.cgroup.mount_ns)
      assert.equal("cpu,cpuacct", l.v1_options["/sys/fs/cgroup/cpu,cpuacct"])
      assert.equal("memory", l.v1_options["/sys/fs/cgroup/memory"])
      assert.equal("name=systemd", l.v1_options["/sys/fs/cgroup/systemd"])
      assert.equal("cpu", cgroup.parse_mountinfo(
        "31 30 0:27 / /c rw shared:9 master:2 - cgroup cgroup rw,cpu,release_agent=/x\n").v1_options["/c"])
    end)

    it("finds a pure v2 host, and ignores binds of a subtree", function()
      local l = cgroup.parse_mountinfo(
        "40 1 0:35 /sub /x rw - cgroup2 cgroup2 rw\n" ..
        "41 1 0:35 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n")
      assert.equal("/sys/fs/cgroup", l.unified)
      assert.same({}, l.v1)
    end)

    it("unescapes mount points", function()
      local l = cgroup.parse_mountinfo("40 1 0:35 / /my\\040cg rw - cgroup2 none rw\n")
      assert.equal("/my cg", l.unified)
    end)
  end)

  describe("limits", function()
    it("converts cpu shares to cpu.weight as crun does", function()
      assert.equal(1, cgroup.shares_to_weight(2))
      assert.equal(39, cgroup.shares_to_weight(1024))
      assert.equal(10000, cgroup.shares_to_weight(262144))
    end)

    it("turns --cpus into a quota of the 100 ms period", function()
      local lim = assert(limits("--cpus", "1.5", "true"))
      assert.equal(150000, lim.cpu_quota)
      assert.equal(100000, lim.cpu_period)
      assert.equal(2000, limits("--cpus", ".02", "x").cpu_quota)
    end)

    it("gives as much swap as memory by default; -1 is unlimited", function()
      local lim = assert(limits("-m", "64m", "x"))
      assert.equal(64 * 2 ^ 20, lim.memory)
      assert.equal(128 * 2 ^ 20, lim.swap)
      assert.is_true(lim.swap_optional) -- docker's, not asked for
      lim = assert(limits("-m", "64m", "--memory-swap", "-1", "x"))
      assert.equal(-1, lim.swap)
      assert.is_nil(lim.swap_optional)
    end)

    it("refuses --memory-swap without --memory, or below it", function()
      local _, msg = limits("--memory-swap", "1g", "x")
      assert.matches("%-%-memory%-swap needs %-%-memory", msg)
      _, msg = limits("-m", "1g", "--memory-swap", "512m", "x")
      assert.matches("%-%-memory%-swap .* at least", msg)
    end)

    it("maps --pids-limit 0 and -1 to max; the default parent is wbl", function()
      assert.equal("max", limits("--pids-limit", "0", "x").pids)
      assert.equal("max", limits("--pids-limit", "-1", "x").pids)
      assert.equal(7, limits("--pids-limit", "7", "x").pids)
      assert.equal("wbl", limits("x").parent)
      assert.equal("a/b", limits("--cgroup-parent", "/a/b/", "x").parent)
      assert.equal("x", select(2, limits("x"))) -- the id, from linux.cgroupsPath
    end)
  end)

  describe("options", function()
    it("reads sizes in b, k, m, g, either case, with an optional b", function()
      local size = args.check.size
      assert.equal(512, size("512"))
      assert.equal(512, size("512b"))
      assert.equal(8 * 1024, size("8k"))
      assert.equal(8 * 1024, size("8KB"))
      assert.equal(64 * 2 ^ 20, size("64M"))
      assert.equal(64 * 2 ^ 20, size("64mb"))
      assert.equal(3 * 2 ^ 29, size("1.5g"))
      assert.equal(2 ^ 30, size("1G"))
      for _, bad in ipairs { "", "m", "1t", "-1", "1bb", "1 m", "0x10" } do
        assert.is_nil(size(bad), bad)
      end
    end)

    it("parses every option with the docker name", function()
      local o = assert(parse("-m", "1g", "--memory-swap", "2g", "--cpus", "0.5", "--cpu-shares", "512",
        "--cpuset-cpus", "0", "--cpuset-mems", "0", "--pids-limit", "100", "--cgroup-parent", "ci", "sh"))
      assert.equal(2 ^ 30, o.memory)
      assert.equal(2 ^ 31, o.memory_swap)
      assert.equal(0.5, o.cpus)
      assert.equal(512, o.cpu_shares)
      assert.equal("0", o.cpuset_cpus)
      assert.equal("0", o.cpuset_mems)
      assert.equal(100, o.pids_limit)
      assert.equal("ci", o.cgroup_parent)
      assert.equal(2 ^ 30, assert(parse("--memory=1g", "x")).memory)
      assert.equal(2 ^ 30, assert(parse("-m1G", "x")).memory)
    end)

    it("refuses bad values, naming the option", function()
      for _, case in ipairs {
        { "-m", "lots", "--memory" }, { "-m", "5m", "--memory" }, { "--memory-swap", "x", "--memory-swap" },
        { "--cpus", "0", "--cpus" }, { "--cpus", "-1", "--cpus" }, { "--cpus", "1e3", "--cpus" },
        { "--cpu-shares", "1", "--cpu-shares" }, { "--cpu-shares", "262145", "--cpu-shares" },
        { "--cpuset-cpus", "0-", "--cpuset-cpus" }, { "--cpuset-cpus", "99999", "--cpuset-cpus" },
        { "--cpuset-mems", "a", "--cpuset-mems" }, { "--pids-limit", "1.5", "--pids-limit" },
        { "--cgroup-parent", "a/../b", "--cgroup-parent" }, { "--cgroup-parent", "/", "--cgroup-parent" },
      } do
        local o, msg = parse(case[1], case[2], "x")
        assert.is_nil(o, case[1] .. " " .. case[2])
        assert.truthy(msg:find(case[3], 1, true), msg)
      end
    end)
  end)
end)
