-- wbl.layer.remove: a container's write layer goes whole, whatever the
-- container wrote into it; nothing outside it is touched.
local core = require "wbl.core"
local util = require "wbl.util"
local fs = core.fs

describe("wbl.layer.remove #unit", function()
  local layer = require "wbl.layer"
  local top
  before_each(function() top = H.tmpdir() end)
  after_each(function() util.rm_rf(top) end)

  -- A layer as wbl.layer.create makes it, and as overlayfs leaves it.
  local function make(name)
    local dir = top .. "/" .. name
    for _, d in ipairs { "", "/upper", "/work", "/work/work", "/root" } do assert(fs.mkdir(dir .. d, "0755")) end
    assert(fs.write_file(dir .. "/layer.lua", "return {}"))
    return dir
  end

  it("removes an empty layer", function()
    local dir = make("empty")
    assert(layer.remove(dir))
    assert.is_nil(fs.lstat(dir))
    assert.same({}, fs.readdir(top))
  end)

  it("removes what the container wrote and what overlayfs left, and anything else there", function()
    local dir = make("full")
    assert(fs.mkdir(dir .. "/upper/etc", "0755"))
    assert(fs.write_file(dir .. "/upper/etc/passwd", "x"))
    assert(fs.symlink("/etc/shadow", dir .. "/upper/link")) -- not followed
    assert(fs.mkdir(dir .. "/work/index", "0700"))
    assert(fs.write_file(dir .. "/work/work/#1", ""))
    assert(fs.write_file(dir .. "/extra", "y"))
    assert(layer.remove(dir))
    assert.is_nil(fs.lstat(dir))
    assert.is_not_nil(fs.stat("/etc/shadow"))
  end)

  it("is done when the layer is gone already, or partly", function()
    local dir = make("half")
    assert(fs.rmdir(dir .. "/root"))
    assert(fs.unlink(dir .. "/layer.lua"))
    assert(layer.remove(dir))
    assert.is_nil(fs.lstat(dir))
    assert(layer.remove(dir))
  end)
end)
