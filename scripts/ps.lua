-- scripts/ps.lua: list containers.
--
--   wbl ps [-a] [-q] [--format json]
--
-- Running ones (with -a, the stopped ones too, with their exit status),
-- from the state root: every terminal sees the same list.
local wbl = require "wbl"
local cli = wbl.cli

local opts = cli.parse("wbl ps [-a] [-q] [--format json]", {
  { "a", "all", help = "stopped containers too" },
  { "q", "quiet", help = "ids only" },
  { nil, "format", arg = "json|table", check = function(v)
    if v == "json" or v == "table" then return v end
    return nil, "expected json or table"
  end, help = "json: one JSON object per line" },
}, arg)

local rows = {}
for _, c in ipairs(wbl.state.list()) do
  if opts.all or cli.status(c) == "running" then rows[#rows + 1] = c end
end
table.sort(rows, function(a, b) return (a.created or 0) > (b.created or 0) end)

if opts.quiet then
  for _, c in ipairs(rows) do print((c.full_id or c.id):sub(1, 12)) end
elseif opts.format == "json" then
  local json = require "dkjson"
  for _, c in ipairs(rows) do
    print(json.encode {
      ID = (c.full_id or c.id):sub(1, 12), Names = c.id, Image = c.spec.wbl.image or c.spec.root.path,
      Command = table.concat(c.spec.process.args, " "), State = cli.status(c), Status = cli.status_text(c),
      ExitCode = c.exit_code, Ports = cli.ports(c), CreatedAt = c.created, Pid = c.pid,
    })
  end
else
  print(("%-12s  %-20s  %-24s  %-30s  %-22s  %s"):format("CONTAINER ID", "IMAGE", "COMMAND", "STATUS",
    "PORTS", "NAMES"))
  for _, c in ipairs(rows) do
    local image = (c.spec.wbl.image or c.spec.root.path or ""):match("[^/]*$")
    local cmd = '"' .. table.concat(c.spec.process.args, " "):sub(1, 20) .. '"'
    print(("%-12s  %-20s  %-24s  %-30s  %-22s  %s"):format((c.full_id or c.id):sub(1, 12), image:sub(1, 20),
      cmd, cli.status_text(c), cli.ports(c), c.id))
  end
end
