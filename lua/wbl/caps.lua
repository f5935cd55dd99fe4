--- Capabilities: a process's sets as the spec gives them (OCI's
-- process.capabilities: bounding, permitted, effective, inheritable,
-- ambient, as lists of "CAP_X" names), applied in two steps around the
-- change of user (scripts/process.lua): drop_bounding before it, apply
-- after it.
local core = require "wbl.core"
local C, E = core.caps, core.errno

local M = {}

-- "chown", "CAP_CHOWN" -> "CAP_CHOWN" (the core takes both; a set is
-- compared by name here).
local function canonical(name)
  name = tostring(name):upper()
  if name:sub(1, 4) ~= "CAP_" then name = "CAP_" .. name end
  return name
end

-- A list of names as a set; nil, message for a name the core does not know.
local function set_of(list)
  local known, set = {}, {}
  for _, n in ipairs(C.names) do known[n] = true end
  for _, n in ipairs(list or {}) do
    local c = canonical(n)
    if not known[c] then return nil, "unknown capability " .. tostring(n) end
    set[c] = true
  end
  return set
end

--- The capabilities this process can still give (its bounding set), in
-- number order: what --privileged grants, since no process can pass on
-- one it has lost (wbl run inside a container that dropped some).
function M.bounding()
  local out = {}
  for _, n in ipairs(C.names) do
    if C.bounding_has(n) then out[#out + 1] = n end
  end
  return out
end

--- Drop from the bounding set every capability not in sets.bounding:
-- no process of the container can ever gain one of them again, not even
-- by exec of a setuid or file-capability binary.  Needs CAP_SETPCAP, so
-- it runs before the user changes.  sets nil: nothing to confine.
function M.drop_bounding(sets)
  if not sets then return true end
  local keep, msg = set_of(sets.bounding)
  if not keep then return nil, msg, E.EINVAL end
  -- By number up to the kernel's last: one newer than the names goes too.
  for n = 0, C.last_cap() do
    local name = C.names[n + 1]
    if not (name and keep[name]) then
      local ok, err, en = C.bounding_drop(n) -- (by number: no name to look up again; messages name it)
      if not ok then return nil, err, en end
    end
  end
  return true
end

-- Which of a list this process does not have (permitted can only shrink):
-- the likely cause of capset's EPERM, for the message.
local function lacking(list)
  local now = C.get()
  local have, out = {}, {}
  for _, n in ipairs(now and now.permitted or {}) do have[n] = true end
  for _, n in ipairs(list or {}) do
    if not have[canonical(n)] then out[#out + 1] = canonical(n) end
  end
  if #out == 0 then return "" end
  return " (wbl itself lacks " .. table.concat(out, ", ") .. ")"
end

local function empty(set)
  return #set.permitted == 0 and #set.effective == 0 and #set.inheritable == 0
end

--- Before the user changes: keep the permitted set through setuid from
-- root (keep_caps; exec clears it), so M.apply(sets, user, true) can give
-- a non-root user the capabilities its spec lists, as OCI runtimes do.
function M.keep()
  return C.keep_caps(true)
end

--- The capability sets after the user is set (user: { uid = }).
-- Root (uid 0): inheritable, permitted and effective exactly as listed,
-- then the ambient list raised (each must be permitted and inheritable).
-- Any other uid: none in any set (the lists are root's), as docker does:
-- setuid from root has already cleared permitted, effective and ambient,
-- unless keep_caps or the no_setuid_fixup securebit kept them; whatever
-- is left is cleared here, and the result checked.
-- sets nil: nothing to confine.  exact (an OCI runtime's rule): the sets
-- as listed whatever the uid (M.keep before the user change kept them).
function M.apply(sets, user, exact)
  if not sets then return true end
  for _, k in ipairs { "permitted", "effective", "inheritable", "ambient" } do
    local ok, msg = set_of(sets[k])
    if not ok then return nil, msg, E.EINVAL end
  end
  local ok, msg, en
  if exact or (user and user.uid or 0) == 0 then
    ok, msg, en = C.set { inheritable = sets.inheritable, permitted = sets.permitted,
                          effective = sets.effective }
    if not ok then return nil, msg .. lacking(sets.permitted), en end
    -- Ambient: capset kept those of the old set still permitted and
    -- inheritable; the list replaces them.
    ok, msg, en = C.ambient_clear()
    if not ok then return nil, msg, en end
    for _, n in ipairs(sets.ambient or {}) do
      ok, msg, en = C.ambient_raise(n)
      -- (exact: one not inheritable is skipped, as runc and crun skip it)
      if not ok and not (exact and en == E.EPERM) then return nil, msg, en end
    end
    return true
  end
  local now
  now, msg, en = C.get()
  if not now then return nil, msg, en end
  if not empty(now) then
    ok, msg, en = C.set {}
    if not ok then return nil, msg, en end
    ok, msg, en = C.ambient_clear()
    if not ok then return nil, msg, en end
    now, msg, en = C.get()
    if not now then return nil, msg, en end
    if not empty(now) then
      return nil, "capabilities of uid " .. user.uid .. " not cleared", E.EPERM
    end
  end
  return true
end

return M
