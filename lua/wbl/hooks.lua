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

-- OCI hooks (the spec's hooks: executables given the container's state
-- as JSON on stdin) at wbl's points: prestart and createRuntime in the
-- runtime's namespaces once PID 1 waits in its own (cloned); createContainer
-- in the container's, before pivot_root (pivot); startContainer in the
-- container right before the command (exec).  poststart and poststop are
-- run by the OCI front end (scripts/oci.lua: after start, after delete).
local oci_at = { cloned = { "prestart", "createRuntime" }, pivot = { "createContainer" },
                 exec = { "startContainer" } }
local oci_status = { prestart = "creating", createRuntime = "creating", createContainer = "creating",
                     startContainer = "created", poststart = "running", poststop = "stopped" }

--- The OCI state of c as JSON (the runtime spec's state: ociVersion, id,
-- status, pid, bundle, annotations).
function M.oci_state(c, status)
  local json = require "dkjson"
  local ann = setmetatable({}, { __jsontype = "object" })
  for k, v in pairs(c.spec.annotations or {}) do ann[k] = v end
  return json.encode { ociVersion = c.spec.ociVersion, id = c.id, status = status, pid = c.pid or 0,
                       bundle = c.oci and c.oci.bundle or "", annotations = ann }
end

-- Run one OCI hook ({ path, args, env, timeout }) with input on its stdin;
-- what it writes (stdout and stderr) is kept for the error message.
function M.exec_oci(h, input)
  local core = require "wbl.core"
  local P, fd = core.proc, core.fd
  local ir, iw, en = fd.pipe()
  if not ir then return nil, iw, en end
  local orr, ow
  orr, ow, en = fd.pipe()
  if not orr then ir:close(); iw:close(); return nil, ow, en end
  io.stdout:flush()
  io.stderr:flush()
  local pid, msg
  pid, msg, en = P.fork()
  if not pid then return nil, msg, en end
  if pid == 0 then
    iw:close(); orr:close()
    ir:dup2(0); ow:dup2(1); ow:dup2(2)
    P.execve(h.path, h.args or { h.path }, h.env or {})
    P._exit(127)
  end
  ir:close(); ow:close()
  iw:write(input)
  iw:close()
  local out, deadline = {}, h.timeout and core.monotonic_ns() + h.timeout * 1000000000
  while true do
    local left = deadline and (deadline - core.monotonic_ns()) // 1000000
    if left and left <= 0 then
      P.kill(pid, "SIGKILL"); P.waitpid(pid); orr:close()
      return nil, ("%s: timed out after %d s"):format(h.path, h.timeout), core.errno.EINTR
    end
    if orr:wait(left or 1000) then
      local s = orr:read(65536)
      if not s or s == "" then break end
      out[#out + 1] = s
    end
  end
  orr:close()
  local _, how, code = P.waitpid(pid)
  if how == "exited" and code == 0 then return true end
  local said = table.concat(out):gsub("%s+$", "")
  return nil, ("%s: %s %s%s"):format(h.path, how, tostring(code), said ~= "" and (": " .. said) or ""),
    core.errno.EIO
end

--- Run the OCI hooks of the given kinds (a list, as oci_at gives; or one
-- name) from c.spec.hooks, in order; the first failure stops them.
function M.run_oci(c, kinds)
  local all = c.spec.hooks
  if not all or not kinds then return true end
  if type(kinds) == "string" then kinds = { kinds } end
  if not c.pid then -- in the container, before pivot_root: the host's /proc still says who we are
    c.pid = math.tointeger(tonumber(require("wbl.core").fs.readlink("/proc/self") or ""))
  end
  for _, kind in ipairs(kinds) do
    for i, h in ipairs(all[kind] or {}) do
      local ok, msg, en = M.exec_oci(h, M.oci_state(c, oci_status[kind]))
      if not ok then return nil, ("hooks.%s[%d] %s"):format(kind, i - 1, msg), en end
    end
  end
  return true
end

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

--- Has c a hook (--hook or OCI) at any of these points?
function M.any(c, points)
  for _, point in ipairs(points) do
    for _, h in ipairs(c._hooks or {}) do
      if h.fns[point] then return true end
    end
    for _, kind in ipairs(oci_at[point] or {}) do
      if c.spec.hooks and c.spec.hooks[kind] and #c.spec.hooks[kind] > 0 then return true end
    end
  end
  return false
end

--- Run the hooks of point (c._hooks, from M.load) in the order given,
-- then the OCI hooks of the spec that belong there (M.run_oci).
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
  return M.run_oci(c, oci_at[point])
end

return M
