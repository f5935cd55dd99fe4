-- scripts/top.lua: the processes of a running container (from its cgroup).
--
--   wbl top NAME
local wbl = require "wbl"
local cli = wbl.cli
local fs = wbl.core.fs

local _, names = cli.parse("wbl top NAME", {}, arg)
if #names ~= 1 then cli.die("top needs one container name or id") end
local c = cli.get(names[1])
if not wbl.state.running(c) then cli.die(("container %s is not running"):format(c.id)) end
local pids = {}
for _, d in ipairs(c.cgroup.dirs) do
  for _, p in ipairs(wbl.cgroup.pids(d.path)) do pids[p] = true end
end
local list = {}
for p in pairs(pids) do list[#list + 1] = p end
table.sort(list)
local hz = 100 -- USER_HZ
print(("%-8s %-8s %-8s %-10s %s"):format("PID", "PPID", "UID", "TIME", "CMD"))
for _, p in ipairs(list) do
  local stat = fs.read_file("/proc/" .. p .. "/stat")
  local status = fs.read_file("/proc/" .. p .. "/status") or ""
  if stat then
    local f = {}
    for x in stat:match("%) (.*)$"):gmatch("%S+") do f[#f + 1] = x end
    local secs = ((tonumber(f[12]) or 0) + (tonumber(f[13]) or 0)) // hz
    local cmd = (fs.read_file("/proc/" .. p .. "/cmdline") or ""):gsub("%z$", ""):gsub("%z", " ")
    print(("%-8d %-8s %-8s %02d:%02d:%02d %s"):format(p, f[2], status:match("Uid:%s+(%d+)") or "?",
      secs // 3600, secs // 60 % 60, secs % 60, cmd))
  end
end
