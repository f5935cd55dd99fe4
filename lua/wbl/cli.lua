--- What the container commands (ps, logs, stop, rm, ...) share: finding a
-- container by name or id, docker's exit codes and messages, and how times
-- and statuses read.
local core = require "wbl.core"
local state = require "wbl.state"
local errors = require "wbl.errors"

local M = {}

--- Print "wbl: msg" to stderr and exit with code (default 125).
function M.die(msg, code)
  io.stderr:write("wbl: ", tostring(msg), "\n")
  os.exit(code or 125)
end

--- Parse a command's options (wbl.args format; -h/--help is added):
-- exit 0 with the help, 125 with the error; else opts and the rest.
function M.parse(usage, options, argv, about)
  local args = require "wbl.args"
  -- what containers killed with their wbl or supervisor left, first
  require("wbl.container").reap()
  table.insert(options, 1, { "h", "help", help = "print this help and exit" })
  local opts, rest = args.parse(options, argv)
  if not opts then M.die(rest .. "\nusage: " .. usage) end
  if opts.help then
    io.stdout:write(args.help(usage, options, about))
    os.exit(0)
  end
  return opts, rest
end

--- The container a user means: its name, its full id, or a unique prefix
-- of the id (at least 3 digits).  nil, message, ENOENT when none is.
function M.find(ref)
  local st = state.load(ref) -- the name: the state directory's
  if st then return st end
  local found
  if #ref >= 3 and ref:match("^%x+$") then
    for _, c in ipairs(state.list(true)) do -- summaries
      if (c.full_id or ""):sub(1, #ref) == ref then
        if found then return nil, ("%q names more than one container"):format(ref), core.errno.EINVAL end
        found = c
      end
    end
  end
  if found then return state.load(found.id) end
  return nil, ("no such container: %s"):format(ref), core.errno.ENOENT
end

--- M.find, or die with 125 (docker's "No such container").
function M.get(ref)
  local c, msg = M.find(ref)
  if not c then M.die(msg) end
  return c
end

--- "3 seconds", "2 minutes", "5 hours", "4 days": how long docker says it.
function M.ago(seconds)
  seconds = math.max(0, seconds)
  if seconds < 1 then return "Less than a second" end
  if seconds < 60 then return ("%d second%s"):format(seconds, seconds == 1 and "" or "s") end
  local m = seconds // 60
  if m < 60 then return m == 1 and "About a minute" or ("%d minutes"):format(m) end
  local h = m // 60
  if h < 48 then return h == 1 and "About an hour" or ("%d hours"):format(h) end
  return ("%d days"):format(h // 24)
end

--- The status a user sees: "running", "exited", "created".
function M.status(c)
  if state.running(c) then return "running" end
  if c.status == "created" and state.owned(c) then return "created" end
  return "exited"
end

--- The STATUS column: "Up 5 seconds", "Exited (0) 3 seconds ago".
function M.status_text(c)
  local now = os.time()
  if state.running(c) then return "Up " .. M.ago(now - (c.started or now)) end
  if c.exit_code then
    return ("Exited (%d) %s ago"):format(c.exit_code, M.ago(now - (c.finished or now)))
  end
  return "Created"
end

--- The PORTS column: "0.0.0.0:8080->80/tcp, ...".
function M.ports(c)
  local out = {}
  for _, p in ipairs((c.net and c.net.ports) or {}) do
    out[#out + 1] = ("%s:%d->%d/%s"):format(p.ip or "0.0.0.0", p.host, p.container, p.proto)
  end
  return table.concat(out, ", ")
end

--- Wait (polling every 50 ms, at most ms) until pred() is true.
function M.wait_until(pred, ms)
  local util = require "wbl.util"
  for _ = 1, (ms or 10000) // 50 do
    if pred() then return true end
    util.sleep_ms(50)
  end
  return pred()
end

--- Run fn (a command's body) and turn wbl errors into "wbl: step: msg"
-- and exit 125; anything else is a bug, with its traceback.
function M.main(fn)
  local ok, err = xpcall(fn, errors.handler)
  if not ok then M.die(errors.describe(err)) end
  os.exit(0)
end

return M
