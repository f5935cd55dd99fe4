--- Users and groups of a container, looked up in its own /etc/passwd and
-- /etc/group (after pivot_root: the image's files, never the host's), as
-- docker resolves -u and --group-add.
local core = require "wbl.core"
local E = core.errno

local M = {}

-- The entries of a colon-separated file: a list of field lists.
local function entries(file)
  local out = {}
  local s = core.fs.read_file(file)
  for line in (s or ""):gmatch("[^\n]+") do
    if not line:match("^%s*#") then
      local f = {}
      for x in (line .. ":"):gmatch("([^:]*):") do f[#f + 1] = x end
      out[#out + 1] = f
    end
  end
  return out
end

local function find(list, key)
  local n = key:match("^%d+$") and tonumber(key)
  for _, f in ipairs(list) do
    if f[1] == key or (n and tonumber(f[3]) == n) then return f end
  end
end

--- Fill p.user (uid, gid, additionalGids) and HOME from spec u =
-- "USER|UID[:GROUP|GID]" and the extra groups: names must exist in the
-- container's files; a number need not (docker's rules: a uid without an
-- entry gets gid 0 and HOME /).  keep_home: HOME was given with -e.
-- @return true, or nil, message, errno
function M.resolve(p, u, group_add, keep_home, etc)
  etc = etc or "/etc"
  local passwd, group = entries(etc .. "/passwd"), entries(etc .. "/group")
  local uname, gname = (u or "0"):match("^([^:]+):?(.*)$")
  local pw = find(passwd, uname)
  if not pw and not uname:match("^%d+$") then
    return nil, ("no user %q in the container's /etc/passwd"):format(uname), E.ENOENT
  end
  local uid = pw and tonumber(pw[3]) or tonumber(uname)
  local gid = pw and tonumber(pw[4]) or 0
  if gname ~= "" then
    local gr = find(group, gname)
    if not gr and not gname:match("^%d+$") then
      return nil, ("no group %q in the container's /etc/group"):format(gname), E.ENOENT
    end
    gid = gr and tonumber(gr[3]) or tonumber(gname)
  end
  -- Supplementary groups: those listing the user, then --group-add.
  local gids, seen = {}, {}
  local function add(g) if g and not seen[g] then seen[g] = true; gids[#gids + 1] = g end end
  if pw then
    for _, gr in ipairs(group) do
      for m in (gr[4] or ""):gmatch("[^,]+") do
        if m == pw[1] then add(tonumber(gr[3])) end
      end
    end
  end
  for _, g in ipairs(group_add or {}) do
    local gr = find(group, g)
    if not gr and not g:match("^%d+$") then
      return nil, ("no group %q in the container's /etc/group"):format(g), E.ENOENT
    end
    add(gr and tonumber(gr[3]) or tonumber(g))
  end
  p.user = { uid = uid, gid = gid, additionalGids = gids }
  if not keep_home then
    require("wbl.spec").setenv(p.env, "HOME", pw and pw[6] ~= "" and pw[6] or "/")
  end
  return true
end

return M
