-- scripts/logs.lua: what a detached container printed.
--
--   wbl logs [-f] [--tail N] [-t|--timestamps] NAME
--
-- stdout and stderr as the container wrote them (each to its own), from
-- the log its supervisor keeps (wbl.logs); -f follows until it stops.
local wbl = require "wbl"
local cli, logs = wbl.cli, wbl.logs

local opts, names = cli.parse("wbl logs [-f] [--tail N] [-t] NAME", {
  { "f", "follow", help = "keep printing what comes, until the container stops" },
  { nil, "tail", arg = "N", check = wbl.args.check.int(0, 1 << 40), help = "only the last N lines" },
  { "t", "timestamps", help = "each line with its time" },
}, arg)
if #names ~= 1 then cli.die("logs needs one container name or id") end
local c = cli.get(names[1])
local file = logs.file(c.state_dir)
if not wbl.core.fs.stat(file) then
  cli.die(("container %s has no log: it ran in the foreground (its output went to its terminal)"):format(c.id))
end

local records = logs.records(c.state_dir)
if opts.tail then records = table.move(records, math.max(1, #records - opts.tail + 1), #records, 1, {}) end
logs.print(records, opts.timestamps)
if not opts.follow then os.exit(0) end

-- Follow: read what is appended after the size seen now (a rotation
-- starts the file again: read it from the start).
local fs, json = wbl.core.fs, require "dkjson"
local offset = (fs.stat(file) or { size = 0 }).size
local partial = ""
while true do
  local alive = wbl.state.alive(wbl.state.load(c.id) or c)
  local st = fs.stat(file)
  if st and st.size < offset then offset, partial = 0, "" end
  if st and st.size > offset then
    local f = io.open(file, "rb")
    if f then
      f:seek("set", offset)
      local data = f:read("a") or ""
      f:close()
      offset = offset + #data
      data = partial .. data
      local out = {}
      for line in data:gmatch("([^\n]*)\n") do
        local r = json.decode(line)
        if type(r) == "table" then out[#out + 1] = r end
      end
      partial = data:match("([^\n]*)$") or ""
      logs.print(out, opts.timestamps)
    end
  end
  if not alive then break end
  wbl.util.sleep_ms(100)
end
