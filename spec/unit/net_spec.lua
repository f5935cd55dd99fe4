-- The pure parts of networking: CIDR arithmetic, option values, names.
local ipam = require "wbl.ipam"
local net = require "wbl.net"

describe("wbl.ipam #unit", function()
  it("parses CIDRs, clearing host bits; rejects nonsense", function()
    local c = assert(ipam.cidr("10.88.3.4/16"))
    assert.equal("10.88.0.0", ipam.ip_str(c.net))
    assert.equal(16, c.len)
    assert.is_nil(ipam.cidr("10.88.0.0"))
    assert.is_nil(ipam.cidr("10.300.0.0/16"))
    assert.is_nil(ipam.cidr("10.1.0.0/33"))
    assert.equal(0, assert(ipam.cidr("0.0.0.0/0")).net)
  end)

  it("tells overlapping prefixes", function()
    local a = ipam.cidr("10.88.0.0/16")
    assert.is_true(ipam.overlap(a, ipam.cidr("10.88.7.0/24")))
    assert.is_true(ipam.overlap(ipam.cidr("10.88.7.9/32"), a))
    assert.is_false(ipam.overlap(a, ipam.cidr("10.89.0.0/16")))
    assert.is_true(ipam.overlap(a, ipam.cidr("0.0.0.0/0")))
  end)

  it("lays out a subnet: gateway first, then the hosts, no broadcast", function()
    local l = ipam.layout("10.251.7.0/24")
    assert.equal("10.251.7.1", l.gateway)
    assert.equal("10.251.7.2", ipam.ip_str(l.first))
    assert.equal("10.251.7.254", ipam.ip_str(l.last))
  end)
end)

describe("wbl.net options #unit", function()
  local check = require("wbl.args").check
  require "wbl.docker" -- adds its checks

  it("-p [IP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/tcp|/udp]", function()
    local any = "0.0.0.0"
    assert.same({ { ip = any, host = 8080, container = 80, proto = "tcp" } }, check.publish("8080:80"))
    assert.same({ { ip = any, host = 53, container = 5353, proto = "udp" } }, check.publish("53:5353/udp"))
    assert.same({ { ip = "127.0.0.1", host = 8080, container = 80, proto = "tcp" } },
      check.publish("127.0.0.1:8080:80"))
    assert.same({ { ip = any, container = 80, proto = "tcp" } }, check.publish("80")) -- a free host port
    assert.same({ { ip = "127.0.0.1", container = 80, proto = "tcp" } }, check.publish("127.0.0.1::80"))
    assert.same({ { ip = any, host = 8000, container = 90, proto = "tcp" },
                  { ip = any, host = 8001, container = 91, proto = "tcp" } }, check.publish("8000-8001:90-91"))
    for _, bad in ipairs { "0:80", "70000:80", "80:80/sctp", "a:b", "80:", "8000-8002:90-91", "1.2.3:80:80",
                           "9-8:80" } do
      assert.is_nil(check.publish(bad), bad)
    end
  end)

  it("--network none|host|bridge|NAME: the syntax when parsed, the network when made", function()
    assert.equal("none", check.network("none"))
    assert.equal("host", check.network("host"))
    assert.equal("bridge", check.network("bridge"))
    assert.is_nil(check.network("bad name"))
    -- the parser reads no disk; net.check does, before anything is made
    assert.equal("surely-not-a-network-here", check.network("surely-not-a-network-here"))
    local s = require("wbl.spec").new()
    s.wbl.network = "surely-not-a-network-here"
    local ok, msg = net.check(s)
    assert.is_nil(ok)
    assert.matches("surely%-not%-a%-network%-here", msg)
    s.wbl.network, s.wbl.ports = "none", { { host = 1, container = 1, proto = "tcp" } }
    assert.is_nil(net.check(s))
  end)

  it("link names fit IFNAMSIZ and start with wbl", function()
    for _, id in ipairs { "a", "0123456789ab", string.rep("x", 64) } do
      local v = net.veth_name(id)
      assert.is_true(#v <= 15)
      assert.matches("^wblv%x+$", v)
    end
    assert.equal("wbl0", net.bridge_name("bridge"))
    assert.equal("wbl-tnet", net.bridge_name("tnet"))
    assert.is_true(#net.bridge_name(string.rep("n", 40)) <= 15)
  end)
end)
