--- wbl: the library behind the scripts.
-- `require "wbl"` gives the core (wbl.core), the errors and steps of
-- wbl.errors (wbl.step, wbl.fail, wbl.describe, ...), and loads the policy
-- modules on first use: wbl.spec, wbl.container, wbl.cgroup, wbl.net, ...
-- This facade is for scripts; library modules require what they use
-- directly (wbl.errors, wbl.proc, ...), never "wbl" itself.
local core = require "wbl.core"
local errors = require "wbl.errors"

local M = { core = core, version = core.version }
for k, v in pairs(errors) do M[k] = v end

-- Where this library lives: the project root (or PREFIX/share/wbl).
local src = debug.getinfo(1, "S").source:gsub("^@", "")
M.home = src:match("^(.*)/lua/wbl/init%.lua$") or "."

return setmetatable(M, {
  __index = function(t, k)
    local mod = require("wbl." .. k)
    rawset(t, k, mod)
    return mod
  end,
})
