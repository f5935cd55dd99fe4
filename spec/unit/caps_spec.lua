-- wbl.core.caps without privilege: the names, what raises, what is read.
local core = require "wbl.core"
local spec = require "wbl.spec"
local C, E = core.caps, core.errno

-- A /proc/PID/status capability line as a number.
local function status(field, pid)
  local s = assert(core.fs.read_file("/proc/" .. (pid or "self") .. "/status"))
  return tonumber(s:match(field .. ":%s*(%x+)"), 16)
end

-- A list of names (or numbers) as the mask /proc shows.
local function mask(list)
  local m = 0
  for _, n in ipairs(list) do
    if type(n) == "number" then
      m = m | (1 << n)
    else
      for i, name in ipairs(C.names) do if name == n then m = m | (1 << (i - 1)) end end
    end
  end
  return m
end

describe("wbl.core.caps #unit", function()
  it("names every capability in number order, as wbl.spec does", function()
    assert.same(spec.all_capabilities, C.names)
    assert.equal("CAP_CHOWN", C.names[1])
    assert.equal("CAP_SYS_ADMIN", C.names[21 + 1])
  end)

  it("last_cap is the kernel's cap_last_cap", function()
    local want = tonumber(assert(core.fs.read_file("/proc/sys/kernel/cap_last_cap")):match("%d+"))
    assert.equal(want, C.last_cap())
  end)

  it("unknown capability names raise, in every binding", function()
    for _, f in ipairs { "bounding_drop", "bounding_has", "ambient_raise", "ambient_has" } do
      assert.has_error(function() C[f]("CAP_NO_SUCH") end)
      assert.has_error(function() C[f](64) end)
      assert.has_error(function() C[f]() end)
    end
    assert.has_error(function() C.set { effective = { "CAP_NO_SUCH" } } end)
    assert.has_error(function() C.set { permitted = "CAP_CHOWN" } end)
    assert.has_error(function() C.set() end)
    assert.has_error(function() C.securebits { "no_such_bit" } end)
    assert.has_error(function() C.keep_caps("yes") end)
  end)

  it("takes a name with or without CAP_, in any case", function()
    local has = C.bounding_has("CAP_CHOWN")
    assert.equal(has, C.bounding_has("chown"))
    assert.equal(has, C.bounding_has("Cap_Chown"))
    assert.equal(has, C.bounding_has(0))
  end)

  it("get returns the sets /proc/PID/status shows", function()
    for _, pid in ipairs { "self", 1 } do
      local got = assert(C.get(pid == "self" and 0 or pid))
      assert.equal(status("CapEff", pid), mask(got.effective))
      assert.equal(status("CapPrm", pid), mask(got.permitted))
      assert.equal(status("CapInh", pid), mask(got.inheritable))
    end
  end)

  it("get of no such process fails with ESRCH", function()
    local ok, msg, en = C.get(2 ^ 22 + 1)
    assert.is_nil(ok)
    assert.matches("capget", msg)
    assert.equal(E.ESRCH, en)
  end)

  it("bounding_has says what CapBnd says; a capability the kernel lacks is not there", function()
    local bnd = status("CapBnd")
    for i, n in ipairs(C.names) do
      if i - 1 <= C.last_cap() then assert.equal(bnd & (1 << (i - 1)) ~= 0, C.bounding_has(n)) end
    end
    if C.last_cap() < 63 then
      assert.is_false(C.bounding_has(C.last_cap() + 1))
      -- Nothing to drop: no error, and no privilege needed.
      assert.is_true(C.bounding_drop(C.last_cap() + 1))
    end
  end)

  it("reads keep_caps, the securebits and the ambient set", function()
    assert.equal(type(C.keep_caps()), "boolean")
    assert.same("table", type(C.securebits()))
    assert.equal(status("CapAmb") & 1 ~= 0, C.ambient_has("CAP_CHOWN"))
  end)
end)

describe("wbl.caps #unit", function()
  local caps = require "wbl.caps"

  it("bounding lists the bounding set by name", function()
    assert.equal(status("CapBnd") & ((1 << (C.last_cap() + 1)) - 1) & mask(C.names),
      mask(caps.bounding()))
  end)

  it("refuses an unknown name in a spec's sets before touching anything", function()
    local ok, msg, en = caps.drop_bounding { bounding = { "CAP_NO_SUCH" } }
    assert.is_nil(ok)
    assert.matches("unknown capability CAP_NO_SUCH", msg)
    assert.equal(E.EINVAL, en)
    ok, msg, en = caps.apply({ permitted = { "NO_SUCH" } }, { uid = 0 })
    assert.is_nil(ok)
    assert.matches("unknown capability NO_SUCH", msg)
    assert.equal(E.EINVAL, en)
  end)

  it("leaves the sets alone when the spec has none", function()
    assert.is_true(caps.drop_bounding(nil))
    assert.is_true(caps.apply(nil, { uid = 1000 }))
  end)
end)
