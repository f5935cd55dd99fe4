-- scripts/attach.lua: connect your terminal to a detached container's.
--
--   wbl attach [--detach-keys KEYS] NAME
--
-- For a container run with -d -t (its terminal stays with its supervisor,
-- wbl.console): your terminal is raw while attached; what you type goes
-- to it (with -i; without, only its output is shown), a resize of yours
-- is passed on.  Ctrl-P Ctrl-Q (or --detach-keys) detaches and leaves it
-- running; when it ends, attach exits with its exit status.  One terminal
-- at a time: a second attach is refused.  stdin must be a terminal.
local wbl = require "wbl"
local cli, console = wbl.cli, wbl.console

local opts, names = cli.parse("wbl attach [--detach-keys KEYS] NAME", {
  { nil, "detach-keys", arg = "KEYS", check = console.parse_keys,
    help = "the keys that detach (default ctrl-p,ctrl-q; \"\" for none)" },
}, arg, "Exit status: the container's, when it ends while attached; 0 when detached;\n" ..
  "125 if wbl failed (not running, not run with -t, another terminal attached).")
if #names ~= 1 then cli.die("attach needs one container name or id") end
local c = cli.get(names[1])
if not c.spec.process.terminal then
  cli.die(("container %s has no terminal (run it with -d -t to attach; its output: wbl logs -f %s)"):format(
    c.id, c.id))
end
if not wbl.state.running(c) then cli.die(("container %s is not running (wbl start %s)"):format(c.id, c.id)) end
if not wbl.core.fd.isatty(0) then cli.die("the input device is not a terminal (attach needs one)") end

local how, code, again = console.attach(c, opts.detach_keys)
if not how then cli.die(wbl.message(code, again)) end
if how == "detached" then
  io.stderr:write(("wbl: detached from %s: it keeps running (wbl attach %s)\n"):format(c.id, c.id))
  os.exit(0)
elseif how == "signal" then
  os.exit(128 + code)
elseif how == "hangup" then
  os.exit(129)
elseif how == "lost" then -- its supervisor went without a word (killed): what it left, reaped
  cli.wait_until(function() return not wbl.state.alive(wbl.state.load(c.id) or {}) end, 2000)
  wbl.container.reap({ [c.id] = true })
  local st = wbl.state.load(c.id)
  if st and st.exit_code and not wbl.state.running(st) then os.exit(st.exit_code) end
  cli.die(("lost the connection to container %s"):format(c.id))
end
-- It ended: once its supervisor is gone too (unless --restart runs it
-- again), `wbl rm` right after works.
if not again then
  cli.wait_until(function() return not wbl.state.alive(wbl.state.load(c.id) or { }) end, 5000)
end
os.exit(code)
