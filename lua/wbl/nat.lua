--- Outbound NAT and port mapping, with nftables or iptables (whichever
-- the host has: nft first; WBL_NAT=nft|iptables chooses).  Rules are
-- grouped so that one command removes them all:
--   nft:      a table per network (masquerade) and per container (DNAT),
--             `ip wbl_NAME`; deleting the table deletes its rules;
--   iptables: a masquerade rule tagged with a comment per network, and a
--             chain WBL-NAME per container jumped to from PREROUTING and
--             OUTPUT of the nat table.
-- Port mappings answer on every local address of the host, loopback
-- included, as docker's do without its userland proxy: the host's own
-- 127.0.0.1:PORT is DNATed in the output hook, the bridge routes it
-- (route_localnet, set on wbl's bridge only, see M.route_localnet), and the
-- network's postrouting masquerades it (and hairpin traffic, a container
-- reaching a port published on its own network) so the answer comes back
-- the same way.  Packets for 127.0.0.0/8 that arrive FROM the bridge are
-- dropped before routing: route_localnet must not let a container reach
-- the host's loopback services.  Networks are isolated from each other,
-- as docker's are: what comes from one bridge is not forwarded to another
-- wbl bridge (wbl0, wbl-NAME, wblbHASH: wbl.net.bridge_name).
local core = require "wbl.core"
local E = core.errno

local M = {}

-- Run nft or iptables (wbl.util.run): true, or nil, what it said, errno.
local run = require("wbl.util").run
M.run = run

local function have(prog)
  return os.execute("command -v " .. prog .. " >/dev/null 2>&1") == true
end

--- The backend: "nft", "iptables", or nil, message.
function M.backend()
  local want = os.getenv("WBL_NAT")
  if want and want ~= "" then
    if want ~= "nft" and want ~= "iptables" then return nil, "WBL_NAT must be nft or iptables", E.EINVAL end
    if not have(want) then return nil, want .. ": not found", E.ENOENT end
    return want
  end
  if have("nft") then return "nft" end
  if have("iptables") then return "iptables" end
  return nil, "neither nft nor iptables is installed (apt-get install nftables)", E.ENOENT
end

local forward = "/proc/sys/net/ipv4/ip_forward"

--- Let the host route: net.ipv4.ip_forward = 1 (in the caller's network
-- namespace).  Returns what it was ("1" or "0"), or nil, message, errno.
function M.enable_forwarding()
  if (core.fs.read_file(forward) or ""):sub(1, 1) == "1" then return "1" end
  local ok, msg, en = core.fs.write_file(forward, "1\n", "trunc")
  if not ok then return nil, msg, en end
  return "0"
end

--- Put ip_forward back to 0 (when wbl turned it on and no network is left).
function M.restore_forwarding()
  return core.fs.write_file(forward, "0\n", "trunc")
end

local function gone(msg)
  return msg and (msg:find("No such file or directory", 1, true) or msg:find("does not exist", 1, true)
    or msg:find("No chain/target/match", 1, true) or msg:find("Bad rule", 1, true))
end

--- Let the host route 127.0.0.0/8 out of one link (the bridge): what a
-- DNAT of 127.0.0.1:PORT to a container needs.  Per link; it goes with it.
function M.route_localnet(link)
  return core.fs.write_file(("/proc/sys/net/ipv4/conf/%s/route_localnet"):format(link), "1\n", "trunc")
end

-- The iptables rules of a network, each { table, chain, rule... }.
local function network_rules(name, subnet, bridge)
  local tag = { "-m", "comment", "--comment", "wbl_" .. name }
  local function r(t) for _, x in ipairs(tag) do t[#t + 1] = x end return t end
  return {
    -- what leaves the subnet by another link than the bridge
    r { "nat", "POSTROUTING", "-s", subnet, "!", "-o", bridge, "-j", "MASQUERADE" },
    -- published ports reached from the host's loopback, or from the subnet
    r { "nat", "POSTROUTING", "-s", "127.0.0.0/8", "-o", bridge, "-j", "MASQUERADE" },
    r { "nat", "POSTROUTING", "-s", subnet, "-o", bridge, "-m", "conntrack", "--ctstate", "DNAT",
        "-j", "MASQUERADE" },
    -- no container reaches the host's loopback through route_localnet
    r { "raw", "PREROUTING", "-i", bridge, "-d", "127.0.0.0/8", "-j", "DROP" },
    -- networks are isolated from each other: to its own bridge only
    r { "filter", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT" },
    r { "filter", "FORWARD", "-i", bridge, "-o", "wbl0", "-j", "DROP" },
    r { "filter", "FORWARD", "-i", bridge, "-o", "wbl-+", "-j", "DROP" },
    r { "filter", "FORWARD", "-i", bridge, "-o", "wblb+", "-j", "DROP" },
  }
end

--- A network's NAT: masquerade what leaves the subnet by another link
-- than the bridge, and what M.publish needs (see the top).
function M.masquerade(backend, name, subnet, bridge)
  if backend == "nft" then
    return run({ "nft", "-f", "-" }, ([[
table ip wbl_%s {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr %s oifname != "%s" masquerade
    ip saddr 127.0.0.0/8 oifname "%s" masquerade
    ip saddr %s oifname "%s" ct status dnat masquerade
  }
  chain prerouting {
    type filter hook prerouting priority raw; policy accept;
    iifname "%s" ip daddr 127.0.0.0/8 drop
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "%s" oifname != "%s" oifname "wbl0" drop
    iifname "%s" oifname != "%s" oifname "wbl-*" drop
    iifname "%s" oifname != "%s" oifname "wblb*" drop
  }
}
]]):format(name, subnet, bridge, bridge, subnet, bridge, bridge, bridge, bridge, bridge, bridge, bridge, bridge))
  end
  for i, rule in ipairs(network_rules(name, subnet, bridge)) do
    local ok, msg, en = run { "iptables", "-w", "-t", rule[1], "-A", table.unpack(rule, 2) }
    if not ok then
      for j = i - 1, 1, -1 do
        local u = network_rules(name, subnet, bridge)[j]
        run { "iptables", "-w", "-t", u[1], "-D", table.unpack(u, 2) }
      end
      return nil, msg, en
    end
  end
  return true
end

--- Remove a network's NAT (absent counts as removed).
function M.unmasquerade(backend, name, subnet, bridge)
  if backend == "nft" then
    local ok, msg, en = run { "nft", "delete", "table", "ip", "wbl_" .. name }
    if not ok and gone(msg) then return true end
    return ok, msg, en
  end
  local res = { true }
  for _, rule in ipairs(network_rules(name, subnet, bridge)) do
    local ok, msg, en = run { "iptables", "-w", "-t", rule[1], "-D", table.unpack(rule, 2) }
    if not ok and not gone(msg) and res[1] then res = { nil, msg, en } end
  end
  return table.unpack(res, 1, 3)
end

--- Map host ports to ip: ports is a list of { host =, container =, proto = }.
-- tag names the rules (the container's veth).
function M.publish(backend, tag, ip, ports)
  if #ports == 0 then return true end
  if backend == "nft" then
    local rules = {}
    for _, p in ipairs(ports) do
      local dst = (p.ip and p.ip ~= "0.0.0.0") and ("ip daddr " .. p.ip) or "fib daddr type local"
      rules[#rules + 1] = ("    %s %s dport %d dnat to %s:%d"):format(dst, p.proto, p.host, ip, p.container)
    end
    rules = table.concat(rules, "\n")
    return run({ "nft", "-f", "-" }, ([[
table ip wbl_%s {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
%s
  }
  chain output {
    type nat hook output priority -100; policy accept;
%s
  }
}
]]):format(tag, rules, rules))
  end
  local chain = "WBL-" .. tag
  local ok, msg, en = run { "iptables", "-w", "-t", "nat", "-N", chain }
  if not ok then return nil, msg, en end
  for _, p in ipairs(ports) do
    local dst = (p.ip and p.ip ~= "0.0.0.0") and p.ip or "0.0.0.0/0"
    ok, msg, en = run { "iptables", "-w", "-t", "nat", "-A", chain, "-d", dst, "-p", p.proto,
      "--dport", tostring(p.host), "-j", "DNAT", "--to-destination", ("%s:%d"):format(ip, p.container) }
    if not ok then M.unpublish(backend, tag); return nil, msg, en end
  end
  for _, hook in ipairs { "PREROUTING", "OUTPUT" } do
    ok, msg, en = run { "iptables", "-w", "-t", "nat", "-A", hook, "-m", "addrtype", "--dst-type", "LOCAL",
      "-j", chain }
    if not ok then M.unpublish(backend, tag); return nil, msg, en end
  end
  return true
end

--- Remove a container's port mappings (absent counts as removed).
function M.unpublish(backend, tag)
  if backend == "nft" then
    local ok, msg, en = run { "nft", "delete", "table", "ip", "wbl_" .. tag }
    if not ok and gone(msg) then return true end
    return ok, msg, en
  end
  local chain = "WBL-" .. tag
  for _, hook in ipairs { "PREROUTING", "OUTPUT" } do
    -- -D removes one rule at a time; a chain is jumped to once per hook.
    run { "iptables", "-w", "-t", "nat", "-D", hook, "-m", "addrtype", "--dst-type", "LOCAL", "-j", chain }
  end
  run { "iptables", "-w", "-t", "nat", "-F", chain }
  local ok, msg, en = run { "iptables", "-w", "-t", "nat", "-X", chain }
  if not ok and gone(msg) then return true end
  return ok, msg, en
end

return M
