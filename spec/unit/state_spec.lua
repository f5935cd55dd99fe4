-- wbl.state: what a container's state.lua holds, the summary line that
-- lets every start look at every container cheaply, and spec.lua (the
-- spec, written once, not at every save).
local util = require "wbl.util"
local core = require "wbl.core"
local fs = core.fs

describe("wbl.state #unit", function()
  local state, root, saved
  local config = require "wbl.config"
  before_each(function()
    root = H.tmpdir()
    saved = config.root()
    config.set_root(root)
    state = require "wbl.state"
  end)
  after_each(function()
    config.set_root(saved)
    util.rm_rf(root)
  end)

  local function new(id, extra)
    local c = { id = id, full_id = id .. "00ff", status = "running", spec = { process = { args = { "x\ny" } } },
                init = { pid = 1234567, starttime = 42 }, owner = { pid = 7654321, starttime = 9 } }
    for k, v in pairs(extra or {}) do c[k] = v end
    c.state_dir = state.dir(id)
    assert(state.create(c))
    return c
  end

  it("saves the whole container, and its summary as the first line", function()
    local c = new("one\nname", { oci = { bundle = "/b\n" } })
    local text = assert(fs.read_file(c.state_dir .. "/state.lua"))
    local first = text:match("^[^\n]*")
    assert.matches("^%-%- return {", first)
    local whole = assert(state.load(c.id))
    assert.same(c.spec, whole.spec)
    assert.same({ bundle = "/b\n" }, whole.oci)
    local sum = assert(state.peek(c.id))
    -- only what liveness needs: no spec
    assert.same({ id = "one\nname", full_id = "one\nname00ff", status = "running", oci = true,
                  init = { pid = 1234567, starttime = 42 }, owner = { pid = 7654321, starttime = 9 } }, sum)
    assert.is_false(state.alive(sum)) -- no such processes
  end)

  it("peeks at a state written without the summary line (the whole state)", function()
    local c = new("old")
    assert(fs.write_file(c.state_dir .. "/state.lua", util.serialise({ id = "old", status = "exited",
      spec = { x = 1 } }), nil, "0600"))
    local sum = assert(state.peek("old"))
    assert.equal("exited", sum.status)
    assert.same({ x = 1 }, sum.spec)
  end)

  it("lists summaries or whole states", function()
    new("a")
    new("b", { status = "exited" })
    local sums, whole = state.list(true), state.list()
    assert.equal(2, #sums)
    assert.same({ "a", "b" }, { sums[1].id, sums[2].id })
    assert.is_nil(sums[1].spec)
    assert.is_table(whole[1].spec)
    assert.equal("exited", sums[2].status)
  end)

  it("writes the spec to spec.lua once, and again only when told it changed", function()
    local c = new("sp")
    local spec_file = c.state_dir .. "/spec.lua"
    assert.same(c.spec, util.unserialise(assert(fs.read_file(spec_file))))
    assert.is_nil(util.unserialise(assert(fs.read_file(c.state_dir .. "/state.lua"))).spec)
    -- later saves leave spec.lua alone: gone, it stays gone
    assert(os.remove(spec_file))
    c.status = "stopped"
    assert(state.save(c))
    assert.is_nil(fs.stat(spec_file))
    assert.equal("stopped", state.peek("sp").status)
    -- a changed spec, once said so, is written with the next save
    c.spec.process.args = { "changed" }
    state.spec_changed(c)
    assert(state.save(c))
    local whole = assert(state.load("sp"))
    assert.same({ "changed" }, whole.spec.process.args)
    assert.equal("stopped", whole.status)
    -- a loaded state, saved, writes its spec (this process did not yet)
    assert(os.remove(spec_file))
    whole.state_dir = c.state_dir
    assert(state.save(whole))
    assert.same({ "changed" }, assert(state.load("sp")).spec.process.args)
  end)

  it("loads a state whose spec is inline (saved before spec.lua)", function()
    local c = new("inline")
    assert(os.remove(c.state_dir .. "/spec.lua"))
    assert(fs.write_file(c.state_dir .. "/state.lua", util.serialise({ id = "inline", status = "exited",
      spec = { y = 2 } }), nil, "0600"))
    assert.same({ y = 2 }, assert(state.load("inline")).spec)
  end)

  it("fails to load a state whose spec.lua is missing, naming it", function()
    local c = new("nospec")
    assert(os.remove(c.state_dir .. "/spec.lua"))
    local st, msg = state.load("nospec")
    assert.is_nil(st)
    assert.matches("spec.lua", msg)
  end)
end)
