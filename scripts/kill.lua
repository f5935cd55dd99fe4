-- scripts/kill.lua: send a signal to containers' PID 1.
--
--   wbl kill [-s SIGNAL] NAME...      (default SIGKILL, as docker)
local wbl = require "wbl"
local cli = wbl.cli

local opts, names = cli.parse("wbl kill [-s SIGNAL] NAME...", {
  { "s", "signal", arg = "SIGNAL", help = "the signal (name or number; default KILL)" },
}, arg)
if #names == 0 then cli.die("kill needs a container name or id") end
local sig = (opts.signal or "KILL"):upper()
if sig:match("^%d+$") then
  for name, n in pairs(wbl.core.proc.signals) do if n == tonumber(sig) then sig = name end end
end
if not sig:match("^SIG") then sig = "SIG" .. sig end
if not wbl.core.proc.signals[sig] then cli.die("kill: unknown signal " .. (opts.signal or sig)) end
local failed = false
for _, ref in ipairs(names) do
  local c, msg = cli.find(ref)
  local ok, en
  if c then ok, msg, en = wbl.container.kill(c, sig) end
  if ok then print(ref) else io.stderr:write("wbl: ", wbl.message(msg, en), "\n"); failed = true end
end
os.exit(failed and 125 or 0)
