--- wbl: the library behind the scripts.
-- `require "wbl"` gives the core (wbl.core) and loads the policy modules
-- on first use: wbl.args, wbl.proc, wbl.rootfs, wbl.container, ...
--
-- Every library function keeps the core's shape: a value (or true) on
-- success, `nil, message, errno` on failure, so a script can assert() it
-- or hand it to wbl.step(), which turns a failure into an error that names
-- the step.
local core = require "wbl.core"

local M = { core = core, version = core.version }

-- Where this library lives: the project root (or PREFIX/share/wbl).
local src = debug.getinfo(1, "S").source:gsub("^@", "")
M.home = src:match("^(.*)/lua/wbl/init%.lua$") or "."

-- errno number -> name, for messages ("Invalid argument (EINVAL)").
local errno_names = {}
for name, n in pairs(core.errno) do
  if not errno_names[n] or name < errno_names[n] then errno_names[n] = name end
end
function M.errno_name(n) return errno_names[n] end

local Error = {}
Error.__index = Error
function Error:__tostring()
  local s = self.step .. ": " .. tostring(self.msg)
  if self.errno and errno_names[self.errno] then
    s = s .. " (" .. errno_names[self.errno] .. ")"
  end
  return s
end

--- WBL_TRACE=FILE: append "pid<TAB>monotonic ns<TAB>label" to FILE when
-- this module loads and at every wbl.step (i.e. when the step's work is
-- done) and wbl.trace call; bench/ turns it into a breakdown.  Off: a no-op.
local trace_file = os.getenv("WBL_TRACE")
local trace_fd
function M.trace(label)
  if not trace_file then return end
  trace_fd = trace_fd or core.fd.open(trace_file, "wronly,append,creat,cloexec", "0644")
  if trace_fd then
    trace_fd:write(("%d\t%d\t%s\n"):format(core.proc.getpid(), core.monotonic_ns(), label))
  end
end
M.trace("wbl loaded")

--- Is e an error raised by wbl.step / wbl.fail?
function M.is_error(e) return getmetatable(e) == Error end

--- Raise an error that names the step. code: the exit status it asks for
-- (default 125, a runtime error).
function M.fail(step, msg, errno, code)
  error(setmetatable({ step = step, msg = msg, errno = errno, code = code or 125 }, Error), 0)
end

--- Check a library result: on `nil, msg, errno[, code]` raise an error
-- naming the step; otherwise return the results.
function M.step(step, ok, ...)
  if trace_file then M.trace(step) end
  if ok == nil or ok == false then
    local msg, errno, code = ...
    M.fail(step, msg or "failed", errno, code)
  end
  return ok, ...
end

--- An error message for anything raised: "step: message (ERRNO)".
function M.describe(e)
  if M.is_error(e) then return tostring(e) end
  return tostring(e)
end

return setmetatable(M, {
  __index = function(t, k)
    local mod = require("wbl." .. k)
    rawset(t, k, mod)
    return mod
  end,
})
