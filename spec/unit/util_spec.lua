local util = require "wbl.util"
local wbl = require "wbl"

describe("wbl.util #unit", function()
  it("serialises and loads back nested tables with odd strings", function()
    local t = { id = "a\"b\n", n = 42, list = { "x", "y z", "" }, nested = { ok = true, ["k-1"] = 1 } }
    assert.same(t, util.unserialise(util.serialise(t)))
  end)

  it("writes the same data the same way: lists in order, keys sorted, strings as %q", function()
    local odd = "q\"b\\s\n\r\0\0019\127\255"
    local t = { z = 1, a = { "x", odd }, [2] = true, [1] = -7, [0.5] = "h", ["k-1"] = 1.5, ["end"] = {},
                holes = { [1] = 1, [3] = 3 } }
    assert.equal(table.concat({
      "return {",
      "  [0.5] = \"h\",",
      "  [1] = -7,",
      "  [2] = true,",
      "  a = {",
      "    \"x\",",
      "    " .. ("%q"):format(odd) .. ",",
      "  },",
      "  [\"end\"] = {",
      "  },",
      "  holes = {",
      "    [1] = 1,",
      "    [3] = 3,",
      "  },",
      "  [\"k-1\"] = 1.5,",
      "  z = 1,",
      "}", "" }, "\n"), util.serialise(t))
    assert.same(t, util.unserialise(util.serialise(t)))
    -- what cannot be written is refused, cycles too
    assert.has_error(function() util.serialise({ f = print }) end, "cannot serialise a function")
    local cyc = {}
    cyc.self = cyc
    assert.has_error(function() util.serialise(cyc) end)
  end)

  it("writes numbers and booleans as tostring does, and many keys in order", function()
    local t = { math.maxinteger, math.mininteger, 0, -1, 1.0, -0.0, 2^53, 1e100, 0.1, -2.5e-7, math.huge,
                -math.huge, true, false }
    local want = { "return {" }
    for _, v in ipairs(t) do want[#want + 1] = "  " .. tostring(v) .. "," end
    want[#want + 1] = "}"
    want[#want + 1] = ""
    assert.equal(table.concat(want, "\n"), util.serialise(t))
    local many, names = {}, {}
    for i = 1, 500 do
      local k = ("k%03d"):format(i)
      many[k], names[#names + 1] = i, k
    end
    table.sort(names)
    want = { "return {" }
    for _, k in ipairs(names) do want[#want + 1] = ("  %s = %d,"):format(k, many[k]) end
    want[#want + 1] = "}"
    want[#want + 1] = ""
    assert.equal(table.concat(want, "\n"), util.serialise(many))
  end)

  it("replace_file: the new file whole, of the mode asked, and no temporary file left, on failure too", function()
    local fs = require("wbl.core").fs
    local dir = H.tmpdir()
    H.finally(function() util.rm_rf(dir) end)
    local f = dir .. "/state.lua"
    assert(util.replace_file(f, "one"))
    assert(util.replace_file(f, "two", "0644"))
    assert.equal("two", fs.read_file(f))
    assert.equal(tonumber("644", 8), fs.stat(f).mode)
    assert.same({ "state.lua" }, fs.readdir(dir))
    assert(fs.mkdir(dir .. "/d", "0755")) -- a directory cannot be replaced by a file
    local ok, msg, en = util.replace_file(dir .. "/d", "x")
    assert.is_nil(ok)
    assert.matches("rename", msg)
    assert.equal(require("wbl.core").errno.EISDIR, en)
    local names = fs.readdir(dir)
    table.sort(names)
    assert.same({ "d", "state.lua" }, names)
    assert.is_nil(util.replace_file(dir .. "/missing/x", "x")) -- no directory: nothing made
  end)

  it("loads state in an empty environment", function()
    local v, err = util.unserialise("return os.exit(1)")
    assert.is_nil(v)
    assert.matches("os", err)
  end)

  it("splits paths", function()
    assert.equal("/a/b", util.dirname("/a/b/c"))
    assert.equal("/", util.dirname("/a"))
    assert.equal(".", util.dirname("a"))
    assert.equal("/r/etc", util.join("/r", "/etc"))
    assert.equal("/r/etc", util.join("/r/", "etc"))
  end)

  it("makes random ids of the asked length", function()
    local a, b = util.random_hex(6), util.random_hex(6)
    assert.equal(12, #a)
    assert.matches("^%x+$", a)
    assert.not_equal(a, b)
  end)

  it("rm_rf removes a tree and does not follow symlinks", function()
    local d = os.tmpname()
    os.remove(d)
    assert(wbl.core.fs.mkdir_p(d .. "/a/b"))
    local keep = os.tmpname()
    assert(wbl.core.fs.symlink(keep, d .. "/a/link"))
    assert(wbl.core.fs.write_file(d .. "/a/b/f", "x"))
    assert.is_true(util.rm_rf(d))
    assert.is_false(util.exists(d))
    assert.is_true(util.exists(keep))
    os.remove(keep)
    -- a file, an empty directory, nothing at all
    local f = os.tmpname()
    assert.is_true(util.rm_rf(f))
    assert.is_false(util.exists(f))
    assert(wbl.core.fs.mkdir(f))
    assert.is_true(util.rm_rf(f))
    assert.is_false(util.exists(f))
    assert.is_true(util.rm_rf(f))
  end)

  H.it_priv("rm_rf stops at a mount point: EBUSY, and nothing in the mount is touched", function()
    local d = os.tmpname()
    os.remove(d)
    assert(wbl.core.fs.mkdir_p(d .. "/m"))
    assert(wbl.core.mount.mount("tmpfs", d .. "/m", "tmpfs"))
    H.finally(function() wbl.core.mount.umount2(d .. "/m", "detach"); util.rm_rf(d) end)
    assert(wbl.core.fs.write_file(d .. "/m/inside", "x"))
    local ok, msg, en = util.rm_rf(d)
    assert.is_nil(ok)
    assert.equal(wbl.core.errno.EBUSY, en, msg)
    assert.is_true(util.exists(d .. "/m/inside"))
  end)
end)

describe("wbl errors #unit", function()
  it("names the step, the message and the errno", function()
    local ok, e = pcall(wbl.step, "mount /proc", nil, "mount proc on /x: Permission denied", wbl.core.errno.EPERM)
    assert.is_false(ok)
    assert.is_true(wbl.is_error(e))
    assert.equal(125, e.code)
    assert.equal("mount /proc: mount proc on /x: Permission denied (EPERM)", tostring(e))
  end)

  it("passes results through on success", function()
    assert.same({ 1, 2 }, { wbl.step("x", 1, 2) })
  end)
end)
