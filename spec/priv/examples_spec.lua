-- Every example runs, and says what the kernel really did.
local core = require "wbl.core"

local function example(name, ...)
  local args = { H.top .. "/examples/" .. name .. ".lua", ... }
  local out, err, code = H.wbl_run(args)
  assert.equal(0, code, err)
  return out
end

describe("examples #priv", function()
  H.it_priv("uts.lua: the child's hostname is not the host's", function()
    local out = example("uts", "wbl-example-uts")
    assert.matches("child: wbl%-example%-uts\n", out)
    local host = core.ns.gethostname()
    assert.not_equal("wbl-example-uts", host)
    assert.matches("host:  " .. host:gsub("%p", "%%%0") .. " %(unchanged%)", out)
  end)

  H.it_priv("pid.lua: the child is PID 1 and its child PID 2", function()
    local out = example("pid")
    assert.matches("child sees itself as 1, its parent as 0", out)
    assert.matches("grandchild sees itself as 2", out)
    local hostpid = tonumber(out:match("host sees the child as (%d+)"))
    assert.truthy(hostpid and hostpid > 1)
  end)

  H.it_priv("mount_proc.lua: the new /proc lists only the child; the host's is untouched", function()
    local before = H.mounts()
    local out = example("mount_proc")
    assert.matches("child: /proc lists 1\n", out)
    assert.equal(before, H.mounts())
  end)

  H.it_priv("ipc.lua: queues do not cross the IPC namespace", function()
    local before = core.fs.read_file("/proc/sysvipc/msg")
    local out = example("ipc")
    assert.matches("child: 0 queue%(s%) here", out)
    assert.matches("receiving from the host's queue: msgrcv: Invalid argument", out)
    assert.matches("child: made a queue: hello inside", out)
    assert.matches("host: still receives hello from the host", out)
    assert.equal(before, core.fs.read_file("/proc/sysvipc/msg")) -- removed again
  end)

  H.it_priv("user.lua: root inside is uid 100000 outside", function()
    local out = example("user")
    assert.matches("child: uid 0 gid 0 inside %(uid_map: 0 100000 1", out)
    assert.matches("host: the same process is uid 100000 gid 100000", out)
  end)

  H.it_priv("net.lua: only lo, down, then up over netlink", function()
    local out = example("net")
    assert.matches("child: links: lo; lo is down", out)
    assert.matches("child: lo is up after link_set", out)
  end)
end)
