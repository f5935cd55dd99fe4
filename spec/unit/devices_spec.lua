-- wbl.devices without root: --device and --privileged found on the host,
-- the rule checks, and the cgroup v1 lines a rule list becomes (what the
-- kernel makes of them: spec/priv/devices_spec.lua).
local devices = require "wbl.devices"
local spec = require "wbl.spec"
local E = require("wbl.core").errno

local function lines(rules)
  local w, msg, en = devices.v1_writes(rules)
  if not w then return nil, msg, en end
  local out = {}
  for _, x in ipairs(w) do out[#out + 1] = x[1]:gsub("^devices%.", "") .. " " .. x[2] end
  return out
end

local function c(major, minor, access, allow)
  return { allow = allow ~= false, type = "c", major = major, minor = minor, access = access or "rwm" }
end

describe("wbl.devices #unit", function()
  it("turns docker's default rules into a deny of all and one line each", function()
    assert.same({ "deny a", "allow c 1:3 rwm", "allow c 1:5 rwm", "allow c 1:7 rwm", "allow c 1:8 rwm",
      "allow c 1:9 rwm", "allow c 5:0 rwm", "allow c 5:1 rwm", "allow c 5:2 rwm", "allow c 136:* rwm",
      "allow c *:* m", "allow b *:* m" }, lines(spec.default_device_rules()))
  end)

  it("denies everything first unless the list starts with a rule for every device", function()
    assert.same({ "allow a" }, lines { { allow = true, access = "rwm" } })
    assert.same({ "deny a" }, lines {})
    assert.same({ "deny a", "allow c 1:3 r" }, lines { c(1, 3, "r") })
    -- "a" with numbers or less than rwm is two lines, c and b
    assert.same({ "deny a", "allow c *:* m", "allow b *:* m" }, lines { { allow = true, type = "a", access = "m" } })
    assert.same({ "deny a", "allow c 7:* r" }, lines { c(7, -1, "r") }) -- -1: any, as nil
  end)

  it("takes access back from exceptions inside a rule that goes with the default", function()
    -- last match wins: the later deny takes w from c 1:3 and all of c 1:5
    assert.same({ "deny a", "allow c 1:3 rwm", "allow c 1:5 r", "deny c 1:3 w", "deny c 1:5 r" },
      lines { c(1, 3), c(1, 5, "r"), { allow = false, type = "c", major = 1, access = "w" },
              { allow = false, type = "c", major = 1, minor = 5, access = "rw" } })
    -- an allow-all default: deny lines are the exceptions, allow lines take them back
    assert.same({ "allow a", "deny b 8:0 rw", "allow b 8:0 r" },
      lines { { allow = true }, { allow = false, type = "b", major = 8, minor = 0, access = "rw" },
              { allow = true, type = "b", major = 8, access = "r" } })
  end)

  it("refuses what v1 cannot hold: part of a wildcard exception taken back", function()
    local w, msg, en = lines { c(nil, nil, "rw"), c(1, 3, "w", false) }
    assert.is_nil(w)
    assert.equal(E.ENOTSUP, en)
    assert.matches("linux.resources.devices%[2%] %(deny c 1:3 w%): cgroup v1 cannot take it out of \"c %*:%* rw\"", msg)
    -- no common access: nothing to take, fine
    assert.same({ "deny a", "allow c *:* r" }, lines { c(nil, nil, "r"), c(1, 3, "w", false) })
  end)

  it("checks rules, naming the one at fault", function()
    assert.is_true(devices.check_rules(spec.default_device_rules()))
    for _, bad in ipairs {
      { { allow = "yes" }, "allow must be true or false" },
      { { allow = true, type = "x" }, "type must be a, c or b" },
      { { allow = true, major = 1.5 }, "major must be a number" },
      { { allow = true, minor = -2 }, "minor must be a number" },
      { { allow = true, access = "rx" }, "access must be letters of rwm" },
      { { allow = true, access = "" }, "access must be letters of rwm" },
    } do
      local ok, msg, en = devices.check_rules { { allow = true }, bad[1] }
      assert.is_nil(ok)
      assert.equal(E.EINVAL, en)
      assert.equal("linux.resources.devices[2]: " .. bad[2], msg:sub(1, 28 + #bad[2]))
    end
  end)

  it("adds a --device as a node at its container path and a rule with its access", function()
    local s = spec.new()
    s.wbl.devices = { { host = "/dev/null", path = "/dev/sub/n", access = "r" } }
    assert.equal(s, devices.resolve(s))
    local d = s.linux.devices[#s.linux.devices]
    assert.same({ path = "/dev/sub/n", type = "c", major = 1, minor = 3, host = "/dev/null" },
      { path = d.path, type = d.type, major = d.major, minor = d.minor, host = d.host })
    local rules = s.linux.resources.devices
    assert.same({ allow = true, type = "c", major = 1, minor = 3, access = "r" }, rules[#rules])
    -- twice: the same node and rule, not two
    local n, m = #s.linux.devices, #rules
    devices.resolve(s)
    assert.equal(n, #s.linux.devices)
    assert.equal(m, #rules)
  end)

  it("refuses a --device that is no device node, naming option and path", function()
    local s = spec.new()
    s.wbl.devices = { { host = "/etc/passwd", path = "/dev/x", access = "rwm" } }
    local ok, msg, en = devices.resolve(s)
    assert.is_nil(ok)
    assert.equal("--device /etc/passwd: not a device node (a file)", msg)
    assert.equal(E.ENODEV, en)
    s.wbl.devices = { { host = "/dev/no-such-device", path = "/dev/x", access = "rwm" } }
    ok, msg, en = devices.resolve(s)
    assert.is_nil(ok)
    assert.matches("^%-%-device /dev/no%-such%-device: ", msg)
    assert.equal(E.ENOENT, en)
  end)

  it("--privileged: the host's device nodes directly under /dev, not console or ptmx", function()
    local s = spec.new()
    s.wbl.privileged = true
    devices.resolve(s)
    local paths = {}
    for _, d in ipairs(s.linux.devices) do
      assert.is_nil(paths[d.path], "twice: " .. d.path)
      paths[d.path] = d
      assert.matches("^/dev/[^/]+$", d.path)
      assert.is_true(d.type == "c" or d.type == "b")
    end
    assert.truthy(paths["/dev/kmsg"])
    assert.is_nil(paths["/dev/console"])
    assert.is_nil(paths["/dev/ptmx"])
  end)
end)
