-- Messages and checks of run.lua (issue 15, item 6): each bad input exits
-- 125 with one line that names the option and says what would do; the
-- /etc files are the container's own, writable; --network host keeps the
-- host's name.
local core = require "wbl.core"
local util = require "wbl.util"
local fs = core.fs
local _

local function run(args) return H.run(args) end

-- The message is one line: "wbl: ...\n" (a "Try:" hint may follow).
local function one_line(err)
  return (err:gsub("Try: [^\n]*\n$", "")):match("^wbl: [^\n]*\n$") ~= nil
end

describe("run.lua's messages and checks #priv", function()
  local work
  before_each(function() work = H.tmpdir() end)
  after_each(function() assert(util.rm_rf(work)) end)

  H.it_priv("the kernel's fsconfig message is part of one line", function()
    local _, err, code = run { "--rm", "--network", "none", "--tmpfs", "/t:size=abc", "true" }
    assert.equal(125, code)
    assert.is_true(one_line(err), err)
    assert.matches("mount /t: mount tmpfs: fsconfig size=abc [tmpfs: Bad value for 'size']: Invalid argument",
      err, 1, true)
  end)

  H.it_priv("--cpuset-cpus and --cpus outside the machine: the online set, docker's words", function()
    local online = assert(fs.read_file("/sys/devices/system/cpu/online")):gsub("%s+$", "")
    local count = require("wbl.args").cpu_count()
    local _, err, code = run { "--rm", "--network", "none", "--cpuset-cpus", "4095", "true" }
    assert.equal(125, code)
    assert.matches(("wbl: --cpuset-cpus 4095: cpu 4095 is not available (online: %s)\n"):format(online), err, 1, true)
    _, err, code = run { "--rm", "--network", "none", "--cpus", tostring(count + 1), "true" }
    assert.equal(125, code)
    assert.matches(("wbl: --cpus %d: Range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available\n")
      :format(count + 1, count, count), err, 1, true)
    _, err, code = run { "--rm", "--network", "none", "--cpus", tostring(count), "true" }
    assert.equal(0, code, err)
  end)

  H.it_priv("-v and --tmpfs over /dev, or over or inside /proc and /sys: refused without --privileged", function()
    local host = work .. "/host"
    assert(fs.mkdir(host, "0755"))
    for _, c in ipairs {
      { "-v", host .. ":/dev", "--volume", "over /dev" }, { "-v", host .. ":/dev/", "--volume", "over /dev" },
      { "-v", host .. ":/proc", "--volume", "over /proc" },
      { "-v", host .. ":/proc/sys/kernel", "--volume", "inside /proc" },
      { "-v", host .. ":/sys/fs/cgroup:ro", "--volume", "inside /sys" },
      { "-v", host .. "://sys", "--volume", "over /sys" },
      { "-v", host .. ":/tmp/../proc", "--volume", "over /proc" }, { "--tmpfs", "/proc/x", "--tmpfs", "inside /proc" },
    } do
      local _, err, code = run { "--rm", "--network", "none", c[1], c[2], "true" }
      assert.equal(125, code, c[2])
      assert.is_true(one_line(err), err)
      assert.matches(("wbl: %s %s: cannot mount %s (wbl's own mount of the kernel's) without --privileged")
        :format(c[3], c[2], c[4]), err, 1, true)
    end
    assert.same({}, fs.readdir(host)) -- no device node made in a host directory
    -- below /dev is fine (a socket, /dev/shm), as docker allows it
    local out, err, code = run { "--rm", "--network", "none", "-v", host .. ":/dev/shm/data", "sh", "-c",
      "echo shared > /dev/shm/data/f; cat /dev/null && echo null-ok" }
    assert.equal(0, code, err)
    assert.equal("null-ok\n", out)
    assert.equal("shared\n", fs.read_file(host .. "/f"))
  end)

  H.it_priv("a command not found is named once", function()
    local _, err, code = run { "--rm", "--network", "none", "nosuchcmd" }
    assert.equal(127, code)
    assert.equal("wbl: exec nosuchcmd: executable file not found in $PATH (ENOENT)\n", err)
    _, err, code = run { "--rm", "--network", "none", "/no/such" }
    assert.equal(127, code)
    assert.equal("wbl: exec /no/such: No such file or directory (ENOENT)\n", err)
    _, err, code = run { "--rm", "--network", "none", "-e", "PATH=/etc", "passwd" }
    assert.equal(126, code)
    assert.equal("wbl: exec passwd: /etc/passwd: Permission denied (EACCES)\n", err)
  end)

  H.it_priv("/etc/hosts, resolv.conf and hostname are the container's own, writable", function()
    local name = H.name("etc")
    -- the line is matched whole: the container's own line names its hex id, which can hold "db"
    local out, err, code = run { "--name", name, "--network", "none", "sh", "-c",
      "echo '10.9.9.9 db' >> /etc/hosts && echo 'nameserver 10.9.9.53' > /etc/resolv.conf && " ..
      "echo renamed > /etc/hostname && grep -cx '10.9.9.9 db' /etc/hosts && cat /etc/resolv.conf /etc/hostname" }
    assert.equal(0, code, err)
    assert.equal("1\nnameserver 10.9.9.53\nrenamed\n", out)
    -- the copies in its state directory changed; the image's files did not
    local dir = H.state_dir(name)
    assert.matches("10.9.9.9 db\n", fs.read_file(dir .. "/hosts"), 1, true)
    assert.equal("nameserver 10.9.9.53\n", fs.read_file(dir .. "/resolv.conf"))
    for _, f in ipairs { "hosts", "resolv.conf", "hostname" } do
      assert.equal("", fs.read_file(H.rootfs .. "/etc/" .. f))
    end
    -- another container has its own
    out, err, code = run { "--rm", "--network", "none", "sh", "-c",
      "grep -cx '10.9.9.9 db' /etc/hosts; cat /etc/resolv.conf" }
    assert.equal(0, code, err)
    assert.equal("0\n", out)
    -- --read-only: they are too
    _, err, code = run { "--rm", "--network", "none", "--read-only", "sh", "-c", "echo x >> /etc/hosts" }
    assert.equal(1, code)
    assert.matches("Read-only file system", err, 1, true)
    _, err, code = H.wbl_run { H.top .. "/scripts/rm.lua", name }
    assert.equal(0, code, err)
  end)

  H.it_priv("--network host keeps the host's hostname, unless --hostname", function()
    local host = core.ns.gethostname()
    local out, err, code = run { "--rm", "--network", "host", "sh", "-c",
      "hostname; echo $HOSTNAME; cat /etc/hostname" }
    assert.equal(0, code, err)
    assert.equal(("%s\n"):format(host):rep(3), out)
    out, err, code = run { "--rm", "--network", "host", "--hostname", "box", "sh", "-c", "hostname; cat /etc/hostname" }
    assert.equal(0, code, err)
    assert.equal("box\nbox\n", out)
    assert.equal(host, core.ns.gethostname()) -- the host's own is untouched
  end)
end)
