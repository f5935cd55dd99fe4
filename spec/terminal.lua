-- spec/terminal.lua: a real terminal for the -t specs (require "terminal").
--
--   T.start(args)     wbl scripts/run.lua ARGS with a pty of the spec's own
--                     as its terminal (the spec is the caller's terminal:
--                     it reads the screen, types, and afterwards looks at
--                     what is left in the terminal's input); no tmux
--   T.session(name)   a detached tmux session (a server of its own) running
--                     an interactive host shell: a person at a terminal
--   T.holders(pid, path)  which fds of the processes in pid's PID
--                     namespace are the file at path
--   T.sti(dir)        builds dir/sti, a static TIOCSTI probe: `sti TEXT...`
--                     types each TEXT and a newline into the terminal on fd 0
--
-- The check that the container's terminal is not the caller's (for
-- escape specs): T.start{ "-ti", "-v", sti .. ":/sti:ro", "sh", "-c",
-- "stat -L -c fd0=%d:%i /proc/self/fd/0; /sti 'touch /tmp/x'" }, then:
-- the fd0 it prints is not job.caller (the caller's terminal's dev:ino),
-- T.holders(PID 1, job.path) is empty while it runs, and job:pending()
-- (input left in the caller's terminal once wbl has exited) is "".
local core = require "wbl.core"
local util = require "wbl.util"
local pty, fd, fs = core.pty, core.fd, core.fs

local T = {}

--- Wait up to ms for pred() to be true (polled every 50 ms); its last value.
function T.until_(pred, ms)
  local v
  for _ = 1, (ms or 10000) // 50 do
    v = pred()
    if v then return v end
    util.sleep_ms(50)
  end
  return pred()
end

--- "dev:ino" of a path (following links): the identity of a file.
function T.id(path)
  local st = fs.stat(path)
  return st and (st.dev .. ":" .. st.ino)
end

-- wbl at a pty of our own ------------------------------------------------

local Job = {}
Job.__index = Job

--- Start `wbl scripts/run.lua ARGS...` in a new session whose controlling
-- terminal (and fds 0, 1, 2) is the slave of a fresh pty; the spec keeps
-- the master (the screen and keyboard) and the slave (to see its mode
-- and what is left in its input).  opts.rows, opts.cols: its size;
-- opts.script: another script than run (e.g. "attach").
function T.start(args, opts)
  opts = opts or {}
  local master = assert(pty.open())
  local slave = assert(pty.peer(master))
  assert(pty.set_size(master, opts.rows or 24, opts.cols or 80))
  local path = assert(fs.readlink("/proc/self/fd/" .. slave:fileno()))
  local argv = { H.wbl, H.top .. "/scripts/" .. (opts.script or "run") .. ".lua" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local pid = assert(core.proc.fork())
  if pid == 0 then
    pcall(function()
      master:close()
      assert(core.proc.setsid())
      assert(pty.set_ctty(slave))
      for i = 0, 2 do assert(slave:dup2(i)) end
      core.proc.execve(H.wbl, argv)
    end)
    core.proc._exit(127)
  end
  assert(master:nonblock())
  return setmetatable({ pid = pid, master = master, slave = slave, path = path, caller = T.id(path),
                        mode = assert(pty.get_mode(slave)), out = "" }, Job)
end

--- Read the screen for up to ms; the whole output so far.
function Job:read(ms)
  local ready = fd.poll({ self.master }, ms or 50)
  if ready and ready[1] then
    local s = self.master:read(65536)
    if s then self.out = self.out .. s end
  end
  return self.out
end

--- Wait (at most ~10 s) until the output matches pattern; the output.
function Job:expect(pattern)
  return T.until_(function() return self:read():find(pattern) and self.out end) or self.out
end

--- Type text.
function Job:send(text) assert(self.master:write(text)) end

--- Wait (at most ~10 s) for wbl to exit; its status (nil if it did not).
function Job:wait()
  local code = T.until_(function()
    self:read()
    if self.code then return self.code end
    local p, how, c = core.proc.waitpid(self.pid, "nohang")
    if p == self.pid then self.code = how == "exited" and c or 128 + c end
    return self.code
  end)
  self:read()
  return code
end

--- Input left in the caller's terminal (nothing should be: what is there
-- would be read by the caller's shell next).
function Job:pending()
  assert(self.slave:nonblock())
  local s = self.slave:read(65536)
  assert(self.slave:nonblock(false))
  return s or ""
end

--- Kill wbl if still running; close the pty.
function Job:close()
  if not self.code then
    core.proc.kill(self.pid, "SIGKILL")
    core.proc.waitpid(self.pid)
    self.code = 137
  end
  self.master:close()
  self.slave:close()
end

-- tmux ---------------------------------------------------------------------

function T.have_tmux()
  return os.execute("command -v tmux >/dev/null 2>&1")
end

local Session = {}
Session.__index = Session

--- A detached tmux session, on a server of its own (it inherits the spec's
-- namespaces, so wbl in it shares the spec's state root), running an
-- interactive host shell (sh, prompt "host$ ").  Its size: opts.cols x
-- opts.rows (default 120 x 30).
function T.session(prefix, opts)
  opts = opts or {}
  local s = setmetatable({ name = H.name(prefix or "tty") }, Session)
  s.socket = "/tmp/wbl-spec-" .. s.name .. ".tmux"
  s.tmux = "tmux -f /dev/null -S " .. s.socket
  local shell = "env PS1='host$ ' ENV=/dev/null sh"
  assert(os.execute(("%s new-session -d -s %s -x %d -y %d %s"):format(s.tmux, s.name, opts.cols or 120,
    opts.rows or 30, H.q(shell))))
  -- the server must be ours, in the spec's namespaces (where its state
  -- root and store are private): never one that was already running
  local server = tonumber((s:cmd("display -p -t " .. s.name .. " '#{pid}'")))
  local ns = server and fs.readlink("/proc/" .. server .. "/ns/mnt")
  if ns ~= fs.readlink("/proc/self/ns/mnt") then
    s:kill()
    error(("tmux server %s is outside the spec's mount namespace"):format(tostring(server)))
  end
  assert(s:wait_for("host%$"))
  return s
end

function Session:cmd(args)
  local p = io.popen(self.tmux .. " " .. args .. " 2>/dev/null")
  local out = p:read("a")
  p:close()
  return out
end

--- Type a line (literally) and Enter.
function Session:send(line)
  self:cmd(("send-keys -t %s -l %s"):format(self.name, H.q(line)))
  self:cmd(("send-keys -t %s Enter"):format(self.name))
end

--- Press a key, tmux's name for it ("C-c").
function Session:key(k) self:cmd(("send-keys -t %s %s"):format(self.name, k)) end

--- The screen, and the history above it.
function Session:screen() return self:cmd(("capture-pane -p -J -S -300 -t %s"):format(self.name)) end

--- Wait (at most ~10 s) until the screen matches pattern; the screen.
function Session:wait_for(pattern)
  return T.until_(function() local s = self:screen(); return s:find(pattern) and s end) or self:screen()
end

--- A tmux format of the pane: "#{pane_tty}".
function Session:format(f) return (self:cmd(("display -p -t %s %s"):format(self.name, H.q(f))):gsub("\n$", "")) end

--- The pane's terminal (its pty on the host).
function Session:tty() return self:format("#{pane_tty}") end

--- The pane's size: rows, columns.
function Session:size()
  local r, c = self:format("#{pane_height} #{pane_width}"):match("(%d+) (%d+)")
  return tonumber(r), tonumber(c)
end

function Session:resize(cols, rows)
  self:cmd(("resize-window -t %s -x %d -y %d"):format(self.name, cols, rows))
end

--- The pane terminal's mode as `stty -g` says it (from outside).
function Session:stty(flag) return (H.sh("stty " .. (flag or "-g") .. " -F " .. self:tty())) end

function Session:alive() return os.execute(self.tmux .. " has-session -t " .. self.name .. " 2>/dev/null") end

function Session:kill()
  os.execute(self.tmux .. " kill-server 2>/dev/null")
  os.remove(self.socket)
end

-- From the host's side ----------------------------------------------------

--- The fds ("PID/FD") of the processes in pid's PID namespace that are
-- the file at path (same device and inode).
function T.holders(pid, path)
  local want, ns = T.id(path), fs.readlink("/proc/" .. pid .. "/ns/pid")
  local out = {}
  for _, p in ipairs(fs.readdir("/proc") or {}) do
    if p:match("^%d+$") and fs.readlink("/proc/" .. p .. "/ns/pid") == ns then
      for _, n in ipairs(fs.readdir("/proc/" .. p .. "/fd") or {}) do
        if T.id("/proc/" .. p .. "/fd/" .. n) == want then out[#out + 1] = p .. "/" .. n end
      end
    end
  end
  table.sort(out)
  return out
end

local sti_c = [[
#include <errno.h>
#include <stdio.h>
#include <sys/ioctl.h>
/* sti TEXT...: type each TEXT and a newline into the terminal on fd 0. */
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    for (char *p = argv[i];; p++) {
      char c = *p ? *p : '\n';
      if (ioctl(0, TIOCSTI, &c) < 0) { printf("sti errno=%d\n", errno); return 1; }
      if (!*p) break;
    }
  return 0;
}
]]

--- Build dir/sti (static: it runs in any root); its path.
function T.sti(dir)
  assert(fs.write_file(dir .. "/sti.c", sti_c))
  local _, err, code = H.sh(("cc -static -O -o %s/sti %s/sti.c"):format(H.q(dir), H.q(dir)))
  assert(code == 0, err)
  return dir .. "/sti"
end

return T
