-- scripts/network.lua: the networks containers join with --network NAME.
--
--   wbl scripts/network.lua create [--subnet CIDR] NAME
--   wbl scripts/network.lua list
--   wbl scripts/network.lua rm NAME...
--
-- A network is a bridge (wbl-NAME) holding the subnet's first address,
-- with NAT for what leaves it (lua/wbl/net.lua).  Without --subnet, the
-- first private /16 the host does not already route is taken.  The
-- network "bridge" (wbl0) is the default one, made on first use.
local wbl = require "wbl"

local usage = [[
usage: wbl scripts/network.lua create [--subnet CIDR] NAME
       wbl scripts/network.lua list
       wbl scripts/network.lua rm NAME...
]]

local function fail(msg, en)
  io.stderr:write("wbl network: ", tostring(msg),
    en and wbl.errno_name(en) and (" (" .. wbl.errno_name(en) .. ")") or "", "\n")
  os.exit(1)
end

local cmd = arg[1]
if cmd == nil or cmd == "-h" or cmd == "--help" then
  io.stdout:write(usage)
  os.exit(cmd and 0 or 2)
end

-- What containers killed before us left (their leases, port mappings).
wbl.container.reap()

if cmd == "create" then
  local o, name = {}, nil
  local i = 2
  while arg[i] do
    local a = arg[i]
    if a == "--subnet" then
      i = i + 1
      o.subnet = arg[i] or fail("--subnet needs a CIDR")
    elseif a:match("^%-%-subnet=") then
      o.subnet = a:sub(10)
    elseif name == nil then
      name = a
    else
      fail("one NAME only\n" .. usage)
    end
    i = i + 1
  end
  if not name then fail("create needs a NAME\n" .. usage) end
  if not wbl.args.check.name(name) or name == "none" or name == "host" then
    fail(("bad name %q: [a-zA-Z0-9][a-zA-Z0-9_.-]*, not none or host"):format(name))
  end
  local net, msg, en = wbl.net.create(name, o)
  if not net then fail(name .. ": " .. tostring(msg), en) end
  io.stdout:write(("%s\t%s\t%s\n"):format(net.name, net.bridge, net.subnet))
elseif cmd == "list" or cmd == "ls" then
  io.stdout:write("NAME\tBRIDGE\tSUBNET\tGATEWAY\tNAT\tCONTAINERS\n")
  for _, n in ipairs(wbl.net.list()) do
    io.stdout:write(("%s\t%s\t%s\t%s\t%s\t%d\n"):format(n.name, n.bridge, n.subnet, n.gateway, n.nat, n.leases))
  end
elseif cmd == "rm" or cmd == "remove" then
  if not arg[2] then fail("rm needs a NAME\n" .. usage) end
  local bad
  for i = 2, #arg do
    local ok, msg, en = wbl.net.remove(arg[i])
    if ok then
      io.stdout:write(arg[i], "\n")
    else
      bad = true
      io.stderr:write("wbl network: ", arg[i], ": ", tostring(msg),
        en and wbl.errno_name(en) and (" (" .. wbl.errno_name(en) .. ")") or "", "\n")
    end
  end
  os.exit(bad and 1 or 0)
else
  fail("unknown command " .. cmd .. "\n" .. usage)
end
