-- spec/helper.lua's H.finally: every cleanup a case registers runs (busted
-- itself keeps only the last function given to finally), the last first.
local ran = {}

describe("H.finally #unit", function()
  it("registers two cleanups", function()
    H.finally(function() ran[#ran + 1] = "first" end)
    H.finally(function() ran[#ran + 1] = "second" end)
    assert.same({}, ran) -- not yet: at the end of the case
  end)

  it("ran both, the last registered first, and starts afresh", function()
    assert.same({ "second", "first" }, ran)
    H.finally(function() ran[#ran + 1] = "third" end)
  end)

  it("ran only this case's own the next time", function()
    assert.same({ "second", "first", "third" }, ran)
  end)
end)
