-- The scripts stay in charge: a step a user adds to a copy of the
-- scripts runs, in the container and on the host, edits take effect on
-- the next run (whatever wbl caches), a failing step names itself, and
-- WBL_TRACE shows what the step costs.
local core = require "wbl.core"
local fs = core.fs

-- A copy of scripts/ in a temp dir; the caller edits it.
local function copy_scripts()
  local dir = H.tmpdir()
  for _, n in ipairs(fs.readdir(H.top .. "/scripts")) do
    if n:match("%.lua$") then
      assert(fs.write_file(dir .. "/" .. n, assert(fs.read_file(H.top .. "/scripts/" .. n)), nil, "0644"))
    end
  end
  return dir
end

-- Insert text into dir/file right before the line starting with `before`.
local function insert(dir, file, before, text)
  local src = assert(fs.read_file(dir .. "/" .. file))
  local at = src:find("\n" .. before, 1, true)
  assert(at, file .. ": no line starting with " .. before)
  assert(fs.write_file(dir .. "/" .. file, src:sub(1, at) .. text .. "\n" .. src:sub(at + 1), nil, "0644"))
end

local function run_in(dir, ...)
  local a = { dir .. "/run.lua" }
  for _, x in ipairs { ... } do a[#a + 1] = x end
  return H.wbl_run(a)
end

describe("steps a user adds #priv", function()
  H.it_priv("run in the container and on the host, and edits take effect at once", function()
    local dir = copy_scripts()
    H.finally(function() require("wbl.util").rm_rf(dir) end)
    local mark = dir .. "/host-step"
    -- a container-side step before pivot_root: a file in its root
    insert(dir, "init.lua", 'step("hook root"',
      'step("my step", wbl.core.fs.write_file(c.root .. "/etc/my-step", "first\\n", nil, "0644"))')
    -- a host-side step in create.lua: the container's id on the host
    insert(dir, "create.lua", 'step("state", wbl.state.create(c))',
      ('step("my host step", wbl.core.fs.write_file(%q, c.id, nil, "0644"))'):format(mark))
    for _ = 1, 2 do -- the second run: whatever was cached from the first
      local out, err, code = run_in(dir, "--rm", "--network", "none", "cat", "/etc/my-step")
      assert.equal(0, code, err)
      assert.equal("first\n", out)
      assert.matches("^%x+$", assert(fs.read_file(mark)))
      assert(fs.unlink(mark))
    end
    -- edited again: the new text, not a cached old one
    local src = assert(fs.read_file(dir .. "/init.lua"))
    assert(fs.write_file(dir .. "/init.lua", (src:gsub('"first\\n"', '"second\\n"')), nil, "0644"))
    local out, err, code = run_in(dir, "--rm", "--network", "none", "cat", "/etc/my-step")
    assert.equal(0, code, err)
    assert.equal("second\n", out)
  end)

  H.it_priv("that fails stops the container with 125, naming itself; WBL_TRACE shows its cost", function()
    local dir = copy_scripts()
    H.finally(function() require("wbl.util").rm_rf(dir) end)
    insert(dir, "init.lua", 'step("hook root"',
      'step("slow step", wbl.util.sleep_ms(30) or true)\n' ..
      'if os.getenv("FAIL_MY_STEP") then step("my failing step", nil, "refused on purpose", wbl.core.errno.EPERM) end')
    local trace = dir .. "/trace.tsv"
    local out, err, code = H.sh(("WBL_TRACE=%s %s %s --rm --network none true"):format(
      H.q(trace), H.q(H.wbl), H.q(dir .. "/run.lua")))
    assert.equal(0, code, err)
    assert.equal("", out)
    -- the step's mark comes >= 30 ms after the previous one
    local prev, cost
    for l in io.lines(trace) do
      local ns, label = l:match("^%d+\t(%d+)\t(.*)$")
      if label == "slow step" then cost = (tonumber(ns) - prev) / 1e6 end
      prev = tonumber(ns)
    end
    assert.is_not_nil(cost, "no mark for the step in " .. trace)
    assert.is_true(cost >= 30, ("slow step: %.1f ms"):format(cost))
    local name = H.name("fail")
    out, err, code = H.sh(("FAIL_MY_STEP=1 %s %s --rm --name %s --network none true"):format(
      H.q(H.wbl), H.q(dir .. "/run.lua"), name))
    assert.equal(125, code)
    assert.equal("", out) -- the command never ran
    assert.matches("my failing step", err)
    assert.matches("refused on purpose", err)
    -- nothing left of it
    assert.is_nil(H.state(name))
    assert.is_nil(fs.stat(H.state_dir(name)))
  end)
end)
