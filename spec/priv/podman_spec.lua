-- podman driving wbl as its OCI runtime (podman --runtime build/wbl-oci,
-- --cgroup-manager cgroupfs: no systemd here), through conmon as in real
-- use.  Everything podman keeps is in a temp dir of this run (--root,
-- --runroot, --tmpdir, --network-config-dir, the runtime's --root, a
-- containers.conf), its image made with `podman import` from
-- rootfs/busybox; the spec run's own network namespace holds netavark's
-- bridge.  Each case proves its effect from inside or from the host.
-- Skipped, saying so, when podman is not installed (Makefile DEPS has it).
local core = require "wbl.core"
local util = require "wbl.util"
local json = require "dkjson"
local fs = core.fs
local _

local have = H.sh("command -v podman") ~= ""
local T -- the temp dir: podman's state, the runtime's, the image tarball
local image = "localhost/wbl-busybox"

local function podman_line(args)
  local parts = { "podman", "--root", T .. "/root", "--runroot", T .. "/runroot", "--tmpdir", T .. "/tmp",
    "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
    "--network-config-dir", T .. "/net", "--runtime", T .. "/bin/wbl-oci" }
  for _, a in ipairs(args) do parts[#parts + 1] = a end
  for i, p in ipairs(parts) do parts[i] = H.q(p) end
  return "CONTAINERS_CONF=" .. H.q(T .. "/containers.conf") .. " timeout --foreground 120 " .. table.concat(parts, " ")
end

-- podman ARGS...: stdout, stderr, status.
local function podman(...)
  return H.sh(podman_line({ ... }) .. " </dev/null")
end

local function eventually(f, ms)
  for _ = 1, (ms or 10000) // 50 do
    if f() then return true end
    util.sleep_ms(50)
  end
  return f()
end

-- podman's cgroups (cgroupfs: libpod_parent, its conmon and containers)
-- in every hierarchy; cgroups are the host's, whatever namespaces we are in.
local function libpod_dirs()
  local out = {}
  for _, h in ipairs(fs.readdir("/sys/fs/cgroup") or {}) do
    local d = "/sys/fs/cgroup/" .. h .. "/libpod_parent"
    if fs.stat(d) then out[#out + 1] = d end
  end
  if fs.stat("/sys/fs/cgroup/libpod_parent") then out[#out + 1] = "/sys/fs/cgroup/libpod_parent" end
  return out
end
local had_libpod -- it was there before this run: left alone

local function rmdir_tree(d)
  for _, n in ipairs(fs.readdir(d) or {}) do
    local st = fs.lstat(d .. "/" .. n)
    if st and st.type == "directory" then rmdir_tree(d .. "/" .. n) end
  end
  fs.rmdir(d)
end

local function it_podman(name, fn)
  if not have then return pending(name .. " (podman is not installed: apt-get install podman)") end
  return H.it_priv(name, fn)
end

describe("podman with wbl-oci as its runtime #priv", function()
  setup(function()
    if not (have and H.root) then return end
    T = H.tmpdir()
    had_libpod = #libpod_dirs() > 0
    -- the runtime, with a state root of this run's (podman passes no
    -- --root; its cleanup processes would not get a --runtime-flag)
    assert(fs.mkdir(T .. "/bin", "0755"))
    assert(fs.write_file(T .. "/bin/wbl-oci", ("#!/bin/sh\nexec %s --root %s \"$@\"\n"):format(
      H.q(H.top .. "/build/wbl-oci"), H.q(T .. "/state")), nil, "0755"))
    -- the limits podman asks for by default (nofile 1048576) are above
    -- what this machine lets root raise to (no CAP_SYS_RESOURCE): ours
    local _, nofile = core.proc.getrlimit("RLIMIT_NOFILE")
    local _, nproc = core.proc.getrlimit("RLIMIT_NPROC")
    if nofile == "unlimited" then nofile = 1048576 end
    if nproc == "unlimited" or nproc > 32768 then nproc = 32768 end -- podman lowers its own to that
    assert(fs.write_file(T .. "/containers.conf", ("[containers]\ndefault_ulimits = [\"nofile=%d:%d\", " ..
      "\"nproc=%d:%d\"]\n"):format(nofile, nofile, nproc, nproc)))
    assert(os.execute(("cd %s && tar cf %s ."):format(H.q(H.rootfs), H.q(T .. "/busybox.tar"))))
    local _, err, code = podman("import", "-q", T .. "/busybox.tar", image)
    assert(code == 0, err)
  end)

  teardown(function()
    if not T then return end
    podman("rm", "--all", "--force", "--time", "0")
    podman("rmi", "--all", "--force")
    util.rm_rf(T)
    if not had_libpod then
      for _, d in ipairs(libpod_dirs()) do rmdir_tree(d) end
    end
  end)

  it_podman("podman info names wbl-oci, its version and the runtime-spec version", function()
    local out, err, code = podman("info", "--format", "{{.Host.OCIRuntime.Name}}|{{.Host.OCIRuntime.Version}}")
    assert.equal(0, code, err)
    assert.matches("wbl%-oci|wbl%-oci version %S+", out)
    assert.matches("spec: 1%.", out)
  end)

  it_podman("run --rm busybox echo hi: its output and status; nothing is left, in podman or the runtime", function()
    local out, err, code = podman("run", "--rm", "--network", "none", image, "echo", "hi")
    assert.equal(0, code, err)
    assert.equal("hi\n", out)
    out = podman("ps", "-a", "-q")
    assert.equal("", out)
    assert.same({}, fs.readdir(T .. "/state/containers") or {})
    -- an exit status comes through; a missing command is 127 as with runc
    _, _, code = podman("run", "--rm", "--network", "none", image, "sh", "-c", "exit 3")
    assert.equal(3, code)
    _, err, code = podman("run", "--rm", "--network", "none", image, "nosuchcommand")
    assert.equal(127, code, err)
    assert.matches("executable file not found", err)
  end)

  it_podman("run -d, ps, logs, exec (and exec -t), stop, rm", function()
    local out, err, code = podman("run", "-d", "--name", "wbl-d", "--network", "none", image, "sh", "-c",
      "trap 'echo bye; exit 0' TERM; echo started; while :; do sleep 0.1; done")
    assert.equal(0, code, err)
    local id = out:match("^(%x+)\n$")
    assert.equal(64, #(id or ""), out)
    out = podman("ps", "--format", "{{.Names}} {{.Status}}")
    assert.matches("wbl%-d Up", out)
    assert.is_true(eventually(function() return (podman("logs", "wbl-d")) == "started\n" end))
    -- the runtime's state agrees
    local st = json.decode((H.sh(H.q(T .. "/bin/wbl-oci") .. " state " .. id)))
    assert.equal("running", st.status)
    out, err, code = podman("exec", "wbl-d", "sh", "-c", "echo in $(hostname); cat /proc/1/cmdline | tr '\\0' ' '")
    assert.equal(0, code, err)
    assert.matches("^in %x+\nsh %-c trap", out)
    out, err, code = podman("exec", "-t", "wbl-d", "tty")
    assert.equal(0, code, err)
    assert.matches("^/dev/pts/%d+", out)
    _, _, code = podman("exec", "wbl-d", "sh", "-c", "exit 4")
    assert.equal(4, code)
    _, err, code = podman("exec", "wbl-d", "nosuchcommand")
    assert.equal(127, code, err)
    -- stop: SIGTERM, which the trap takes
    _, err, code = podman("stop", "-t", "10", "wbl-d")
    assert.equal(0, code, err)
    out = podman("ps", "-a", "--format", "{{.Names}} {{.Status}}")
    assert.matches("wbl%-d Exited %(0%)", out)
    assert.matches("bye", (podman("logs", "wbl-d")))
    _, err, code = podman("rm", "wbl-d")
    assert.equal(0, code, err)
    assert.equal("", (podman("ps", "-a", "-q")))
    assert.same({}, fs.readdir(T .. "/state/containers") or {})
  end)

  it_podman("run -it: a terminal of its own, in tmux (size, tty, keystrokes)", function()
    local sock = "wbl-podman-" .. util.random_hex(4)
    local script = T .. "/it.sh"
    assert(fs.write_file(script, podman_line { "run", "-it", "--rm", "--network", "none", image, "sh" } .. "\n"))
    local function tmux(...)
      local a = { "tmux", "-L", sock }
      for _, x in ipairs({ ... }) do a[#a + 1] = H.q(x) end
      return H.sh(table.concat(a, " "))
    end
    local _, err, code = tmux("new-session", "-d", "-x", "90", "-y", "27", "sh " .. script)
    assert.equal(0, code, err)
    local ok, e = pcall(function()
      assert.is_true(eventually(function() return (tmux("capture-pane", "-p")):find("/ #", 1, true) ~= nil end,
        30000), (tmux("capture-pane", "-p")))
      tmux("send-keys", "tty; stty size; echo $((6*7))", "Enter")
      assert.is_true(eventually(function() return (tmux("capture-pane", "-p")):find("\n42\n", 1, true) ~= nil end))
      local screen = tmux("capture-pane", "-p")
      assert.matches("/dev/console", screen)
      assert.matches("27 90", screen)
      tmux("send-keys", "exit", "Enter")
      assert.is_true(eventually(function() return select(3, tmux("has-session")) ~= 0 end, 20000))
    end)
    tmux("kill-server")
    assert(ok, e)
    assert.equal("", (podman("ps", "-a", "-q")))
  end)

  it_podman("--memory and --pids-limit: the container's cgroup files say so, and the pids limit holds", function()
    local out, err, code = podman("run", "--rm", "--network", "none", "--memory", "64m", "--pids-limit", "20", image,
      "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max " ..
      "/sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; " ..
      "f=/sys/fs/cgroup/pids/pids.current; test -f $f || f=/sys/fs/cgroup/pids.current; " ..
      "(for i in $(seq 30); do sleep 5 & done) 2>/dev/null; read n < $f; echo started $n; true")
    assert.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(tostring(64 * 1024 * 1024), lines[1])
    assert.equal("20", lines[2])
    local n = tonumber(lines[3]:match("started (%d+)"))
    assert.is_true(n <= 20, out)
  end)

  it_podman("-p: a published port answers from the host", function()
    local out, err, code = podman("run", "-d", "--name", "wbl-web", "-p", "8097:80", image, "httpd", "-f", "-p",
      "80", "-h", "/etc")
    assert.equal(0, code, err)
    local id = out:match("^(%x+)")
    local got
    assert.is_true(eventually(function()
      got = H.sh("curl -s -m 2 http://127.0.0.1:8097/hostname")
      return got:gsub("\n$", "") == id:sub(1, 12) -- (podman's /etc/hostname has no newline)
    end, 15000), got)
    _, err, code = podman("rm", "-f", "-t", "0", "wbl-web")
    assert.equal(0, code, err)
  end)

  it_podman("--cap-drop: the capability is gone from every set, and what it allows fails", function()
    local out, err, code = podman("run", "--rm", "--network", "none", "--cap-drop", "CHOWN", image, "sh", "-c",
      "grep -E 'CapEff|CapBnd' /proc/self/status; chown 1 /tmp && echo chowned || echo refused")
    assert.equal(0, code, err)
    local eff = tonumber(out:match("CapEff:%s*(%x+)"), 16)
    local bnd = tonumber(out:match("CapBnd:%s*(%x+)"), 16)
    assert.equal(0, eff & 1) -- CAP_CHOWN is bit 0
    assert.equal(0, bnd & 1)
    assert.is_true(eff & (1 << 5) ~= 0) -- CAP_KILL stays
    assert.matches("refused", out)
    out = podman("run", "--rm", "--network", "none", image, "sh", "-c", "chown 1 /tmp && echo chowned")
    assert.equal("chowned\n", out)
  end)

  it_podman("--read-only: the root refuses writes; podman's tmpfs (/tmp, /run) take them", function()
    local out, err, code = podman("run", "--rm", "--network", "none", "--read-only", image, "sh", "-c",
      "touch /x 2>&1; touch /tmp/y && echo tmp-ok; touch /run/z && echo run-ok")
    assert.equal(0, code, err)
    assert.matches("Read%-only file system", out)
    assert.matches("tmp%-ok", out)
    assert.matches("run%-ok", out)
  end)

  it_podman("-v: a host directory inside, both ways; :ro refuses writes", function()
    local dir = T .. "/vol"
    assert(fs.mkdir(dir, "0755"))
    assert(fs.write_file(dir .. "/in", "from the host\n"))
    local out, err, code = podman("run", "--rm", "--network", "none", "-v", dir .. ":/data", image, "sh", "-c",
      "cat /data/in; echo from the container > /data/out")
    assert.equal(0, code, err)
    assert.equal("from the host\n", out)
    assert.equal("from the container\n", fs.read_file(dir .. "/out"))
    out = podman("run", "--rm", "--network", "none", "-v", dir .. ":/data:ro", image, "sh", "-c",
      "touch /data/x 2>&1; true")
    assert.matches("Read%-only file system", out)
    assert.is_nil(fs.stat(dir .. "/x"))
  end)

  it_podman("--user: the uid and gid, and no capabilities", function()
    local out, err, code = podman("run", "--rm", "--network", "none", "--user", "1000:1001", image, "sh", "-c",
      "id -u; id -g; grep CapEff /proc/self/status")
    assert.equal(0, code, err)
    assert.matches("^1000\n1001\nCapEff:%s*0+\n$", out)
  end)

  it_podman("pause and unpause: podman says paused, and nothing inside runs until unpause", function()
    local _, err, code = podman("run", "-d", "--name", "wbl-p", "--network", "none", image, "sh", "-c",
      "while :; do date +%s%N > /tmp/tick; sleep 0.05; done")
    assert.equal(0, code, err)
    local function tick() return (podman("exec", "wbl-p", "cat", "/tmp/tick")) end
    assert.is_true(eventually(function() return tick() ~= "" end))
    _, err, code = podman("pause", "wbl-p")
    assert.equal(0, code, err)
    local out = podman("inspect", "--format", "{{.State.Status}}", "wbl-p")
    assert.equal("paused\n", out)
    -- frozen: the file inside (read from the host: exec cannot run in a paused one) stays
    local id = (podman("inspect", "--format", "{{.Id}}", "wbl-p")):match("%x+")
    local st = json.decode((H.sh(H.q(T .. "/bin/wbl-oci") .. " state " .. id)))
    assert.equal("paused", st.status)
    local pid = st.pid
    local before = fs.read_file("/proc/" .. pid .. "/root/tmp/tick")
    util.sleep_ms(300)
    assert.equal(before, fs.read_file("/proc/" .. pid .. "/root/tmp/tick"))
    _, err, code = podman("unpause", "wbl-p")
    assert.equal(0, code, err)
    assert.equal("running\n", (podman("inspect", "--format", "{{.State.Status}}", "wbl-p")))
    assert.is_true(eventually(function() return fs.read_file("/proc/" .. pid .. "/root/tmp/tick") ~= before end))
    _, err, code = podman("rm", "-f", "-t", "0", "wbl-p")
    assert.equal(0, code, err)
  end)
end)
