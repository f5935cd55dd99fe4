-- scripts/exec.lua: run a command in a running container.
--
--   wbl exec [-ti] [-e K=V] [-u USER] [-w DIR] [-d] NAME COMMAND [ARG...]
--
-- The command joins the container's namespaces, cgroups and root and runs
-- the same process tail as its PID 1 (process.lua, next to this file):
-- its capabilities, seccomp profile, no_new_privs, limits and user, so it
-- is confined as the container is (wbl.exec).  Its environment is the
-- container's plus -e; -w and -u as docker's (-u looked up in the
-- container's /etc/passwd).  Exit status: the command's (128+N if killed
-- by signal N); 125 if wbl failed (no such container, not running); 126
-- if the command cannot be run; 127 if it is not found.  Signals sent to
-- wbl exec go to the command.
local wbl = require "wbl"
local cli, step = wbl.cli, wbl.step

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local usage = "wbl exec [-ti] [-e K=V] [-u USER] [-w DIR] [-d] NAME COMMAND [ARG...]"
local opts, rest = cli.parse(usage, {
  { "i", "interactive", help = "keep stdin attached (otherwise /dev/null)" },
  { "t", "tty", help = "a terminal of its own, made in the container, connected to yours" },
  { "d", "detach", help = "run it in the background and return" },
  { "e", "env", arg = "K=V", list = true, help = "set an environment variable (K alone: your value)" },
  { "u", "user", arg = "USER[:GROUP]", help = "the user (a name or uid of the container's /etc/passwd)" },
  { "w", "workdir", arg = "DIR", help = "the working directory (absolute)",
    check = function(v)
      if v:sub(1, 1) == "/" then return v end
      return nil, "must be an absolute path"
    end },
}, arg, "Exit status: the command's; 128+N if killed by signal N; 125 if wbl\n" ..
  "failed; 126 if COMMAND cannot be run; 127 if it is not found.")
if #rest < 1 then cli.die("exec needs a container name or id\nusage: " .. usage) end
if #rest < 2 then cli.die("exec needs a command\nusage: " .. usage) end
if opts.detach and opts.tty then
  cli.die("-d with -t: nobody would hold its terminal (run it detached without -t, or `wbl run -d -t` and attach)")
end

-- (a failure's code: 125, or the command's 126/127 when -d's exec failed)
local ok, err = xpcall(function()
  local c = cli.get(rest[1])
  -- What runs, then the tail, loaded now with every module it uses: once
  -- in the container, the host's files are out of reach.
  local s, p = wbl.exec.process(c, {
    args = table.move(rest, 2, #rest, 1, {}), env = opts.env, user = opts.user, cwd = opts.workdir,
    tty = opts.tty,
  })
  local tail = step("load process.lua", loadfile(here .. "/process.lua"))
  -- The container's seccomp filter, compiled here (from the cache): the
  -- process only loads it.
  if s.linux.seccomp then step("seccomp filter", wbl.seccomp.compile(s.linux.seccomp)) end
  for _, m in ipairs { "rootfs", "proc", "spec", "users", "caps", "hooks", "seccomp" } do
    local _ = wbl[m]
  end
  local t
  if opts.tty then
    step("-t", wbl.container.check_tty())
    t = step("terminal", wbl.tty.new(opts.interactive))
  end
  local job = step("exec in " .. c.id, wbl.exec.start(c, s, p, tail,
    { tty = t, interactive = opts.interactive, detach = opts.detach }))
  if opts.detach then os.exit(0) end
  os.exit(step("wait", job:wait()))
end, wbl.handler)
if not ok then cli.die(wbl.describe(err), wbl.is_error(err) and err.code or 125) end
