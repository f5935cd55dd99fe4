-- Containers that live on their own: run -d and its supervisor, ps,
-- logs, inspect, port, top, stats, stop, kill, wait, start, rm, --restart;
-- each command's effect proven (a detached httpd answers curl, logs show
-- what it printed, stop ends it, rm leaves nothing), and the state seen
-- the same from every process.
local core = require "wbl.core"
local util = require "wbl.util"
local json = require "dkjson"
local fs, P = core.fs, core.proc

-- `wbl COMMAND ARGS...` (scripts/COMMAND.lua): stdout, stderr, status.
local function wblcmd(cmd, ...)
  local a = { H.top .. "/scripts/" .. cmd .. ".lua" }
  for _, x in ipairs({ ... }) do a[#a + 1] = x end
  return H.wbl_run(a)
end

local function eventually(f, ms)
  for _ = 1, (ms or 10000) // 20 do
    if f() then return true end
    util.sleep_ms(20)
  end
  return f()
end

-- No state, no cgroup of these containers.
local function gone(names)
  for _, n in ipairs(names) do
    assert.is_nil(fs.stat(H.state_dir(n)), n)
    for _, d in ipairs { "/sys/fs/cgroup/unified/wbl/" .. n, "/sys/fs/cgroup/memory/wbl/" .. n,
                         "/sys/fs/cgroup/wbl/" .. n } do
      assert.is_nil(fs.stat(d), d)
    end
  end
end

-- ... and no port rules of any container.
local function nothing_left(names)
  gone(names)
  local out = H.sh("nft list tables 2>/dev/null")
  assert.is_nil(out:match("wbl_wblv"), out)
end

describe("long-running containers #priv", function()
  after_each(function()
    if not H.root then return end
    for _, n in ipairs(H.containers()) do wblcmd("rm", "-f", n) end
  end)

  H.it_priv("run -d: prints the id and returns; the supervisor keeps it; ps, port, inspect, top, stats", function()
    local out, err, code = H.run { "-d", "--name", "web1", "-p", "8091:80", "--init", "httpd", "-f", "-p", "80",
      "-h", "/etc" }
    assert.equal(0, code, err)
    local id = out:match("^(%x+)\n$")
    assert.equal(64, #(id or ""), out)
    -- it answers, from the host
    assert.is_true(eventually(function() return (H.sh("curl -s http://127.0.0.1:8091/hostname")) == "web1\n" end))
    -- the state says who keeps it: a process that is not us, nor our child
    local st = assert(H.state("web1"))
    assert.not_equal(P.getpid(), st.owner.pid)
    assert.truthy(fs.stat("/proc/" .. st.owner.pid))
    local ppid = fs.read_file("/proc/" .. st.owner.pid .. "/stat"):match("%) %S+ (%d+)")
    assert.not_equal(tostring(P.getpid()), ppid)
    -- ps (another process: the same state), -q, --format json
    out = wblcmd("ps")
    assert.matches(id:sub(1, 12) .. "%s+busybox%s+\"/dev/init %-%- httpd.-Up .-0%.0%.0%.0:8091%->80/tcp%s+web1", out)
    assert.equal(id:sub(1, 12) .. "\n", (wblcmd("ps", "-q")))
    local j = json.decode((wblcmd("ps", "--format", "json")))
    assert.equal("running", j.State)
    assert.equal("web1", j.Names)
    assert.equal("80/tcp -> 0.0.0.0:8091\n", (wblcmd("port", "web1")))
    local info = json.decode((wblcmd("inspect", id:sub(1, 8))))[1] -- by an id prefix
    assert.equal(id, info.Id)
    assert.is_true(info.State.Running)
    assert.equal(st.pid, info.State.Pid)
    assert.equal(st.net.ip, info.NetworkSettings.IPAddress)
    assert.truthy(info.CgroupPaths[1])
    out = wblcmd("top", "web1")
    assert.matches("\n" .. st.pid .. "%s.-/dev/init", out)
    assert.matches("httpd %-f %-p 80", out)
    out, err, code = wblcmd("stats", "--no-stream", "web1")
    assert.equal(0, code, err)
    assert.matches("web1%s+%S+%s+[%d%.]+MiB / %-%s+%d+", out)
    -- stop: SIGTERM, which --init passes on; quick
    local t0 = core.monotonic_ns()
    out, err, code = wblcmd("stop", "web1")
    assert.equal(0, code, err)
    assert.equal("web1\n", out)
    assert.is_true(core.monotonic_ns() - t0 < 1e9, "stop took a second or more")
    assert.equal("", (wblcmd("ps", "-q")))
    assert.matches("Exited %(143%)", (wblcmd("ps", "-a")))
    assert.equal("143\n", (wblcmd("wait", "web1")))
    -- stopped, it keeps its write layer and state; its cgroups, address and rules are gone
    local kept = assert(H.state("web1"))
    assert.is_nil(kept.cgroup)
    assert.is_nil(fs.stat("/sys/fs/cgroup/unified/wbl/web1"))
    assert.equal("", (H.sh("nft list table ip wbl_" .. st.net.veth .. " 2>/dev/null")))
    assert.truthy(fs.stat(kept.layer .. "/upper"))
    -- rm: gone
    out, err, code = wblcmd("rm", "web1")
    assert.equal(0, code, err)
    assert.equal("web1\n", out)
    nothing_left { "web1" }
  end)

  H.it_priv("logs: stdout and stderr apart, --tail, -t, -f until it ends", function()
    local _, err, code = H.run { "-d", "--name", "talk", "--network", "none", "sh", "-c",
      "echo one; echo two >&2; echo three; sleep 0.3; echo four; exit 7" }
    assert.equal(0, code, err)
    -- -f follows until the container stops
    local out, errout
    out, errout, code = wblcmd("logs", "-f", "talk")
    assert.equal(0, code)
    assert.equal("one\nthree\nfour\n", out)
    assert.equal("two\n", errout)
    assert.equal("7\n", (wblcmd("wait", "talk")))
    assert.equal("four\n", (wblcmd("logs", "--tail", "1", "talk")))
    out = wblcmd("logs", "-t", "--tail", "1", "talk")
    assert.matches("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d%.%d%d%d%d%d%d%d%d%dZ four\n$", out)
    -- a foreground container has no log
    H.run { "--name", "fg", "--network", "none", "true" }
    local _, e2, c2 = wblcmd("logs", "fg")
    assert.equal(125, c2)
    assert.matches("ran in the foreground", e2)
  end)

  H.it_priv("start: a stopped container runs again with the same write layer", function()
    local _, err, code = H.run { "-d", "--name", "again", "--network", "none", "sh", "-c",
      "echo x >> /count; wc -l < /count" }
    assert.equal(0, code, err)
    assert.equal("0\n", (wblcmd("wait", "again")))
    local out
    out, err, code = wblcmd("start", "again")
    assert.equal(0, code, err)
    assert.equal("again\n", out)
    assert.equal("0\n", (wblcmd("wait", "again")))
    assert.equal("1\n2\n", (wblcmd("logs", "again")))
  end)

  H.it_priv("--restart on-failure:2 runs it twice more; stop is not undone by always", function()
    local _, err, code = H.run { "-d", "--name", "flaky", "--network", "none", "--restart", "on-failure:2",
      "sh", "-c", "echo ran; exit 3" }
    assert.equal(0, code, err)
    assert.equal("3\n", (wblcmd("wait", "flaky")))
    assert.equal("ran\nran\nran\n", (wblcmd("logs", "flaky")))
    assert.equal(2, json.decode((wblcmd("inspect", "flaky")))[1].State.RestartCount)
    _, err, code = H.run { "-d", "--name", "keep", "--network", "none", "--restart", "always", "--init",
      "sleep", "30" }
    assert.equal(0, code, err)
    _, err, code = wblcmd("stop", "-t", "5", "keep")
    assert.equal(0, code, err)
    util.sleep_ms(400) -- longer than the first back-off
    assert.equal("", (wblcmd("ps", "-q")))
  end)

  H.it_priv("kill of the supervisor: its container dies; ps -a shows it stopped; rm cleans up", function()
    local _, err, code = H.run { "-d", "--name", "orphan", "-p", "8092:80", "sleep", "30" }
    assert.equal(0, code, err)
    local st = assert(H.state("orphan"))
    assert(P.kill(st.owner.pid, "SIGKILL"))
    assert.is_true(eventually(function() return not require("wbl.state").running(st) end))
    -- the next command (ps here) reaps what it left: its rules, address, cgroups
    assert.matches("Exited %(137%)", (wblcmd("ps", "-a")))
    assert.equal("", (H.sh("nft list table ip wbl_" .. st.net.veth .. " 2>/dev/null")))
    assert.is_nil(fs.stat("/sys/fs/cgroup/unified/wbl/orphan"))
    local out
    out, err, code = wblcmd("rm", "orphan")
    assert.equal(0, code, err)
    assert.equal("orphan\n", out)
    nothing_left { "orphan" }
  end)

  H.it_priv("bad input: unknown names, rm of a running one, a taken name: 125 or 1 with a message", function()
    local _, err, code = wblcmd("stop", "nosuch")
    assert.equal(1, code)
    assert.matches("no such container: nosuch", err)
    _, err, code = wblcmd("logs", "nosuch")
    assert.equal(125, code)
    assert.matches("no such container: nosuch", err)
    _, err, code = H.run { "-d", "--name", "busy", "--network", "none", "sleep", "30" }
    assert.equal(0, code, err)
    _, err, code = wblcmd("rm", "busy")
    assert.equal(1, code)
    assert.matches("container busy is running", err)
    _, err, code = H.run { "-d", "--name", "busy", "--network", "none", "true" }
    assert.equal(125, code)
    assert.matches('the name "busy" is in use by container %x+', err)
    _, err, code = H.run { "-d", "--rm", "--restart", "always", "true" }
    assert.equal(125, code)
    assert.matches("exclude each other", err)
    _, err, code = wblcmd("rm", "-f", "busy")
    assert.equal(0, code, err)
  end)

  H.it_priv("20 detached at once, then stop all, then rm all: nothing left", function()
    local names = {}
    for i = 1, 20 do names[i] = "many" .. i end
    local cmd = {}
    for _, n in ipairs(names) do
      cmd[#cmd + 1] = ("%s %s -d --name %s -p %d:80 sleep 60 >/dev/null &"):format(H.q(H.wbl),
        H.q(H.top .. "/scripts/run.lua"), n, 8100 + tonumber(n:match("%d+")))
    end
    local _, err = H.sh(table.concat(cmd, " ") .. " wait")
    assert.equal(20, #H.containers(), err)
    local out, code
    out, err, code = wblcmd("stop", "-t", "1", table.unpack(names))
    assert.equal(0, code, err)
    assert.equal(20, select(2, out:gsub("\n", "")))
    out, err, code = wblcmd("rm", table.unpack(names))
    assert.equal(0, code, err)
    assert.equal(20, select(2, out:gsub("\n", "")))
    nothing_left(names)
    local leases = fs.read_file(require("wbl.net").dir() .. "/bridge/leases.lua")
    assert.same({}, leases and util.unserialise(leases) or {})
  end)
end)
