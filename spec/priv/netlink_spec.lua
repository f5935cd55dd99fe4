-- wbl.core.nl: each netlink primitive, proven by what iproute2 then shows
-- and by packets that pass (or cannot).  The spec run has its own network
-- namespace (spec/helper.lua); "peer" namespaces are children blocked on a
-- pipe.  Every link made here starts with "wblt" and is gone at the end.
local core = require "wbl.core"
local E = core.errno

local function sh(cmd)
  local out, err, code = H.sh(cmd)
  return out, err, code
end

local function ip(args) return (sh("ip " .. args)) end
local function in_ns(pid, cmd) return sh(("nsenter -t %d -n %s"):format(pid, cmd)) end
local function ping(addr, pid)
  local cmd = "busybox ping -c1 -W2 " .. addr
  local code
  if pid then code = select(3, in_ns(pid, cmd)) else code = select(3, sh(cmd)) end
  return code == 0
end

local netns = H.netns

-- Wait (10 ms steps, at most 10 s) until link name is gone.
local function gone(nl, name)
  local r, w = assert(core.fd.pipe())
  for _ = 1, 1000 do
    if nl:link(name) == nil then r:close(); w:close(); return true end
    r:wait(10)
  end
  r:close(); w:close()
  return false
end

local function wbl_links()
  local out = {}
  for name in ip("-o link show"):gmatch("%d+: ([^:@]+)") do
    if name:match("^wblt") then out[#out + 1] = name end
  end
  return out
end

describe("wbl.core.nl #priv #netns", function()
  local nl
  before_each(function() if H.root then nl = assert(core.nl.open()) end end)
  after_each(function()
    if not H.root then return end
    for _, name in ipairs(wbl_links()) do nl:link_del(name) end
    nl:close()
  end)
  teardown(function()
    if H.root then assert.same({}, wbl_links()) end
  end)

  H.it_priv("link_add veth: both ends exist; link_del takes both", function()
    assert.is_true(nl:link_add { name = "wblt0", kind = "veth", peer = "wblt1" })
    assert.matches("wblt0@wblt1", ip("-o link show dev wblt0"))
    local kinds = {}
    for _, l in ipairs(assert(nl:links())) do kinds[l.name] = l.kind end
    assert.equal("veth", kinds.wblt0)
    assert.equal("veth", kinds.wblt1)
    assert.is_true(nl:link_del("wblt0"))
    assert.same({}, wbl_links())
  end)

  H.it_priv("an existing name gives EEXIST with a message; a missing one ENODEV", function()
    assert(nl:link_add { name = "wblt0", kind = "bridge" })
    local ok, msg, en = nl:link_add { name = "wblt0", kind = "bridge" }
    assert.is_nil(ok)
    assert.equal(E.EEXIST, en)
    assert.equal("RTM_NEWLINK wblt0: File exists", msg)
    ok, msg, en = nl:link_del("wblt9")
    assert.is_nil(ok)
    assert.equal(E.ENODEV, en)
    assert.matches("wblt9: No such device", msg)
    ok, msg, en = nl:link_set("wblt9", { up = true })
    assert.is_nil(ok)
    assert.equal(E.ENODEV, en)
    assert.matches("wblt9", msg)
  end)

  H.it_priv("the kernel's extended-ack text comes with the errno", function()
    assert(nl:link_add { name = "wblt0", kind = "bridge" })
    local ok, msg, en = nl:link_set("wblt0", { mtu = 10 })
    assert.is_nil(ok)
    assert.equal(E.EINVAL, en)
    assert.equal("RTM_NEWLINK wblt0: Invalid argument: mtu less than device minimum", msg)
  end)

  H.it_priv("a veth peer made directly in another namespace, by pid and by fd", function()
    local a, b = netns(), netns()
    finally(function() a.done(); b.done() end)
    assert(nl:link_add { name = "wblt0", kind = "veth", peer = { name = "eth0", pid = a.pid } })
    local fd = assert(core.fd.open(b.path))
    assert(nl:link_add { name = "wblt1", kind = "veth", peer = { name = "eth0", fd = fd } })
    fd:close()
    assert.matches("eth0@", (in_ns(a.pid, "ip -o link show dev eth0")))
    assert.matches("eth0@", (in_ns(b.pid, "ip -o link show dev eth0")))
    assert.equal("", ip("-o link show dev eth0 2>/dev/null"))
    -- Packets pass: host end 10.250.0.1, peer 10.250.0.2 (set through a
    -- socket opened in the peer's namespace).
    local pn <close> = assert(core.nl.open(a.path))
    assert(pn:addr_add("eth0", "10.250.0.2/24"))
    assert(pn:link_set("eth0", { up = true }))
    assert(nl:addr_add("wblt0", "10.250.0.1/24"))
    assert(nl:link_set("wblt0", { up = true }))
    assert.is_true(ping("10.250.0.2"))
    assert.is_true(ping("10.250.0.1", a.pid))
    -- A dying namespace takes its end of the pair, and the pair with it
    -- (asynchronously: wait for it; a socket in it would keep it alive).
    pn:close()
    a.done()
    assert.is_true(gone(nl, "wblt0"))
    assert.same({ "wblt1" }, wbl_links())
  end)

  H.it_priv("nl.open(path) fails with the path and ENOENT", function()
    local ok, msg, en = core.nl.open("/nonexistent/ns")
    assert.is_nil(ok)
    assert.equal(E.ENOENT, en)
    assert.matches("/nonexistent/ns", msg)
  end)

  H.it_priv("bridge, master, up and down: packets cross the bridge only when up", function()
    local a = netns()
    finally(function() a.done() end)
    assert(nl:link_add { name = "wbltbr", kind = "bridge" })
    assert(nl:link_add { name = "wblt0", kind = "veth", peer = { name = "eth0", pid = a.pid } })
    assert(nl:link_set("wblt0", { master = "wbltbr", up = true }))
    assert.equal(nl:link("wbltbr").index, nl:link("wblt0").master)
    assert.matches("wblt0", ip("-o link show master wbltbr"))
    assert(nl:addr_add("wbltbr", "10.250.1.1/24"))
    assert(nl:link_set("wbltbr", { up = true }))
    assert.is_true(nl:link("wbltbr").up)
    local pn <close> = assert(core.nl.open(a.path))
    assert(pn:addr_add("eth0", "10.250.1.2/24"))
    assert(pn:link_set("eth0", { up = true }))
    assert.is_true(ping("10.250.1.2"))
    -- Down: the connected route goes, nothing is sent.
    assert(nl:link_set("wbltbr", { up = false }))
    assert.is_false(nl:link("wbltbr").up)
    assert.matches("state DOWN", ip("-o link show dev wbltbr"))
    assert.is_false(ping("10.250.1.2"))
    -- Off the bridge: master=false.
    assert(nl:link_set("wblt0", { master = false }))
    assert.is_nil(nl:link("wblt0").master)
    assert.equal("", ip("-o link show master wbltbr"))
  end)

  H.it_priv("rename (to a taken name: EEXIST), MTU and MAC", function()
    assert(nl:link_add { name = "wblt0", kind = "bridge" })
    assert(nl:link_add { name = "wblt1", kind = "bridge" })
    local ok, msg, en = nl:link_set("wblt0", { name = "wblt1" })
    assert.is_nil(ok)
    assert.equal(E.EEXIST, en)
    assert.matches("RTM_NEWLINK wblt0: File exists", msg)
    assert(nl:link_set("wblt0", { name = "wblt2", mtu = 1280, address = "02:42:ac:11:00:07" }))
    assert.equal("", ip("-o link show dev wblt0 2>/dev/null"))
    local line = ip("-o link show dev wblt2")
    assert.matches("mtu 1280", line)
    assert.matches("link/ether 02:42:ac:11:00:07", line)
    local l = nl:link("wblt2")
    assert.same({ 1280, "02:42:ac:11:00:07" }, { l.mtu, l.address })
    assert.has_error(function() nl:link_set("wblt2", { address = "nonsense" }) end)
  end)

  H.it_priv("move a link to another namespace (by pid and by fd)", function()
    local a, b = netns(), netns()
    finally(function() a.done(); b.done() end)
    assert(nl:link_add { name = "wblt0", kind = "veth", peer = "wblt1" })
    assert(nl:link_set("wblt1", { netns_pid = a.pid }))
    local fd = assert(core.fd.open(b.path))
    assert(nl:link_add { name = "wblt2", kind = "veth", peer = "wblt3" })
    assert(nl:link_set("wblt3", { netns_fd = fd }))
    fd:close()
    local left = wbl_links()
    table.sort(left)
    assert.same({ "wblt0", "wblt2" }, left)
    assert.matches("wblt1@", (in_ns(a.pid, "ip -o link show dev wblt1")))
    assert.matches("wblt3@", (in_ns(b.pid, "ip -o link show dev wblt3")))
    -- What the kernel refuses, it says: a bridge stays where it is.
    assert(nl:link_add { name = "wblt4", kind = "bridge" })
    local ok, msg, en = nl:link_set("wblt4", { netns_pid = a.pid })
    assert.is_nil(ok)
    assert.equal(E.EINVAL, en)
    assert.equal("RTM_NEWLINK wblt4: Invalid argument: The interface netns is immutable", msg)
  end)

  H.it_priv("IPv4 and IPv6 addresses: add, dump, delete, errors", function()
    local a = netns()
    finally(function() a.done() end)
    assert(nl:link_add { name = "wblt0", kind = "veth", peer = { name = "eth0", pid = a.pid } })
    local pn <close> = assert(core.nl.open(a.path))
    assert(nl:link_set("wblt0", { up = true }))
    assert(pn:link_set("eth0", { up = true }))
    assert(nl:addr_add("wblt0", "10.250.2.1/24"))
    assert(nl:addr_add("wblt0", "fd00:250:2::1/64", { nodad = true }))
    assert(pn:addr_add("eth0", "10.250.2.2/24"))
    assert(pn:addr_add("eth0", "fd00:250:2::2/64", { nodad = true }))
    local out = ip("-o addr show dev wblt0")
    assert.matches("inet 10.250.2.1/24", out)
    assert.matches("inet6 fd00:250:2::1/64", out)
    local seen = {}
    for _, x in ipairs(assert(nl:addrs("wblt0"))) do seen[x.address .. "/" .. x.prefixlen] = x.family end
    assert.equal("inet", seen["10.250.2.1/24"])
    assert.equal("inet6", seen["fd00:250:2::1/64"])
    assert.equal(1, #assert(nl:addrs("wblt0", "inet")))
    assert.is_true(ping("10.250.2.2"))
    assert.is_true(ping("fd00:250:2::2"))
    local ok, msg, en = nl:addr_add("wblt0", "10.250.2.1/24")
    assert.is_nil(ok)
    assert.equal(E.EEXIST, en)
    assert.matches("RTM_NEWADDR 10.250.2.1/24 wblt0: File exists", msg)
    assert(nl:addr_del("wblt0", "10.250.2.1/24"))
    assert(nl:addr_del("wblt0", "fd00:250:2::1/64"))
    assert.is_nil(ip("-o addr show dev wblt0"):match("10%.250%.2%.1"))
    assert.is_nil(ip("-o addr show dev wblt0"):match("fd00"))
    assert.is_false(ping("10.250.2.2"))
    ok, msg, en = nl:addr_del("wblt0", "10.250.2.1/24")
    assert.is_nil(ok)
    assert.equal(E.EADDRNOTAVAIL, en)
    assert.matches("RTM_DELADDR 10.250.2.1/24 wblt0", msg)
    assert.has_error(function() nl:addr_add("wblt0", "10.250.2.300/24") end)
  end)

  H.it_priv("routes: default via a gateway, a prefix on a device; packets follow them", function()
    local a = netns()
    finally(function() a.done() end)
    assert(nl:link_add { name = "wblt0", kind = "veth", peer = { name = "eth0", pid = a.pid } })
    local pn <close> = assert(core.nl.open(a.path))
    assert(nl:addr_add("wblt0", "10.250.3.1/24"))
    assert(nl:link_set("wblt0", { up = true }))
    assert(pn:addr_add("eth0", "10.250.3.2/24"))
    assert(pn:link_set("eth0", { up = true }))
    -- 10.250.4.1 lives on the host's wblt9 (a bridge), off the peer's subnet:
    -- the peer reaches it only by its default route.
    assert(nl:link_add { name = "wblt9", kind = "bridge" })
    assert(nl:addr_add("wblt9", "10.250.4.1/32"))
    assert(nl:link_set("wblt9", { up = true }))
    assert.is_false(ping("10.250.4.1", a.pid))
    assert(pn:route_add { dst = "default", gateway = "10.250.3.1" })
    assert.matches("default via 10.250.3.1 dev eth0", (in_ns(a.pid, "ip route")))
    assert.is_true(ping("10.250.4.1", a.pid))
    local ok, msg, en = pn:route_add { dst = "default", gateway = "10.250.3.1" }
    assert.is_nil(ok)
    assert.equal(E.EEXIST, en)
    assert.matches("RTM_NEWROUTE default via 10.250.3.1", msg)
    -- A prefix on a device (no gateway): the host sends 10.250.5.0/24 to
    -- the peer, which holds 10.250.5.9 on its eth0.
    assert(pn:addr_add("eth0", "10.250.5.9/32"))
    assert.is_false(ping("10.250.5.9"))
    assert(nl:route_add { dst = "10.250.5.0/24", dev = "wblt0" })
    local found
    for _, r in ipairs(assert(nl:routes("inet"))) do
      if r.dst == "10.250.5.0" and r.dst_len == 24 then found = r end
    end
    assert.equal(nl:link("wblt0").index, found.oif)
    assert.is_true(ping("10.250.5.9"))
    assert(nl:route_del { dst = "10.250.5.0/24", dev = "wblt0" })
    assert(pn:route_del { dst = "default", gateway = "10.250.3.1" })
    assert.is_false(ping("10.250.5.9"))
    assert.is_false(ping("10.250.4.1", a.pid))
    assert.equal("", (in_ns(a.pid, "ip route show default")))
    ok, msg, en = nl:route_del { dst = "10.250.5.0/24", dev = "wblt0" }
    assert.is_nil(ok)
    assert.equal(E.ESRCH, en)
    assert.matches("RTM_DELROUTE 10.250.5.0/24 dev wblt0", msg)
    -- IPv6 routes too.
    assert(nl:route_add { dst = "fd00:250:6::/64", dev = "wblt0" })
    assert.matches("fd00:250:6::/64 dev wblt0", ip("-6 route"))
    assert(nl:route_del { dst = "fd00:250:6::/64", dev = "wblt0" })
  end)

  H.it_priv("a closed socket raises; __close closes it", function()
    do
      local s <close> = assert(core.nl.open())
      assert.equal("wbl.nl", tostring(s))
      nl = s
    end
    assert.equal("wbl.nl (closed)", tostring(nl))
    assert.has_error(function() nl:links() end)
    nl = assert(core.nl.open())
  end)
end)
