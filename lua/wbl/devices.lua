--- Devices: the nodes a container has and the ones it may use.
--
-- The nodes are the spec's linux.devices (init.lua makes them in the
-- container's /dev, wbl.rootfs.devices); the rules, linux.resources.devices
-- (OCI's shape: { allow, type = "c"|"b"|"a"|nil, major, minor (nil: any),
-- access = "rwm" }), are enforced by the kernel at every open(2) and
-- mknod(2) of a device node, whatever the node's owner and mode: a denied
-- one fails with EPERM.  Without rules (nil) nothing is restricted; an
-- empty list denies everything.
--
-- How the rules read, the same way on every host: an access asks for m
-- (mknod), r and/or w (open for reading, writing); each of those is
-- decided by the LAST rule that names it and matches the device, and is
-- denied when none does; the access is allowed when all it asks for is.
-- Where the rules are enforced (M.apply):
--   v1, hybrid  the container's directory in the v1 "devices" hierarchy:
--               devices.deny "a", then one line per rule (devices.list
--               shows them).  Its exception lists cannot take back part of
--               a wildcard ("c *:* rw" then deny "c 1:3 w"): such a list
--               goes to the BPF program on the cgroup2 directory instead,
--               where the host has one (hybrid), else it is refused.  One
--               corner is stricter than the rules: v1 needs a single line
--               granting all of an access (r and w of one open).
--   v2          a BPF_PROG_TYPE_CGROUP_DEVICE program on the container's
--               cgroup2 directory (wbl.core.devcg.attach): pure cgroup v2
--               has no devices controller, the program is its replacement.
-- A hybrid host's cgroup2 hierarchy holds the container too, so the
-- program would work there as well; the v1 files are used where the
-- devices controller is a v1 hierarchy because that is what the host's
-- tools (and docker) look at, and it keeps one mechanism per host.
local core = require "wbl.core"
local cgroup = require "wbl.cgroup"
local fs, E = core.fs, core.errno

local M = {}

-- The host's /dev entries --privileged does not copy: the console is the
-- caller's terminal (-t binds it), ptmx is the container's pts/ptmx link.
local privileged_skip = { console = true, ptmx = true }

local function node_of(path, st, host)
  return { path = path, type = st.type == "char" and "c" or "b", major = st.rdev_major,
           minor = st.rdev_minor, fileMode = st.mode, uid = st.uid, gid = st.gid,
           host = host ~= path and host or nil }
end

local function same_rule(a, b)
  return a.allow == b.allow and a.type == b.type and a.major == b.major and a.minor == b.minor
    and a.access == b.access
end

--- Host side, before anything is made: the host devices the spec asks
-- for, found on the host.  Each --device (s.wbl.devices: { host, path,
-- access }) becomes a node in linux.devices (at its container path, with
-- the host node's type, numbers, mode and owner) and a rule allowing its
-- access; --privileged (s.wbl.privileged) adds every char and block device
-- directly under the host's /dev (not subdirectories; what does not stat
-- is skipped).  Safe to run twice on one spec.
-- @return s, or nil, "--device HOST: message", errno
function M.resolve(s)
  local nodes, rules = s.linux.devices, s.linux.resources and s.linux.resources.devices
  local at = {}
  for i, d in ipairs(nodes) do at[d.path] = i end
  local function add(d)
    local i = at[d.path] or #nodes + 1
    nodes[i], at[d.path] = d, i
  end
  for _, want in ipairs(s.wbl.devices or {}) do
    local st, msg, en = fs.stat(want.host)
    if not st then return nil, ("--device %s: %s"):format(want.host, msg), en end
    if st.type ~= "char" and st.type ~= "block" then
      return nil, ("--device %s: not a device node (a %s)"):format(want.host, st.type), E.ENODEV
    end
    local d = node_of(want.path, st, want.host)
    add(d)
    if rules then -- nil: nothing is restricted, nothing to allow
      local r = { allow = true, type = d.type, major = d.major, minor = d.minor, access = want.access }
      local known = false
      for _, x in ipairs(rules) do known = known or same_rule(x, r) end
      if not known then rules[#rules + 1] = r end
    end
  end
  if s.wbl.privileged then
    local names, msg, en = fs.readdir("/dev")
    if not names then return nil, "--privileged: " .. msg, en end
    table.sort(names)
    for _, name in ipairs(names) do
      local path = "/dev/" .. name
      local st = not privileged_skip[name] and not at[path] and fs.lstat(path)
      if st and (st.type == "char" or st.type == "block") then add(node_of(path, st, path)) end
    end
  end
  return s
end

-- Rules ------------------------------------------------------------------

local function any(n) return n == nil or n == -1 end

--- Check a rule list (what the kernel side relies on), naming the rule.
-- @return true, or nil, "linux.resources.devices[i]: ...", EINVAL
function M.check_rules(rules)
  if type(rules) ~= "table" then return nil, "linux.resources.devices: a list expected", E.EINVAL end
  for i, r in ipairs(rules) do
    local function bad(msg) return nil, ("linux.resources.devices[%d]: %s"):format(i, msg), E.EINVAL end
    if type(r) ~= "table" then return bad("a table expected") end
    if type(r.allow) ~= "boolean" then return bad("allow must be true or false") end
    if r.type ~= nil and r.type ~= "a" and r.type ~= "c" and r.type ~= "b" then
      return bad("type must be a, c or b")
    end
    for _, f in ipairs { "major", "minor" } do
      local n = r[f]
      if n ~= nil and (math.type(n) ~= "integer" or n < -1 or n > 0x7fffffff) then
        return bad(f .. " must be a number (-1 or none: any)")
      end
    end
    if r.access ~= nil and (type(r.access) ~= "string" or not r.access:match("^[rwm]+$")) then
      return bad("access must be letters of rwm")
    end
  end
  return true
end

-- An access string as a set, and back in rwm order.
local function set(a)
  local t = {}
  for ch in (a or "rwm"):gmatch(".") do t[ch] = true end
  return t
end
local function str(t)
  return (t.r and "r" or "") .. (t.w and "w" or "") .. (t.m and "m" or "")
end
local function common(a, b)
  return { r = a.r and b.r, w = a.w and b.w, m = a.m and b.m }
end

local function line(t, major, minor, acc)
  return ("%s %s:%s %s"):format(t, major or "*", minor or "*", str(acc))
end

--- The writes that give a v1 devices cgroup the rules (see the top):
-- a list of { "devices.allow"|"devices.deny", line }, first a deny of
-- everything (a new cgroup starts with its parent's list) unless the
-- rules start with a rule for every device.  It follows the kernel's
-- lists: a default (allow or deny all), and exceptions that an allow or
-- deny line adds to (when it goes against the default) or takes access
-- from (an exception of the same device, when it goes with it).
-- @return the list, or nil, message, ENOTSUP for a rule the v1 lists
--   cannot follow (it takes access from part of a wildcard exception)
function M.v1_writes(rules)
  local out, default_allow, ex = {}, nil, {}
  local function reset(allow)
    out[#out + 1] = { allow and "devices.allow" or "devices.deny", "a" }
    default_allow, ex = allow, {}
  end
  local function everything(r)
    return r and (r.type == nil or r.type == "a") and any(r.major) and any(r.minor)
      and str(set(r.access)) == "rwm"
  end
  if not everything(rules[1]) then reset(false) end
  for i, r in ipairs(rules) do
    local acc = set(r.access)
    local major, minor = not any(r.major) and r.major or nil, not any(r.minor) and r.minor or nil
    local file = r.allow and "devices.allow" or "devices.deny"
    if everything(r) then
      reset(r.allow)
    else
      for _, t in ipairs((r.type == nil or r.type == "a") and { "c", "b" } or { r.type }) do
        if r.allow ~= default_allow then
          -- an exception: the kernel adds it, or adds access to the same device's
          out[#out + 1] = { file, line(t, major, minor, acc) }
          local key = line(t, major, minor, {})
          local e = ex[key]
          if not e then
            e = { type = t, major = major, minor = minor, acc = {} }
            ex[key], ex[#ex + 1] = e, e
          end
          for k in pairs(acc) do e.acc[k] = true end
        else
          -- back to the default: only an exception of exactly that device
          -- loses access, so each one inside the rule's range is named
          for _, e in ipairs(ex) do
            local both = common(e.acc, acc)
            if e.type == t and str(both) ~= "" then
              local inside = (not major or major == e.major) and (not minor or minor == e.minor)
              local overlaps = (not major or not e.major or major == e.major)
                and (not minor or not e.minor or minor == e.minor)
              if inside then
                out[#out + 1] = { file, line(t, e.major, e.minor, both) }
                for k in pairs(both) do e.acc[k] = nil end
              elseif overlaps then
                return nil, ("linux.resources.devices[%d] (%s %s): cgroup v1 cannot take it out of %q")
                  :format(i, r.allow and "allow" or "deny", line(t, major, minor, acc),
                    line(e.type, e.major, e.minor, e.acc)), E.ENOTSUP
              end
            end
          end
        end
      end
    end
  end
  return out
end

--- Host side, after the cgroups are made and before the child's go (it
-- joins them, or runs any code of the container, only after it): the
-- spec's device rules, enforced by the kernel (see the top for where).
-- No rules or no cgroups: nothing to do.
-- @return true, or nil, message, errno
function M.apply(c)
  local r = c.spec.linux.resources
  local rules, cg = r and r.devices, c.cgroup
  if rules == nil or not cg then return true end
  local ok, msg, en = M.check_rules(rules)
  if not ok then return nil, msg, en end
  local dir = cgroup.dir(cg, "devices")
  if dir then
    local writes
    writes, msg, en = M.v1_writes(rules)
    for _, w in ipairs(writes or {}) do
      ok, msg, en = fs.write_file(dir .. "/" .. w[1], w[2], "")
      if not ok then return nil, ("%q: %s"):format(w[2], msg), en end
    end
    if writes then return true end
    if not cg.v2 then return nil, msg, en end
  end
  if not cg.v2 then
    return nil, "this host has neither a v1 devices hierarchy nor cgroup2 for the device rules", E.ENOTSUP
  end
  return core.devcg.attach(cg.v2, rules)
end

return M
