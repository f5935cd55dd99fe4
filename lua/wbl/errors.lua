--- Errors, steps and the trace: what every module and script shares.
-- A library function returns a value (or true) on success and
-- `nil, message, errno` on failure (the core's shape).  A script hands
-- that to step(), which turns a failure into an error that names the
-- step; describe() prints it as "step: message (ERRNO)".
local core = require "wbl.core"

local M = {}

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
-- this module loads and at every step (i.e. when the step's work is done)
-- and trace call; bench/ turns it into a breakdown.  Off: a no-op.
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

--- Is e an error raised by step / fail?
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
  return tostring(e)
end

--- "message (ERRNO)" for a `nil, message, errno` result.
function M.message(msg, errno)
  local name = errno and errno_names[errno]
  return tostring(msg) .. (name and (" (" .. name .. ")") or "")
end

--- The handler for xpcall: wbl's errors as they are, anything else with
-- its traceback (a bug, not a failure the kernel reported).
function M.handler(e)
  if M.is_error(e) then return e end
  return debug.traceback(tostring(e), 2)
end

return M
