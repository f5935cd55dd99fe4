--- Command-line parsing, docker style: options first, then COMMAND [ARG...].
-- Options stop at `--` or at the first argument that is not an option, so
-- `run.lua sh -c 'ls -l'` hands `-c` to sh.  Short flags combine (`-ti`),
-- values go as `-e K=V`, `-eK=V`, `--env K=V` or `--env=K=V`.
--
-- An option is a table:
--   { "e", "env", arg = "KEY=VAL", list = true, help = "...",
--     check = function(value) return normalised | nil, message end }
-- `check` runs on every value before anything is created, so a bad value
-- is reported (exit 125) without side effects.
local M = {}

local function key(o) return (o[2] or o[1]):gsub("-", "_") end

local function find(spec, name, long)
  for _, o in ipairs(spec) do
    if (long and o[2] == name) or (not long and o[1] == name) then return o end
  end
end

local function label(o)
  return o[2] and ("--" .. o[2]) or ("-" .. o[1])
end

--- Parse argv (a sequence) against spec.
-- @return opts (keyed by long name, dashes as underscores), command (a
--   sequence, maybe empty); or nil, message
function M.parse(spec, argv)
  local opts, cmd = {}, {}
  for _, o in ipairs(spec) do
    if o.list then opts[key(o)] = {} elseif o.default ~= nil then opts[key(o)] = o.default end
  end
  local function set(o, v)
    if o.arg then
      if o.check then
        local nv, msg = o.check(v)
        if nv == nil then return nil, ("%s %s: %s"):format(label(o), v, msg) end
        v = nv
      end
    else
      v = true
    end
    if o.list then table.insert(opts[key(o)], v) else opts[key(o)] = v end
    return true
  end
  local i, n = 1, #argv
  while i <= n do
    local a = argv[i]
    if a == "--" then
      i = i + 1
      break
    elseif a:sub(1, 2) == "--" then
      local name, val = a:match("^%-%-([^=]+)=(.*)$")
      name = name or a:sub(3)
      local o = find(spec, name, true)
      if not o then return nil, "unknown option " .. a end
      if o.arg and val == nil then
        i = i + 1
        val = argv[i]
        if val == nil then return nil, ("option %s needs a value (%s)"):format(label(o), o.arg) end
      elseif not o.arg and val ~= nil then
        return nil, ("option %s takes no value"):format(label(o))
      end
      local ok, msg = set(o, val)
      if not ok then return nil, msg end
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local j = 2
      while j <= #a do
        local c = a:sub(j, j)
        local o = find(spec, c, false)
        if not o then return nil, ("unknown option -%s"):format(c) end
        if o.arg then
          local val = a:sub(j + 1)
          if val == "" then
            i = i + 1
            val = argv[i]
            if val == nil then return nil, ("option %s needs a value (%s)"):format(label(o), o.arg) end
          end
          local ok, msg = set(o, val)
          if not ok then return nil, msg end
          break
        end
        set(o)
        j = j + 1
      end
    else
      break
    end
    i = i + 1
  end
  for k = i, n do cmd[#cmd + 1] = argv[k] end
  return opts, cmd
end

--- The help text of a spec.
function M.help(usage, spec, footer)
  local lines = { "usage: " .. usage, "", "Options:" }
  for _, o in ipairs(spec) do
    local names = (o[1] and ("-" .. o[1] .. ", ") or "    ") .. (o[2] and ("--" .. o[2]) or "")
    if o.arg then names = names .. " " .. o.arg end
    lines[#lines + 1] = ("  %-28s %s"):format(names, o.help or "")
  end
  if footer then lines[#lines + 1] = "" ; lines[#lines + 1] = footer end
  return table.concat(lines, "\n") .. "\n"
end

-- Value checks shared by options.
local check = {}
M.check = check

function check.env(v)
  if v == "" or v:sub(1, 1) == "=" then return nil, "expected KEY=VALUE or KEY" end
  return v
end

function check.hostname(v)
  if #v == 0 or #v > 64 then return nil, "must be 1 to 64 characters" end
  if not v:match("^[%w][%w%.%-]*$") then return nil, "letters, digits, '.' and '-' only" end
  return v
end

function check.name(v)
  if #v > 64 or not v:match("^[%w][%w_%.%-]*$") then
    return nil, "must match [a-zA-Z0-9][a-zA-Z0-9_.-]* (at most 64)"
  end
  return v
end

function check.abspath(v)
  if v:sub(1, 1) ~= "/" then return nil, "must be an absolute path" end
  return v
end

--- A size in bytes: a number with an optional unit b, k, m or g (either
-- case, an optional trailing b: 512m, 1.5G, 64kb), as docker takes it.
function check.size(v)
  local num, unit = v:match("^(%d+%.?%d*)([bBkKmMgG]?)[bB]?$")
  if not num or (unit ~= "" and unit:lower() == "b" and v:lower():match("bb$")) then
    return nil, "expected a size: a number with an optional unit b, k, m or g"
  end
  local mult = ({ [""] = 1, b = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3 })[unit:lower()]
  local n = math.floor(tonumber(num) * mult)
  if n < 1 then return nil, "must be at least 1 byte" end
  return n
end

--- -m/--memory: docker's minimum is 6m.
function check.memory(v)
  local n, msg = check.size(v)
  if not n then return nil, msg end
  if n < 6 * 1024 * 1024 then return nil, "the minimum memory limit is 6m" end
  return n
end

--- --memory-swap: a size (memory plus swap), or -1 for unlimited swap.
function check.memory_swap(v)
  if v == "-1" then return -1 end
  return check.size(v)
end

--- --cpus: a decimal number of CPUs, at least 0.01 (a 1 ms quota).
function check.cpus(v)
  local n = v:match("^%d*%.?%d+$") and tonumber(v)
  if not n then return nil, "expected a decimal number of CPUs (e.g. 1.5)" end
  if n < 0.01 then return nil, "must be at least 0.01" end
  local count = M.cpu_count()
  if count and n > count then -- docker's words
    return nil, ("Range of CPUs is from 0.01 to %.2f, as there are only %d CPUs available"):format(count, count)
  end
  return n
end

-- A kernel list ("0-2,4") as a set of numbers, or nil.
local function list_set(s)
  local t = {}
  for part in (s .. ","):gmatch("([^,]*),") do
    local a, b = part:match("^(%d+)%-(%d+)$")
    a, b = tonumber(a or part:match("^(%d+)$")), tonumber(b or part:match("^(%d+)$"))
    if not a or b < a then return nil end
    for i = a, b do t[i] = true end
  end
  return t
end

-- The kernel's list in a /sys file ("0-1"), or nil.
local function online_list(file)
  local f = io.open(file)
  local s = f and f:read("a")
  if f then f:close() end
  return s and s:gsub("%s+$", "")
end

--- How many CPUs are online (nil if /sys does not say).
function M.cpu_count()
  local have = list_set(online_list("/sys/devices/system/cpu/online") or "")
  if not have then return nil end
  local n = 0
  for _ in pairs(have) do n = n + 1 end
  return n
end

--- An integer in [lo, hi].
function check.int(lo, hi)
  return function(v)
    local n = v:match("^%-?%d+$") and math.tointeger(tonumber(v))
    if not n then return nil, "expected an integer" end
    if n < lo or n > hi then return nil, ("must be between %d and %d"):format(lo, hi) end
    return n
  end
end

--- A cpu or memory node list ("0-2,4") whose members are all in the
-- kernel's online list at `online` (a /sys file).
function check.cpulist(online, what)
  return function(v)
    local want = v:match("^[%d,%-]+$") and list_set(v)
    if not want then return nil, "expected a list like 0-2,4" end
    local list = online_list(online)
    local have = list and list_set(list)
    if have then
      for i in pairs(want) do
        if not have[i] then return nil, ("%s %d is not available (online: %s)"):format(what, i, list) end
      end
    end
    return v
  end
end

--- --cgroup-parent: a cgroup path (relative to each hierarchy's root).
function check.cgroup_parent(v)
  local p = v:gsub("^/+", ""):gsub("/+$", "")
  if p == "" then return nil, "must name a cgroup below the root" end
  for part in p:gmatch("[^/]+") do
    if part == "." or part == ".." or not part:match("^[%w_%.%-@:]+$") then
      return nil, "path components: letters, digits, '_', '.', '-', '@', ':' (no '..')"
    end
  end
  return p
end

function check.image(v)
  local image = require "wbl.image"
  if image.is_tarball(v) then return v end
  local ok, msg = image.check_name(v)
  if not ok then return nil, msg end
  return v
end

function check.volume(v) return require("wbl.overlay").parse_volume(v) end

function check.tmpfs(v) return require("wbl.overlay").parse_tmpfs(v) end

return M
