-- Container networking end to end: scripts/run.lua --network / -p,
-- scripts/network.lua, scripts/cleanup.lua, and the address leases.  The
-- "host" is the spec run's own network namespace (spec/helper.lua); the
-- other host a client reaches mapped ports from is a child namespace wired
-- to it by a veth.  After every case no wbl link but the default bridge,
-- no NAT table of a container and no lease remain; at the end, none at all.
local core = require "wbl.core"
local util = require "wbl.util"
local P = core.proc
local wnet = require "wbl.net"

local function sh(cmd) return H.sh(cmd) end

local sleep_ms = util.sleep_ms

-- Wait (10 ms steps, at most 20 s) until f() is true.
local function eventually(f)
  for _ = 1, 2000 do
    if f() then return true end
    sleep_ms(10)
  end
  return f()
end

local function links(prefix)
  local out = {}
  for name in (sh("ip -o link show")):gmatch("%d+: ([^:@]+)") do
    if name:sub(1, #prefix) == prefix then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

local function nft_tables()
  local out = {}
  for t in (sh("nft list tables")):gmatch("table ip (wbl_%S+)") do out[#out + 1] = t end
  table.sort(out)
  return out
end

local function leases(net)
  local s = core.fs.read_file(wnet.dir() .. "/" .. net .. "/leases.lua")
  return s and util.unserialise(s) or {}
end

local function count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local function state(name)
  return assert(require("wbl.state").load(name))
end

-- A container in the background, its stdin a pipe (-i): it runs until
-- :stop() writes a line (the commands here end with `read x`).
local function start(args)
  local out = os.tmpname()
  local parts = { H.q(H.wbl), H.q(H.top .. "/scripts/run.lua"), "-i" }
  for _, a in ipairs(args) do parts[#parts + 1] = H.q(a) end
  local p = assert(io.popen(table.concat(parts, " ") .. " >" .. out .. " 2>&1", "w"))
  local h = {}
  function h.wait_for(pat)
    local s
    eventually(function()
      s = core.fs.read_file(out) or ""
      return s:match(pat) ~= nil or s:match("wbl: ") ~= nil
    end)
    assert(s:match(pat), "container output: " .. s)
    return s
  end
  function h.stop()
    if not p then return end
    P.signal("SIGPIPE", "ignore") -- the container may be gone already
    p:write("\n")
    p:flush()
    P.signal("SIGPIPE", "default")
    local _, _, code = p:close()
    p = nil
    local s = core.fs.read_file(out) or ""
    os.remove(out)
    return code, s
  end
  return h
end

local netns = H.netns

local function nothing_left()
  -- The veths go with the containers' namespaces, a little after them.
  assert.is_true(eventually(function() return #links("wblv") == 0 end), table.concat(links("wblv"), " "))
  assert.same({}, links("wblt"))
  for _, t in ipairs(nft_tables()) do assert.is_nil(t:match("^wbl_wblv"), t) end
  for _, n in ipairs(core.fs.readdir(wnet.dir()) or {}) do
    if n ~= "lock" then assert.same({}, leases(n), "leases of " .. n) end
  end
end

describe("container networking #priv #netns", function()
  after_each(function() if H.root then nothing_left() end end)
  teardown(function()
    if not H.root then return end
    sh(H.q(H.wbl) .. " scripts/network.lua rm bridge")
    nothing_left()
    assert.same({}, links("wbl"))
    assert.same({}, nft_tables())
  end)

  H.it_priv("bad --network and -p values exit 125 before anything is made", function()
    local before = H.containers()
    for _, args in ipairs {
      { "--network", "nope", "true" }, { "-p", "99999:80", "true" }, { "-p", "8080:80-81", "true" },
      { "-p", "8080:80/sctp", "true" }, { "--network", "none", "-p", "8080:80", "true" },
    } do
      local _, err, code = H.run(args)
      assert.equal(125, code, table.concat(args, " "))
      assert.matches("wbl: ", err)
    end
    local _, err = H.run { "--network", "nope", "true" }
    assert.matches('no network named "nope"', err)
    assert.same(before, H.containers())
  end)

  H.it_priv("bridge (default): eth0 with a leased address, a default route, /etc files", function()
    local out, err, code = H.run { "--name", "n1", "--hostname", "box1", "sh", "-c",
      "ip -o -4 addr show eth0; ip route; cat /etc/hosts /etc/hostname; ip -o link show lo; " ..
      "echo '10.9.9.9 extra' >> /etc/hosts && echo written" }
    assert.equal(0, code, err)
    local ip = out:match("inet (10%.%d+%.%d+%.%d+)/16")
    assert.truthy(ip, out)
    assert.matches("default via %d+%.%d+%.0%.1 dev eth0", out)
    assert.matches(ip:gsub("%.", "%%.") .. "\tbox1", out)
    assert.matches("\nbox1\n", out)
    assert.matches("lo: <LOOPBACK,UP", out)
    assert.matches("\nwritten\n$", out) -- writable, as docker's: the container's own copy
    -- The image was not written.
    assert.equal("", core.fs.read_file(H.rootfs .. "/etc/hosts"))
  end)

  H.it_priv("cleanup.lua removes a default network that nobody uses or waits on", function()
    assert.is_true(eventually(function() return core.fs.stat(wnet.dir() .. "/bridge") == nil end))
    assert(require("wbl.net").ensure("bridge")) -- as if its reaper had been killed
    assert.truthy(core.nl.open():link("wbl0"))
    local _, err, code = H.wbl_run { H.top .. "/scripts/cleanup.lua" }
    assert.equal(0, code, err)
    assert.is_nil(core.nl.open():link("wbl0"))
    assert.is_nil(core.fs.stat(wnet.dir() .. "/bridge"))
  end)

  H.it_priv("the default network lives while containers use it", function()
    -- a network left by earlier cases goes after its grace period
    assert.is_true(eventually(function()
      return core.nl.open():link("wbl0") == nil and core.fs.stat(wnet.dir() .. "/bridge") == nil
    end))
    local forward = core.fs.read_file("/proc/sys/net/ipv4/ip_forward")
    local a = start { "--name", "life", "sh", "-c", "echo ready; read x" }
    finally(function() a.stop() end)
    a.wait_for("ready")
    -- made on first use: bridge wbl0 holds the gateway, NAT, forwarding
    assert.matches("inet 10%.%d+%.0%.1/16", (sh("ip -o -4 addr show dev wbl0")))
    assert.matches("masquerade", (sh("nft list table ip wbl_wbl0")))
    assert.equal("1", core.fs.read_file("/proc/sys/net/ipv4/ip_forward"):sub(1, 1))
    assert.equal(0, (a.stop()))
    -- removed once the last container has been gone for the grace
    -- period (WBL_NET_GRACE_MS), forwarding put back
    assert.is_true(eventually(function()
      return core.nl.open():link("wbl0") == nil and core.fs.stat(wnet.dir() .. "/bridge") == nil
    end))
    local _, _, code = sh("nft list table ip wbl_wbl0")
    assert.not_equal(0, code)
    assert.equal(forward, core.fs.read_file("/proc/sys/net/ipv4/ip_forward"))
    assert.is_nil(core.fs.stat(wnet.dir() .. "/bridge"))
  end)

  H.it_priv("two containers on one bridge ping each other and the gateway", function()
    local a = start { "--name", "pa", "sh", "-c", "echo ready; read x" }
    finally(function() a.stop() end)
    a.wait_for("ready")
    local st = state("pa")
    local out, err, code = H.run { "--name", "pb", "sh", "-c",
      ("ping -c1 -W2 %s && ping -c1 -W2 %s"):format(st.net.ip, st.net.gateway) }
    assert.equal(0, code, out .. err)
    assert.matches("1 packets received", out)
    -- and back: the host (the gateway) reaches a.
    local _, _, c2 = sh("busybox ping -c1 -W2 " .. st.net.ip)
    assert.equal(0, c2)
    assert.equal(0, (a.stop()))
  end)

  H.it_priv("--network none has lo only; host shares the host's links", function()
    local out, err, code = H.run { "--network", "none", "sh", "-c", "ip -o link show; cat /etc/hosts" }
    assert.equal(0, code, err)
    assert.matches("1: lo:", out)
    assert.is_nil(out:match("eth0"))
    local a = start { "--name", "hostnet", "sh", "-c", "echo ready; read x" }
    finally(function() a.stop() end)
    a.wait_for("ready") -- the default network exists while a runs
    out, err, code = H.run { "--network", "host", "sh", "-c", "ip -o link show" }
    assert.equal(0, code, err)
    assert.matches("wbl0", out)
  end)

  H.it_priv("a TCP server in a container: by its address, and -p from another host and the host", function()
    -- The other host: a namespace on 192.168.250.0/24 routed through us.
    local client, srv = netns(), nil
    local nl = assert(core.nl.open())
    finally(function()
      if srv then srv.stop() end
      client.done()
      nl:link_del("wbltc0")
      nl:close()
    end)
    assert(nl:link_add { name = "wbltc0", kind = "veth", peer = { name = "eth0", pid = client.pid } })
    assert(nl:addr_add("wbltc0", "192.168.250.1/24"))
    assert(nl:link_set("wbltc0", { up = true }))
    do
      local cn <close> = assert(core.nl.open(client.path))
      assert(cn:addr_add("eth0", "192.168.250.2/24"))
      assert(cn:link_set("eth0", { up = true }))
      assert(cn:route_add { dst = "default", gateway = "192.168.250.1" })
    end
    srv = start { "--name", "web", "--hostname", "webbox", "-p", "8080:80", "-p", "9090:9000/udp", "sh", "-c",
      "httpd -p 80 -h /etc && echo ready; read x" }
    srv.wait_for("ready")
    local ip = state("web").net.ip
    -- GET /hostname with busybox nc (busybox wget crashes on this host).
    local function get(hostport, pid)
      local cmd = ("printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 5 %s %s")
        :format(hostport:match("^(.*):(%d+)$"))
      if pid then cmd = ("nsenter -t %d -n sh -c %s"):format(pid, H.q(cmd)) end
      local out, err, code = sh(cmd)
      return out:match("\r\n\r\n(.*)$") or "", err, code
    end
    -- By its address, from the host.
    local out, err = get(ip .. ":80")
    assert.equal("webbox\n", out, err)
    -- Through the mapped port, from the other host...
    out, err = get("192.168.250.1:8080", client.pid)
    assert.equal("webbox\n", out, err)
    -- ... and from the host itself (one of its addresses).
    out, err = get("192.168.250.1:8080")
    assert.equal("webbox\n", out, err)
    -- From the host's loopback, as a docker user tries it first, with curl.
    for _, url in ipairs { "http://127.0.0.1:8080/hostname", "http://localhost:8080/hostname" } do
      local body, cerr, ccode = sh("curl -sS --max-time 5 " .. url)
      assert.equal(0, ccode, url .. ": " .. cerr)
      assert.equal("webbox\n", body, url)
    end
    -- From another container on the same network: the host's addresses
    -- (its gateway, another of its links) and the published port.
    local gw = state("web").net.gateway
    local code
    out, err, code = H.run { "sh", "-c", ("for a in %s 192.168.250.1; do " ..
      "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 5 $a 8080 | tail -n 1; done"):format(gw) }
    assert.equal(0, code, err)
    assert.equal("webbox\nwebbox\n", out)
    -- Port 8081 is not mapped: refused.
    out = get("192.168.250.1:8081", client.pid)
    assert.equal("", out)
    -- The rules live in the container's own table.
    local veth = state("web").net.veth
    assert.matches("dnat to " .. ip:gsub("%.", "%%.") .. ":80", (sh("nft list table ip wbl_" .. veth)))
    -- UDP through its mapped port, from the other host.  busybox has no
    -- UDP listener: the datagram's arrival shows in the container's own
    -- UDP counters (port 9000 has no socket: NoPorts counts it).
    local cpid = state("web").pid
    local function noports()
      local snmp = core.fs.read_file("/proc/" .. cpid .. "/net/snmp")
      local names, values = snmp:match("Udp: (InDatagrams[^\n]*)\nUdp: ([^\n]*)")
      local i = 0
      for n in names:gmatch("%S+") do
        i = i + 1
        if n == "NoPorts" then
          local j = 0
          for v in values:gmatch("%S+") do j = j + 1; if j == i then return tonumber(v) end end
        end
      end
    end
    local before = noports()
    sh(("nsenter -t %d -n bash -c %s"):format(client.pid,
      H.q("echo udp-hello > /dev/udp/192.168.250.1/9090")))
    assert.is_true(eventually(function() return noports() > before end))
    assert.matches("dnat to " .. ip:gsub("%.", "%%.") .. ":9000", (sh("nft list table ip wbl_" .. veth)))
    local c = srv.stop()
    assert.equal(0, c)
    assert.equal("", (sh("nft list table ip wbl_" .. veth .. " 2>/dev/null")))
  end)

  H.it_priv("route_localnet on the bridge does not open the host's loopback to what is on it", function()
    -- A server on the host's 127.0.0.1 only, and a host on the bridge
    -- (a namespace with a veth on wbl0, which can send anything it likes:
    -- no container confinement) that routes 127.0.0.0/8 to the gateway.
    local www = H.tmpdir()
    assert(core.fs.write_file(www .. "/secret", "host-only\n"))
    local a = start { "--name", "lo1", "sh", "-c", "echo ready; read x" } -- makes the network
    local attacker, srv_pid = netns(), nil
    local nl = assert(core.nl.open())
    finally(function()
      if srv_pid then P.kill(srv_pid, "SIGTERM"); P.waitpid(srv_pid) end
      attacker.done()
      nl:link_del("wblta0")
      nl:close()
      a.stop()
      util.rm_rf(www)
    end)
    a.wait_for("ready")
    srv_pid = assert(P.fork())
    if srv_pid == 0 then
      P.execve("/bin/busybox", { "busybox", "httpd", "-f", "-p", "127.0.0.1:8999", "-h", www })
      P._exit(127)
    end
    local st = state("lo1")
    assert.is_true(eventually(function() return (sh("curl -s http://127.0.0.1:8999/secret")) == "host-only\n" end))
    assert(nl:link_add { name = "wblta0", kind = "veth", peer = { name = "eth0", pid = attacker.pid } })
    assert(nl:link_set("wblta0", { master = st.net.bridge, up = true }))
    local base = st.net.ip:match("^(%d+%.%d+)%.")
    local function in_ns(cmd)
      return sh(("nsenter -t %d -n sh -c %s"):format(attacker.pid, H.q(cmd)))
    end
    local _, err, code = in_ns(("ip addr add %s.255.250/%d dev eth0 && ip link set eth0 up && " ..
      "echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet && " ..
      "ip route add 127.0.0.0/8 via %s dev eth0 onlink"):format(base, st.net.prefixlen, st.net.gateway))
    assert.equal(0, code, err)
    -- The path is real: the same host reaches the gateway's own address.
    local out
    out, err = in_ns(("busybox ping -c1 -W2 %s >/dev/null && echo ping"):format(st.net.gateway))
    assert.matches("ping", out, err)
    out = in_ns("curl -sS --max-time 3 http://127.0.0.1:8999/secret 2>&1; echo curl=$?")
    assert.is_nil(out:match("host%-only"), out)
    assert.matches("curl=28", out) -- dropped: a time-out, not even a refusal
  end)

  H.it_priv("50 parallel allocations are distinct; a dead owner's address is reused", function()
    local ipam = require "wbl.ipam"
    local dir = os.tmpname()
    os.remove(dir)
    assert(core.fs.mkdir(dir, "0700"))
    finally(function() util.rm_rf(dir) end)
    local r, w = assert(core.fd.pipe())
    local go_r, go_w = assert(core.fd.pipe())
    local done_r, done_w = assert(core.fd.pipe())
    local pids = {}
    for i = 1, 50 do
      local pid = assert(P.fork())
      if pid == 0 then
        r:close()
        go_w:close()
        done_w:close()
        go_r:read(1) -- all start together
        local me = P.getpid()
        local ip, msg = ipam.allocate(dir, "10.77.0.0/16",
          { id = "c" .. i, pid = me, starttime = require("wbl.proc").starttime(me) })
        w:write((ip or ("ERR " .. tostring(msg))) .. "\n")
        w:close()
        done_r:read(1) -- an owner that has exited is dead: live until all have allocated
        P._exit(0)
      end
      pids[#pids + 1] = pid
    end
    w:close()
    go_r:close()
    go_w:close() -- go
    local got = {}
    while true do
      local s = r:read(4096)
      if not s or s == "" then break end
      got[#got + 1] = s
    end
    r:close()
    done_r:close()
    done_w:close() -- the owners may go
    for _, pid in ipairs(pids) do P.waitpid(pid) end
    local seen, n = {}, 0
    for ip in table.concat(got):gmatch("[^\n]+") do
      assert.matches("^10%.77%.0%.%d+$", ip)
      assert.is_nil(seen[ip], "twice: " .. ip)
      seen[ip] = true
      n = n + 1
    end
    assert.equal(50, n)
    assert.truthy(seen["10.77.0.2"] and seen["10.77.0.51"])
    assert.equal(50, count(ipam.leases(dir)))
    -- Their owners are gone: the next allocation reclaims every lease.
    local me = P.getpid()
    local stale = 0
    assert.equal("10.77.0.2", ipam.allocate(dir, "10.77.0.0/16",
      { id = "live", pid = me, starttime = require("wbl.proc").starttime(me) },
      function() stale = stale + 1 end))
    assert.equal(50, stale)
    assert.equal(1, count(ipam.leases(dir)))
    assert(ipam.release(dir, "10.77.0.2", "live"))
    assert.same({}, ipam.leases(dir))
  end)

  H.it_priv("named networks: isolated from each other; their containers know each other by name", function()
    local net = H.q(H.wbl) .. " scripts/network.lua "
    local a, b, c2 = nil, nil, nil
    finally(function()
      for _, j in ipairs { a, b, c2 } do j.stop() end
      sh(net .. "rm tiso1 tiso2")
    end)
    assert.equal(0, select(3, sh(net .. "create --subnet 10.251.20.0/24 tiso1")))
    assert.equal(0, select(3, sh(net .. "create --subnet 10.251.21.0/24 tiso2")))
    a = start { "--network", "tiso1", "--name", "srva", "sh", "-c", "httpd -p 80 -h /etc && echo ready; read x" }
    a.wait_for("ready")
    b = start { "--network", "tiso1", "--name", "srvb", "sh", "-c", "echo ready; read x" }
    b.wait_for("ready")
    local ip = state("srva").net.ip
    local get = "printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | nc -w 3 %s 80 | tail -n 1; echo rc=$?"
    -- by name, on the same network; and each new container is in the others' /etc/hosts
    local out, err = H.run { "--rm", "--network", "tiso1", "--name", "cli1", "sh", "-c",
      get:format("srva") .. "; cat /etc/hosts" }
    assert.matches("^srva\nrc=0\n", out, err)
    assert.matches("10%.251%.20%.%d+\tsrvb\n", out)
    c2 = start { "--network", "tiso1", "--name", "late", "sh", "-c", "echo ready; read x" }
    c2.wait_for("ready")
    local late = state("late").net.ip
    assert.matches(late:gsub("%.", "%%.") .. "\tlate\n", core.fs.read_file(state("srvb").state_dir .. "/hosts"))
    c2.stop()
    assert.is_nil(core.fs.read_file(state("srvb").state_dir .. "/hosts"):match("\tlate"))
    -- another network cannot reach it, by address
    out = H.run { "--rm", "--network", "tiso2", "sh", "-c", get:format(ip) }
    assert.equal("rc=0\n", out) -- nothing came back: dropped between the bridges
    out = H.run { "--rm", "--network", "tiso1", "sh", "-c", get:format(ip) }
    assert.equal("srva\nrc=0\n", out)
  end)

  H.it_priv("-p clashes are refused naming the holder; IP:HOST:CTR, ranges, a free port", function()
    -- a host program on the port (busted runs one finally a case: this one
    -- ends all it started)
    local a, b
    local pid = assert(P.fork())
    if pid == 0 then
      P.setsid() -- a group of its own: whatever busybox nc forks goes with it
      P.execve("/bin/busybox", { "busybox", "nc", "-l", "-p", "8133" })
      P._exit(127)
    end
    finally(function()
      P.kill(-pid, "SIGKILL")
      P.kill(pid, "SIGKILL")
      P.waitpid(pid)
      if a then a.stop() end
      if b then b.stop() end
    end)
    local listening = "cat /proc/net/tcp /proc/net/tcp6 | grep -ci ':1FC5 '" -- 8133
    assert.is_true(eventually(function() return (sh(listening)) ~= "0\n" end))
    local _, err, code = H.run { "--rm", "-p", "8133:80", "true" }
    assert.equal(125, code)
    assert.matches("0%.0%.0%.0:8133/tcp is already taken by busybox %(pid " .. pid .. "%)", err)
    -- another container's
    a = start { "--name", "holder", "-p", "8134:80", "sh", "-c", "echo ready; read x" }
    a.wait_for("ready")
    _, err, code = H.run { "--rm", "-p", "8134:80", "true" }
    assert.equal(125, code)
    assert.matches("8134/tcp is already taken by container holder", err)
    -- IP:HOST:CTR, a range, and no host port (a free one)
    b = start { "--name", "ports", "-p", "127.0.0.1:8135:80", "-p", "8136-8137:90-91", "-p", "92",
      "sh", "-c", "httpd -p 80 -h /etc && echo ready; read x" }
    b.wait_for("ready")
    local out = H.wbl_run { H.top .. "/scripts/port.lua", "ports" }
    assert.matches("80/tcp %-> 127%.0%.0%.1:8135\n90/tcp %-> 0%.0%.0%.0:8136\n91/tcp %-> 0%.0%.0%.0:8137\n" ..
      "92/tcp %-> 0%.0%.0%.0:%d+\n", out)
    local body = sh("curl -sS --max-time 5 http://127.0.0.1:8135/hostname")
    assert.equal("ports\n", body)
    -- only on 127.0.0.1: another host address does not answer
    local gw = state("ports").net.gateway
    _, _, code = sh("curl -sS --max-time 2 http://" .. gw .. ":8135/hostname")
    assert.not_equal(0, code)
  end)

  H.it_priv("network.lua rm puts ip_forward back when wbl turned it on", function()
    local net = H.q(H.wbl) .. " scripts/network.lua "
    -- no network at all first (the default one goes after its grace period)
    assert.is_true(eventually(function() return #(wnet.list()) == 0 end))
    local was = core.fs.read_file("/proc/sys/net/ipv4/ip_forward")
    finally(function() core.fs.write_file("/proc/sys/net/ipv4/ip_forward", was, "trunc") end)
    assert(core.fs.write_file("/proc/sys/net/ipv4/ip_forward", "0\n", "trunc"))
    assert.equal(0, select(3, sh(net .. "create --subnet 10.251.22.0/24 tfwd")))
    assert.equal("1\n", core.fs.read_file("/proc/sys/net/ipv4/ip_forward"))
    assert.equal(0, select(3, sh(net .. "rm tfwd")))
    assert.equal("0\n", core.fs.read_file("/proc/sys/net/ipv4/ip_forward"))
  end)

  H.it_priv("named networks: create (subnet checked), use, list, remove", function()
    local net = H.q(H.wbl) .. " scripts/network.lua "
    local out, err, code = sh(net .. "create --subnet 10.251.7.0/24 tnet")
    assert.equal(0, code, err)
    assert.matches("tnet\twbl%-tnet\t10%.251%.7%.0/24", out)
    local nl, a, _ = assert(core.nl.open()), nil, nil
    finally(function()
      if a then a.stop() end
      sh(net .. "rm tnet")
      nl:link_del("wbltx")
      nl:close()
    end)
    _, err, code = sh(net .. "create tnet")
    assert.equal(1, code)
    assert.matches('network "tnet" already exists %(EEXIST%)', err)
    -- A subnet the host already routes is refused.
    _, err, code = sh(net .. "create --subnet 10.251.7.128/25 tnet2")
    assert.equal(1, code)
    assert.matches("overlaps 10%.251%.7%.0/24 %(EADDRINUSE%)", err)
    assert(nl:link_add { name = "wbltx", kind = "bridge" })
    assert(nl:addr_add("wbltx", "10.252.9.1/24"))
    _, err, code = sh(net .. "create --subnet 10.252.0.0/16 tnet2")
    assert.equal(1, code)
    assert.matches("overlaps 10%.252%.9%.", err)
    -- In use.
    a = start { "--network", "tnet", "--name", "tn", "sh", "-c",
      "ip -o -4 addr show eth0; ping -c1 -W2 10.251.7.1 && echo ready; read x" }
    out = a.wait_for("ready")
    assert.matches("inet 10%.251%.7%.2/24", out)
    out = sh(net .. "list")
    assert.matches("tnet\twbl%-tnet\t10%.251%.7%.0/24\t10%.251%.7%.1\tnft\t1", out)
    _, err, code = sh(net .. "rm tnet")
    assert.equal(1, code)
    assert.matches("in use by container tn .*%(EBUSY%)", err)
    assert.equal(0, (a.stop()))
    out, err, code = sh(net .. "rm tnet")
    assert.equal(0, code, err)
    assert.equal("tnet\n", out)
    assert.same({}, links("wbl-tnet"))
    assert.is_nil(core.fs.stat(wnet.dir() .. "/tnet"))
    for _, t in ipairs(nft_tables()) do assert.not_equal("wbl_wbl-tnet", t) end
  end)

  H.it_priv("the iptables backend (WBL_NAT=iptables): masquerade and -p, removed after", function()
    local net = "WBL_NAT=iptables " .. H.q(H.wbl) .. " scripts/network.lua "
    local a
    finally(function()
      if a then a.stop() end
      sh(net .. "rm tip")
    end)
    local _, err, code = sh(net .. "create --subnet 10.251.8.0/24 tip")
    assert.equal(0, code, err)
    assert.matches("wbl_wbl%-tip %-j MASQUERADE", (sh("iptables -t nat -S POSTROUTING")))
    a = start { "--network", "tip", "--name", "ipt", "-p", "8282:80", "sh", "-c",
      "httpd -p 80 -h /etc && echo ready; read x" }
    a.wait_for("ready")
    local chain = "WBL-" .. state("ipt").net.veth
    assert.matches("DNAT.*10%.251%.8%.2:80", (sh("iptables -t nat -S " .. chain)))
    local out = sh("printf 'GET /hostname HTTP/1.0\\r\\n\\r\\n' | busybox nc -w 5 10.251.8.1 8282")
    assert.equal("ipt\n", out:match("\r\n\r\n(.*)$"))
    assert.equal(0, (a.stop()))
    a = nil
    assert.is_nil((sh("iptables -t nat -S")):match(chain))
    _, err, code = sh(net .. "rm tip")
    assert.equal(0, code, err)
    assert.is_nil((sh("iptables -t nat -S")):match("wbl"))
  end)

  H.it_priv("SIGKILL of wbl: the next run or network.lua removes what it left, unasked", function()
    for _, next_cmd in ipairs {
      function() return H.run { "--rm", "--network", "none", "true" } end,
      function() return H.wbl_run { H.top .. "/scripts/network.lua", "list" } end,
    } do
      local a = start { "--rm", "--name", "reaped", "-p", "8182:80", "sh", "-c", "echo ready; read x" }
      finally(function() a.stop() end)
      a.wait_for("ready")
      local st = state("reaped")
      local veth = st.net.veth
      assert(P.kill(st.owner.pid, "SIGKILL"))
      assert.is_true(eventually(function() return core.fs.stat("/proc/" .. st.owner.pid) == nil end))
      assert.matches("dnat", (sh("nft list table ip wbl_" .. veth)))
      local _, err, code = next_cmd()
      assert.equal(0, code, err)
      assert.equal("", (sh("nft list table ip wbl_" .. veth .. " 2>/dev/null")))
      assert.same({}, leases("bridge"))
      assert.is_nil(core.fs.stat(H.state_dir("reaped")))
      a.stop()
    end
  end)

  H.it_priv("SIGKILL of wbl: cleanup.lua removes the port rules, the lease and the veth", function()
    local a = start { "--name", "killed", "-p", "8181:80", "sh", "-c", "echo ready; read x" }
    finally(function() a.stop() end)
    a.wait_for("ready")
    local st = state("killed")
    local veth = st.net.veth
    assert.equal(1, count(leases("bridge")))
    assert.matches("dnat", (sh("nft list table ip wbl_" .. veth)))
    assert(P.kill(st.owner.pid, "SIGKILL"))
    assert.is_true(eventually(function() return core.fs.stat("/proc/" .. st.owner.pid) == nil end))
    -- What wbl could not undo is still there...
    assert.matches("dnat", (sh("nft list table ip wbl_" .. veth)))
    assert.equal(1, count(leases("bridge")))
    -- ... until cleanup.lua (twice: the second finds nothing to do).
    local out, err, code = H.wbl_run { H.top .. "/scripts/cleanup.lua" }
    assert.equal(0, code, err)
    assert.matches("killed", out)
    out, err, code = H.wbl_run { H.top .. "/scripts/cleanup.lua" }
    assert.equal(0, code, err)
    assert.equal("", out)
    assert.equal("", (sh("nft list table ip wbl_" .. veth .. " 2>/dev/null")))
    assert.same({}, leases("bridge"))
    a.stop()
  end)
end)
