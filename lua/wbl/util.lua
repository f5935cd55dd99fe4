--- Small helpers shared by the library: paths, random ids, serialisation.
local core = require "wbl.core"
local fs, E = core.fs, core.errno

local M = {}

function M.dirname(p)
  local d = p:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

function M.join(a, b)
  if b:sub(1, 1) == "/" then b = b:sub(2) end
  if a:sub(-1) == "/" then return a .. b end
  return a .. "/" .. b
end

function M.exists(p) return fs.lstat(p) ~= nil end

--- Write text as the file path, atomically: a reader sees the old file or
-- the new one whole.  A temporary file beside it (.NAME.PID.tmp, of this
-- process alone), renamed over it; removed again on failure.
-- @return true, or nil, message, errno
function M.replace_file(path, text, mode)
  local tmp = ("%s/.%s.%d.tmp"):format(M.dirname(path), path:match("([^/]*)$"), core.proc.getpid())
  local ok, msg, en = fs.write_file(tmp, text, nil, mode or "0600")
  if ok then ok, msg, en = fs.rename(tmp, path) end
  if not ok then fs.unlink(tmp) end
  return ok, msg, en
end

function M.isdir(p)
  local st = fs.stat(p)
  return st ~= nil and st.type == "directory"
end

--- A module loaded on first use: a table standing for require(name),
-- for a module only some paths need (every start loads what it uses;
-- each 10 KB of Lua costs ~50 us to load, cached bytecode or not).
function M.lazy(name)
  return setmetatable({}, { __index = function(t, k)
    local mod = require(name)
    setmetatable(t, { __index = mod })
    return mod[k]
  end })
end

--- n random bytes as hex (from the kernel).
function M.random_hex(nbytes)
  local s = assert(fs.read_file("/proc/sys/kernel/random/uuid")):gsub("[^%x]", "")
  while #s < nbytes * 2 do
    s = s .. assert(fs.read_file("/proc/sys/kernel/random/uuid")):gsub("[^%x]", "")
  end
  return s:sub(1, nbytes * 2)
end

--- rm -rf that never follows symlinks and never crosses into a mount
-- (a mount point gives EBUSY at rmdir, which is reported, before anything
-- in it is touched).  A file, a link or an empty directory goes with one
-- or two calls; only a directory with entries is read.
function M.rm_rf(path)
  local ok, msg, en = fs.unlink(path) -- a file, a link (not followed)
  if ok or en == E.ENOENT then return true end
  if en ~= E.EISDIR then return nil, msg, en end
  ok, msg, en = fs.rmdir(path) -- an empty directory; EBUSY: a mount point
  if ok or en == E.ENOENT then return true end
  if en ~= E.ENOTEMPTY and en ~= E.EEXIST then return nil, msg, en end
  local names
  names, msg, en = fs.readdir(path)
  if not names then return nil, msg, en end
  for _, name in ipairs(names) do
    ok, msg, en = M.rm_rf(path .. "/" .. name)
    if not ok then return nil, msg, en end
  end
  return fs.rmdir(path)
end

--- Run fn() holding an exclusive flock on lockfile (made if missing);
-- return what fn returns (an error in fn is raised again, unlocked).
function M.locked(lockfile, fn)
  local fd, msg, en = core.fd.open(lockfile, "rdwr,creat", "0600")
  if not fd then return nil, msg, en end
  local ok
  ok, msg, en = fs.flock(fd, "ex")
  if not ok then fd:close(); return nil, "lock " .. lockfile .. ": " .. tostring(msg), en end
  local res = table.pack(pcall(fn))
  fd:close() -- releases the lock
  if not res[1] then error(res[2], 0) end
  return table.unpack(res, 2, res.n)
end

--- Sleep ms milliseconds (poll on a pipe nobody writes to).
function M.sleep_ms(ms)
  local r, w = core.fd.pipe()
  if not r then return end
  r:wait(ms)
  r:close()
  w:close()
end

--- Run a host program: argv (PATH searched), input fed to its stdin (or
-- /dev/null), its stdout discarded.  true, or nil, "PROGRAM: what it said
-- on stderr", and ENOENT when it is not installed, else EIO.
function M.run(argv, input)
  local P = core.proc
  local er, ew, en0 = core.fd.pipe()
  if not er then return nil, ew, en0 end
  local ir, iw
  if input then
    ir, iw, en0 = core.fd.pipe()
    if not ir then er:close(); ew:close(); return nil, iw, en0 end
  end
  io.stdout:flush()
  io.stderr:flush()
  local pid, msg, en = P.fork()
  if not pid then return nil, msg, en end
  if pid == 0 then
    er:close()
    ew:dup2(2)
    local null = core.fd.open("/dev/null", "rdwr")
    if null then null:dup2(1); null:dup2(0) end
    if ir then iw:close(); ir:dup2(0) end
    P.execvp(argv[1], argv)
    io.stderr:write(argv[1], ": not found\n")
    P._exit(127)
  end
  ew:close()
  if ir then
    ir:close()
    iw:write(input)
    iw:close()
  end
  local parts = {}
  while true do
    local s = er:read(65536)
    if not s or s == "" then break end
    parts[#parts + 1] = s
  end
  er:close()
  local _, how, code = P.waitpid(pid)
  if how == "exited" and code == 0 then return true end
  local lines = {}
  for l in table.concat(parts):gmatch("[^\n]+") do
    lines[#lines + 1] = l:gsub("^" .. argv[1]:gsub("%p", "%%%0") .. ": ", "")
  end
  local said = table.concat(lines, "; ")
  if said == "" then said = ("failed (%s %s)"):format(how, code) end
  return nil, ("%s: %s"):format(argv[1], said),
    (how == "exited" and code == 127) and core.errno.ENOENT or core.errno.EIO
end

--- A table as Lua source ("return { ... }"), readable by M.unserialise:
-- lists in order, other tables with sorted keys, so the same data is
-- always written the same way (core/data.c; state is saved a few times
-- a start).
M.serialise = core.data.serialise

--- Load what M.serialise wrote, in an empty environment.
function M.unserialise(s, name)
  local f, err = load(s, "=" .. (name or "state"), "t", {})
  if not f then return nil, err end
  local ok, v = pcall(f)
  if not ok then return nil, v end
  return v
end

return M
