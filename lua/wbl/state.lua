--- Container state: one directory per container under the state root
-- (wbl.config: ROOT/containers/ID), holding state.lua (the container as
-- plain data: what was made for it, its status), spec.lua (its spec,
-- apart: it is most of the data and seldom changes, while the state is
-- saved a few times each start) and the /etc files.
--
-- A container is running while its PID 1 is (pid and start time, so a
-- reused pid is not mistaken for it).  The process that manages it (the
-- wbl that runs it in the foreground, later a supervisor) is its owner:
-- while the owner lives, nobody else tears the container down, even after
-- PID 1 has ended (the owner is doing it).  Whatever is neither running
-- nor owned is a leftover (wbl.container.reap).
local core = require "wbl.core"
local util = require "wbl.util"
local config = require "wbl.config"
local proc = require "wbl.proc"
local fs, E = core.fs, core.errno

local M = {}

--- A container's state directory.
function M.dir(id) return util.join(config.containers(), id) end

--- Make c.state_dir (its name is taken when it exists), and save.
function M.create(c)
  if c.state_made then return M.save(c) end -- started again: it has one
  local ok, msg, en = fs.mkdir_p(config.containers(), "0700")
  if not ok then return nil, msg, en end
  ok, msg, en = fs.mkdir(c.state_dir, "0700")
  if not ok then
    if en == E.EEXIST then
      local holder = M.load(c.id)
      msg = ("the name %q is in use by container %s (remove it first: wbl rm %s)"):format(c.id,
        holder and holder.full_id and holder.full_id:sub(1, 12) or "?", c.id)
    end
    return nil, msg, en
  end
  c.state_made = true
  return M.save(c)
end

-- What is saved: plain data, no handles; fields starting with "_" are the
-- running process's own (the child handle, loaded scripts).
local function plain(c)
  local s = {}
  for k, v in pairs(c) do
    if type(k) == "string" and k:sub(1, 1) ~= "_" and type(v) ~= "function" and type(v) ~= "userdata" then
      s[k] = v
    end
  end
  return s
end

-- The fields M.peek reads, written again as the file's first line (a
-- comment), so that looking at every container (wbl.container.reap, at
-- each start) need not load every whole state.
local summary_fields = { "id", "full_id", "status", "oci", "init", "owner" }

-- Plain data as Lua source on one line.
local function flat(v)
  if type(v) == "table" then
    local parts = {}
    for k, x in pairs(v) do parts[#parts + 1] = ("[%s] = %s"):format(flat(k), flat(x)) end
    return "{ " .. table.concat(parts, ", ") .. " }"
  elseif type(v) == "string" or type(v) == "number" then
    return (("%q"):format(v):gsub("\\\n", "\\n"))
  end
  return tostring(v)
end

local function summary_line(c)
  local t = {}
  for _, k in ipairs(summary_fields) do t[k] = c[k] end
  t.oci = t.oci and true -- (its bundle and times: not needed)
  return "-- return " .. flat(t) .. "\n"
end

-- Write text as the file dir/name, atomically (a reader sees the old
-- file or the new).
local function replace(dir, name, text) return util.replace_file(dir .. "/" .. name, text) end

--- Save c (atomically: a reader sees the old state or the new).  Its
-- spec goes to spec.lua the first time this process saves c, and again
-- only after M.spec_changed(c): change a saved container's spec, then
-- call that before the next save.
function M.save(c)
  local p = plain(c)
  p.spec = nil
  if c.spec and c._spec_saved ~= c.spec then
    local ok, msg, en = replace(c.state_dir, "spec.lua", util.serialise(c.spec))
    if not ok then return nil, msg, en end
    c._spec_saved = c.spec
  end
  return replace(c.state_dir, "state.lua", summary_line(p) .. util.serialise(p))
end

--- c's spec was changed since it was saved: the next M.save writes it.
function M.spec_changed(c) c._spec_saved = nil end

--- A container's summary by id: { id, full_id, status, oci, init, owner },
-- what says whether it is alive (M.alive) without loading all of it.
function M.peek(id)
  local dir = M.dir(id)
  local s, msg, en = fs.read_file(dir .. "/state.lua")
  if not s then return nil, msg, en end
  local line = s:match("^%-%- (return {[^\n]*})\n")
  local st, err
  if line then st, err = util.unserialise(line, dir .. "/state.lua") end
  if not st then st, err = util.unserialise(s, dir .. "/state.lua") end -- (a state without the line)
  if not st then return nil, err, E.EINVAL end
  return st
end

--- Load a container's state by id (its spec too).
function M.load(id)
  local dir = M.dir(id)
  local s, msg, en = fs.read_file(dir .. "/state.lua")
  if not s then return nil, msg, en end
  local st, err = util.unserialise(s, dir .. "/state.lua")
  if not st then return nil, err, E.EINVAL end
  if st.spec == nil then -- (a state saved before spec.lua has it inline)
    s, msg, en = fs.read_file(dir .. "/spec.lua")
    if not s then return nil, msg, en end
    st.spec, err = util.unserialise(s, dir .. "/spec.lua")
    if not st.spec then return nil, err, E.EINVAL end
  end
  return st
end

--- Every saved container: a list of states (summaries, M.peek, if
-- summary), sorted by id.
function M.list(summary)
  local names = fs.readdir(config.containers()) or {}
  table.sort(names)
  local out, get = {}, summary and M.peek or M.load
  for _, n in ipairs(names) do
    out[#out + 1] = get(n)
  end
  return out
end

--- Is the container's PID 1 running?
function M.running(c) return proc.alive(c.init) end

--- Is the process that manages the container alive?
function M.owned(c) return proc.alive(c.owner) end

--- Running or managed: not to be torn down by anyone else.
function M.alive(c) return M.running(c) or M.owned(c) end

return M
