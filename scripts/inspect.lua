-- scripts/inspect.lua: everything about containers, as JSON.
--
--   wbl inspect NAME...
--
-- Its id, name, state (status, PID 1, exit code, started and finished
-- times), its spec (the config: process, root, mounts, resources,
-- confinement), its network (address, ports), cgroup paths, write layer.
local wbl = require "wbl"
local cli, json = wbl.cli, require "dkjson"

local _, names = cli.parse("wbl inspect NAME...", {}, arg)
if #names == 0 then cli.die("inspect needs a container name or id") end
local out, failed = {}, false
for _, ref in ipairs(names) do
  local c, msg = cli.find(ref)
  if not c then
    io.stderr:write("wbl: ", msg, "\n")
    failed = true
  else
    local cg = {}
    for _, d in ipairs((c.cgroup and c.cgroup.dirs) or {}) do cg[#cg + 1] = d.path end
    out[#out + 1] = {
      Id = c.full_id or c.id, Name = c.id,
      Created = c.created and os.date("!%Y-%m-%dT%H:%M:%SZ", c.created),
      State = { Status = cli.status(c), Running = wbl.state.running(c), Pid = cli.status(c) == "running" and c.pid or 0,
                ExitCode = c.exit_code, StartedAt = c.started and os.date("!%Y-%m-%dT%H:%M:%SZ", c.started),
                FinishedAt = c.finished and os.date("!%Y-%m-%dT%H:%M:%SZ", c.finished),
                RestartCount = c.restart_count or 0 },
      Config = c.spec,
      NetworkSettings = c.net and { Network = c.net.name or c.net.mode, IPAddress = c.net.ip,
        Gateway = c.net.gateway, Ports = c.net.ports or {} } or nil,
      Mounts = c.spec.mounts,
      CgroupPaths = cg,
      Layer = c.layer, StateDir = c.state_dir, LogPath = c.log,
    }
  end
end
print(json.encode(out, { indent = true }))
os.exit(failed and 125 or 0)
