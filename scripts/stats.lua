-- scripts/stats.lua: cpu, memory and pids of running containers, from
-- their cgroups.
--
--   wbl stats [--no-stream] NAME...   (without --no-stream: every second)
local wbl = require "wbl"
local cli = wbl.cli

local opts, names = cli.parse("wbl stats [--no-stream] NAME...", {
  { nil, "no-stream", help = "print once and exit" },
}, arg)
if #names == 0 then cli.die("stats needs a container name or id") end
local cs = {}
for _, ref in ipairs(names) do
  local c = cli.get(ref)
  if not wbl.state.running(c) then cli.die(("container %s is not running"):format(c.id)) end
  cs[#cs + 1] = c
end
local function mib(b) return b and ("%.1fMiB"):format(b / 1048576) or "-" end
local last = {}
while true do
  local t = wbl.core.monotonic_ns()
  print(("%-12s  %-20s  %-8s  %-22s  %s"):format("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "PIDS"))
  for _, c in ipairs(cs) do
    local s = wbl.cgroup.stats(c.cgroup)
    local limit = c.spec.linux.resources.memory and c.spec.linux.resources.memory.limit
    local cpu = "-"
    if last[c.id] and s.cpu_usec then
      cpu = ("%.2f%%"):format((s.cpu_usec - last[c.id].cpu) * 1000 / math.max(1, t - last[c.id].t) * 100)
    end
    last[c.id] = { cpu = s.cpu_usec or 0, t = t }
    print(("%-12s  %-20s  %-8s  %-22s  %s"):format((c.full_id or c.id):sub(1, 12), c.id, cpu,
      mib(s.memory) .. " / " .. (limit and mib(limit) or "-"), s.pids or "-"))
  end
  io.stdout:flush()
  if opts.no_stream then break end
  wbl.util.sleep_ms(1000)
end
