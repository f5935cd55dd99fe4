--- In-process hooks (--hook FILE.lua): a Lua file returning a table of
-- functions, each called at the step of its name with the container table
-- and the wbl library:
--   host side       created (the state exists), cloned (PID 1 waits in its
--                   namespaces), network (eth0 and -p are set up), exited
--                   (PID 1 has ended; before the teardown)
--   container side  root (the root and the spec's mounts are in place),
--                   pivot (just before pivot_root: the host is still in
--                   reach), exec (just before the command is exec'd)
-- A hook's error stops the container with 125, naming the hook and the
-- step.  Hook files are loaded on the host before the clone, so the
-- container side runs the same functions (and may use upvalues).
local M = {}

M.points = { "created", "cloned", "network", "exited", "root", "pivot", "exec" }
local known = {}
for _, p in ipairs(M.points) do known[p] = true end

--- Load the hook files of a spec (s.wbl.hooks): a list of { file, fns }.
function M.load(files)
  local out = {}
  for _, file in ipairs(files or {}) do
    local chunk, err = loadfile(file)
    if not chunk then return nil, err, require("wbl.core").errno.EINVAL end
    local ok, fns = pcall(chunk)
    if not ok then return nil, ("%s: %s"):format(file, tostring(fns)), require("wbl.core").errno.EINVAL end
    if type(fns) ~= "table" then
      return nil, ("%s: must return a table of functions"):format(file), require("wbl.core").errno.EINVAL
    end
    for k, v in pairs(fns) do
      if not known[k] or type(v) ~= "function" then
        return nil, ("%s: %s is not a hook point (%s)"):format(file, tostring(k), table.concat(M.points, ", ")),
          require("wbl.core").errno.EINVAL
      end
    end
    out[#out + 1] = { file = file, fns = fns }
  end
  return out
end

--- Run the hooks of point (c._hooks, from M.load) in the order given.
function M.run(c, point)
  for _, h in ipairs(c._hooks or {}) do
    local fn = h.fns[point]
    if fn then
      local ok, r, msg = pcall(fn, c, require "wbl")
      if not ok or r == nil and msg then
        return nil, ("hook %s: %s"):format(h.file, tostring(ok and msg or r)), require("wbl.core").errno.EINVAL
      end
    end
  end
  return true
end

return M
