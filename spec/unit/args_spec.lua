local args = require "wbl.args"

describe("wbl.args #unit", function()
  local spec = require("wbl.docker").options

  it("stops at the first non-option and keeps the command intact", function()
    local o, cmd = args.parse(spec, { "-e", "A=1", "sh", "-c", "echo -e x", "" })
    assert.same({ "A=1" }, o.env)
    assert.same({ "sh", "-c", "echo -e x", "" }, cmd)
  end)

  it("stops at --", function()
    local o, cmd = args.parse(spec, { "--hostname", "box", "--", "-t", "x" })
    assert.equal("box", o.hostname)
    assert.is_nil(o.tty)
    assert.same({ "-t", "x" }, cmd)
  end)

  it("combines short flags and takes attached values", function()
    local o, cmd = args.parse(spec, { "-ti", "-eK=V", "-w", "/srv", "sh" })
    assert.is_true(o.tty)
    assert.is_true(o.interactive)
    assert.same({ "K=V" }, o.env)
    assert.equal("/srv", o.workdir)
    assert.same({ "sh" }, cmd)
  end)

  it("takes --long=value and repeated list options", function()
    local o = args.parse(spec, { "--env=A=1", "--env", "B=2", "true" })
    assert.same({ "A=1", "B=2" }, o.env)
  end)

  it("rejects unknown options, missing values and bad values", function()
    local o, msg = args.parse(spec, { "--nope", "sh" })
    assert.is_nil(o)
    assert.matches("unknown option %-%-nope", msg)
    o, msg = args.parse(spec, { "--hostname" })
    assert.is_nil(o)
    assert.matches("needs a value", msg)
    o, msg = args.parse(spec, { "--hostname", "bad name!", "sh" })
    assert.is_nil(o)
    assert.matches("%-%-hostname bad name!", msg)
    o, msg = args.parse(spec, { "-w", "relative", "sh" })
    assert.is_nil(o)
    assert.matches("absolute", msg)
    o, msg = args.parse(spec, { "--tty=yes", "sh" })
    assert.is_nil(o)
    assert.matches("takes no value", msg)
  end)

  it("lists every option in the help", function()
    local h = args.help("x", spec)
    for _, opt in ipairs(spec) do
      if opt[2] then assert.truthy(h:find("--" .. opt[2], 1, true)) end
    end
  end)
end)
