-- Confinement steps of init.lua and process.lua that are not a core
-- family of their own: masked and read-only paths, --sysctl, --ulimit,
-- -u/--group-add, no-new-privileges; each proven by what the kernel does
-- inside, and each option's bad values refused (125) before anything is made.
local core = require "wbl.core"
local fs = core.fs

local function run(...)
  local a = { "--rm", "--network", "none" }
  for _, x in ipairs({ ... }) do a[#a + 1] = x end
  return H.run(a)
end

describe("confinement #priv", function()
  H.it_priv("masked paths: an empty read-only tmpfs over a directory, /dev/null over a file", function()
    local out, err, code = run("sh", "-c",
      "ls -A /sys/firmware | wc -l; touch /sys/firmware/x 2>&1 | grep -o 'Read-only'; stat -c %t:%T /proc/keys")
    assert.equal(0, code, err)
    assert.equal("0\nRead-only\n1:3\n", out)
    -- on the host's side of things the directory is not empty
    assert.truthy(#(fs.readdir("/sys/firmware") or {}) > 0)
  end)

  H.it_priv("read-only paths: /proc/sys can be read, not opened for writing", function()
    local out, err, code = run("sh", "-c",
      "cat /proc/sys/kernel/ostype; (exec 3>>/proc/sys/kernel/domainname) 2>&1 | grep -o 'Read-only'")
    assert.equal(0, code, err)
    assert.equal("Linux\nRead-only\n", out)
  end)

  H.it_priv("--security-opt systempaths=unconfined loosens both", function()
    local out, err, code = run("--security-opt", "systempaths=unconfined", "sh", "-c",
      "ls -A /sys/firmware | wc -l; grep -c ' /proc/sys ' /proc/self/mountinfo; true")
    assert.equal(0, code, err)
    local n, ro = out:match("^(%d+)\n(%d+)\n$")
    assert.truthy(tonumber(n) > 0, out)
    assert.equal("0", ro) -- no read-only mount over /proc/sys
  end)

  H.it_priv("--sysctl sets a namespaced sysctl inside, not on the host; others are refused", function()
    local host = fs.read_file("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    local out, err, code = run("--sysctl", "net.ipv4.ip_unprivileged_port_start=99", "cat",
      "/proc/sys/net/ipv4/ip_unprivileged_port_start")
    assert.equal(0, code, err)
    assert.equal("99\n", out)
    assert.equal(host, fs.read_file("/proc/sys/net/ipv4/ip_unprivileged_port_start"))
    local _
    _, err, code = run("--sysctl", "kernel.core_pattern=|/x", "true")
    assert.equal(125, code)
    assert.matches("--sysctl kernel.core_pattern=|/x: not a namespaced sysctl", err, 1, true)
  end)

  H.it_priv("--ulimit sets soft and hard limits the kernel enforces", function()
    local out, err, code = run("--ulimit", "nofile=8:16", "sh", "-c",
      "ulimit -n; ulimit -Hn; (exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null 7</dev/null) && echo 7; " ..
      "(exec 3</dev/null 4</dev/null 5</dev/null 6</dev/null 7</dev/null 8</dev/null) 2>/dev/null || echo refused")
    assert.equal("8\n16\n7\nrefused\n", out, err)
    assert.equal(0, code)
    local _
    _, err, code = run("--ulimit", "nofile=9:8", "true")
    assert.equal(125, code)
    assert.matches("--ulimit nofile=9:8: the soft limit is above the hard one", err, 1, true)
  end)

  H.it_priv("-u and --group-add: names from the image, HOME from its passwd, capabilities gone", function()
    local out, err, code = run("-u", "nobody", "--group-add", "daemon", "sh", "-c",
      "id -u; id -g; id -G; echo $HOME; grep CapEff /proc/self/status; touch /root/x 2>&1 | grep -o denied")
    assert.equal(0, code, err)
    assert.equal("65534\n65534\n65534 1\n/nonexistent\nCapEff:\t0000000000000000\ndenied\n", out)
    out, err, code = run("-u", "1234:daemon", "sh", "-c", "id -u; id -g; echo $HOME")
    assert.equal(0, code, err)
    assert.equal("1234\n1\n/\n", out) -- a uid without an entry: HOME /
    out, err, code = run("-u", "nobody", "-e", "HOME=/h", "sh", "-c", "echo $HOME")
    assert.equal("/h\n", out, err)
    assert.equal(0, code)
    local _
    _, err, code = run("-u", "nosuchuser", "true")
    assert.equal(125, code)
    assert.matches('no user "nosuchuser" in the container\'s /etc/passwd', err, 1, true)
  end)

  H.it_priv("--security-opt no-new-privileges: NoNewPrivs is set for the command", function()
    local out, err, code = run("--security-opt", "no-new-privileges", "grep", "NoNewPrivs", "/proc/self/status")
    assert.equal(0, code, err)
    assert.equal("NoNewPrivs:\t1\n", out)
    out = run("grep", "NoNewPrivs", "/proc/self/status")
    assert.equal("NoNewPrivs:\t0\n", out) -- off by default, as docker
  end)

  H.it_priv("bad confinement options exit 125 naming the option, nothing made", function()
    for _, case in ipairs {
      { "--cap-add", "NOPE" }, { "--security-opt", "label=disable" }, { "--ulimit", "files=1" },
      { "--device", "relative" }, { "-u", "a:b:c" }, { "--group-add", "a b" },
    } do
      local _, err, code = run(case[1], case[2], "true")
      assert.equal(125, code, table.concat(case, " "))
      assert.truthy(err:find(case[1], 1, true), err)
    end
    assert.same({}, H.containers())
  end)
end)
