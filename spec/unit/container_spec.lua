-- wbl.container.wait and the Lua collector: run.lua stops it for the
-- start; a wait that pumps (-t, -d's log) runs for as long as the
-- container lives and turns it back on; a plain wait leaves it off.
describe("wbl.container.wait #unit", function()
  local container = require "wbl.container"
  local was
  before_each(function() was = collectgarbage("isrunning") end)
  after_each(function() collectgarbage(was and "restart" or "stop") end)

  -- A container whose child "exits" at once with code 3, seen through wait.
  local function ctr(extra)
    local c = { _child = { wait = function(_, pump)
      if pump then pump.used = true end
      return "exited", 3
    end } }
    for k, v in pairs(extra or {}) do c[k] = v end
    return c
  end

  it("turns the collector on when it pumps (-t)", function()
    local pump = {}
    local c = ctr { _tty = { pump = function() return pump end } }
    collectgarbage("stop")
    assert.equal(3, container.wait(c))
    assert.is_true(pump.used)
    assert.is_true(collectgarbage("isrunning"))
    assert.equal("stopped", c.status)
  end)

  it("turns the collector on when it pumps a detached one's log (-d)", function()
    local c = ctr { _log = { pump = function() return {} end } }
    collectgarbage("stop")
    assert.equal(3, container.wait(c))
    assert.is_true(collectgarbage("isrunning"))
  end)

  it("leaves it off for a plain wait (run --rm: a few milliseconds more)", function()
    local c = ctr()
    collectgarbage("stop")
    assert.equal(3, container.wait(c))
    assert.is_false(collectgarbage("isrunning"))
  end)
end)
