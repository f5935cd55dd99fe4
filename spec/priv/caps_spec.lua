-- Capabilities in a container, as docker confines them: the sets the
-- kernel shows in /proc/self/status, and what it then refuses.
local core = require "wbl.core"
local spec = require "wbl.spec"
local C = core.caps

-- The mask /proc shows for a list of capability names.
local function mask(names)
  local m = 0
  for _, n in ipairs(names) do
    for i, name in ipairs(spec.all_capabilities) do
      if name == n then m = m | (1 << (i - 1)) end
    end
  end
  return m
end

-- The capability lines of /proc/self/status inside a container run with
-- the options given: { CapEff = number, ... }.
local function caps_of(...)
  local args = { ... }
  args[#args + 1] = "cat"
  args[#args + 1] = "/proc/self/status"
  local out, err, code = H.run(args)
  assert.equal(0, code, err)
  local t = {}
  for k, v in out:gmatch("(Cap%a+):%s*(%x+)") do t[k] = tonumber(v, 16) end
  assert.is_not_nil(t.CapBnd, out)
  return t
end

local function hex(t)
  local out = {}
  for k, v in pairs(t) do out[k] = ("%016x"):format(v) end
  return out
end

-- All the kernel has, as far as this process (wbl's parent) still has them.
local function own_bounding()
  local s = assert(core.fs.read_file("/proc/self/status"))
  return tonumber(s:match("CapBnd:%s*(%x+)"), 16)
end

local default = mask(spec.default_capabilities)

-- Whether -u works yet (the user option is another piece of work).
local user_works = H.root and (H.run { "-u", "1000", "id", "-u" }) == "1000\n"

describe("capabilities in a container #priv", function()
  local sh = function(...) return H.run { ... } end

  H.it_priv("by default: docker's 14 in effective, permitted and bounding; none inheritable or ambient", function()
    assert.equal(0xa80425fb, default) -- docker's CapEff, as `docker run` shows it
    assert.same(hex { CapEff = default, CapPrm = default, CapBnd = default, CapInh = 0, CapAmb = 0 },
      hex(caps_of()))
  end)

  H.it_priv("--cap-drop CHOWN: chown fails with EPERM; by default it works", function()
    local cmd = "touch /tmp/f && chown 1:1 /tmp/f && stat -c %u:%g /tmp/f"
    local out, err, code = sh("sh", "-c", cmd)
    assert.equal(0, code, err)
    assert.equal("1:1\n", out)
    out, err, code = sh("--cap-drop", "CHOWN", "sh", "-c", cmd)
    assert.equal(1, code, out)
    assert.matches("Operation not permitted", err)
    assert.equal(default & ~mask { "CAP_CHOWN" }, caps_of("--cap-drop", "chown").CapEff)
  end)

  H.it_priv("--cap-add SYS_ADMIN: mount and unshare work; by default both fail with EPERM", function()
    -- busybox mount words EPERM (and EACCES) as "permission denied"; its
    -- unshare prints the kernel's strerror.
    for _, fstype in ipairs { "proc", "sysfs", "tmpfs" } do
      local _, err, code = sh("sh", "-c", "mkdir /m && mount -t " .. fstype .. " none /m")
      assert.not_equal(0, code)
      assert.matches("permission denied", err)
    end
    local _, err, code = sh("unshare", "-m", "true")
    assert.not_equal(0, code)
    assert.matches("Operation not permitted", err)
    local out
    out, err, code = sh("--cap-add", "SYS_ADMIN", "sh", "-c",
      "mkdir /m && mount -t tmpfs none /m && grep ' /m ' /proc/mounts && unshare -m true && echo ok")
    assert.equal(0, code, err)
    assert.matches("^none /m tmpfs .*\nok\n$", out)
    assert.equal(default | mask { "CAP_SYS_ADMIN" }, caps_of("--cap-add", "SYS_ADMIN").CapBnd)
  end)

  H.it_priv("--cap-drop ALL: no capability in any set, and chown fails", function()
    assert.same(hex { CapEff = 0, CapPrm = 0, CapBnd = 0, CapInh = 0, CapAmb = 0 },
      hex(caps_of("--cap-drop", "ALL")))
    local _, err, code = sh("--cap-drop", "ALL", "sh", "-c", "touch /tmp/f && chown 1 /tmp/f")
    assert.equal(1, code)
    assert.matches("Operation not permitted", err)
  end)

  H.it_priv("--privileged: every capability the kernel has (that wbl has)", function()
    local all = (1 << (C.last_cap() + 1)) - 1
    local want = all & own_bounding()
    assert.same(hex { CapEff = want, CapPrm = want, CapBnd = want, CapInh = 0, CapAmb = 0 },
      hex(caps_of("--privileged")))
    -- --cap-add ALL is the same set; --cap-drop after it takes some away.
    assert.equal(want, caps_of("--cap-add", "ALL").CapBnd)
    assert.equal(want & ~mask { "CAP_NET_ADMIN" },
      caps_of("--privileged", "--cap-drop", "NET_ADMIN").CapEff)
  end)

  H.it_priv("wbl without a capability: --privileged leaves it out, --cap-add of it fails with 125", function()
    -- setpriv (util-linux) drops CAP_SYS_NICE from wbl's bounding set.
    local wbl = "setpriv --bounding-set -sys_nice " .. H.q(H.wbl) .. " " .. H.q(H.top .. "/scripts/run.lua")
    local out, err, code = H.sh(wbl .. " --privileged grep CapBnd /proc/self/status")
    assert.equal(0, code, err)
    local bnd = tonumber(out:match("CapBnd:%s*(%x+)"), 16)
    assert.equal(0, bnd & mask { "CAP_SYS_NICE" })
    assert.equal(bnd, bnd & own_bounding())
    out, err, code = H.sh(wbl .. " --cap-add SYS_NICE true")
    assert.equal("", out)
    assert.equal(125, code)
    assert.matches("capabilities", err)
    assert.matches("Operation not permitted", err)
    assert.matches("wbl itself lacks CAP_SYS_NICE", err)
  end)

  local it_user = user_works and H.it_priv or function(name) pending(name .. " (-u does not work yet)") end
  it_user("-u 1000: no capabilities but the bounding set; chown of its own file fails", function()
    assert.same(hex { CapEff = 0, CapPrm = 0, CapBnd = default, CapInh = 0, CapAmb = 0 },
      hex(caps_of("-u", "1000")))
    local _, err, code = sh("-u", "1000", "sh", "-c", "touch /tmp/f && chown 0 /tmp/f")
    assert.equal(1, code)
    assert.matches("Operation not permitted", err)
  end)
end)
