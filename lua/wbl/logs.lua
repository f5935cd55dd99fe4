--- A detached container's output: what its stdout and stderr say, kept in
-- its state directory as JSON lines in docker's json-file format
--   {"log":"hello\n","stream":"stdout","time":"2026-12-04T06:10:00.123456789Z"}
-- one per line of output, rotated by size (container.log, container.log.1,
-- ...: WBL_LOG_MAX_SIZE bytes, default 10 MiB, WBL_LOG_MAX_FILES, default 3).
local core = require "wbl.core"
local json = require "dkjson"
local fs = core.fs

local M = {}

M.max_size = tonumber(os.getenv("WBL_LOG_MAX_SIZE") or "") or 10 * 1024 * 1024
M.max_files = tonumber(os.getenv("WBL_LOG_MAX_FILES") or "") or 3

--- The log file of a state directory.
function M.file(state_dir) return state_dir .. "/container.log" end

--- RFC 3339 UTC time with nanoseconds, from core.realtime_ns().
function M.timestamp(ns)
  ns = ns or core.realtime_ns()
  return os.date("!%Y-%m-%dT%H:%M:%S", ns // 1000000000) .. (".%09dZ"):format(ns % 1000000000)
end

local Writer = {}
Writer.__index = Writer

--- A writer appending to file: w:write(stream, bytes) logs whole lines (a
-- partial line waits for its end, or w:close()).
function M.writer(file)
  local fd, msg, en = core.fd.open(file, "wronly,append,creat", "0640")
  if not fd then return nil, msg, en end
  local st = fs.stat(file)
  return setmetatable({ file = file, fd = fd, size = st and st.size or 0, partial = {} }, Writer)
end

function Writer:rotate()
  self.fd:close()
  for i = M.max_files - 1, 1, -1 do
    local from = i == 1 and self.file or (self.file .. "." .. (i - 1))
    fs.rename(from, self.file .. "." .. i)
  end
  self.fd = assert(core.fd.open(self.file, "wronly,append,creat,trunc", "0640"))
  self.size = 0
end

function Writer:line(stream, text)
  local rec = json.encode { log = text, stream = stream, time = M.timestamp() } .. "\n"
  if self.size + #rec > M.max_size and self.size > 0 and M.max_files > 1 then self:rotate() end
  self.fd:write(rec)
  self.size = self.size + #rec
end

function Writer:write(stream, data)
  local buf = (self.partial[stream] or "") .. data
  local start = 1
  while true do
    local nl = buf:find("\n", start, true)
    if not nl then break end
    self:line(stream, buf:sub(start, nl))
    start = nl + 1
  end
  self.partial[stream] = buf:sub(start)
  -- a very long line without a newline is logged in pieces, as docker does
  if #self.partial[stream] >= 16384 then
    self:line(stream, self.partial[stream])
    self.partial[stream] = ""
  end
end

function Writer:close()
  for stream, rest in pairs(self.partial) do
    if rest ~= "" then self:line(stream, rest) end
  end
  self.partial = {}
  self.fd:close()
end

--- The records of a container's log, oldest first: { log, stream, time }.
function M.records(state_dir)
  local file = M.file(state_dir)
  local out = {}
  for i = M.max_files - 1, 0, -1 do
    local s = fs.read_file(i == 0 and file or (file .. "." .. i))
    for line in (s or ""):gmatch("[^\n]+") do
      local r = json.decode(line)
      if type(r) == "table" then out[#out + 1] = r end
    end
  end
  return out
end

--- Print records to stdout and stderr (their stream), with their time
-- first when timestamps.
function M.print(records, timestamps)
  for _, r in ipairs(records) do
    local f = r.stream == "stderr" and io.stderr or io.stdout
    if timestamps then f:write(r.time, " ") end
    f:write(r.log)
  end
  io.stdout:flush()
  io.stderr:flush()
end

return M
