-- wbl.state: what a container's state.lua holds, and the summary line
-- that lets every start look at every container cheaply.
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
end)
