-- -ti at a real terminal: tmux gives wbl a pty, we type and read the screen.
local core = require "wbl.core"

local function have_tmux()
  return os.execute("command -v tmux >/dev/null 2>&1")
end

local function screen(session)
  local p = io.popen("tmux capture-pane -p -t " .. session)
  local s = p:read("a")
  p:close()
  return s
end

-- Poll the screen until pattern shows (at most ~10 s): no timing is asserted.
local function wait_for(session, pattern)
  for _ = 1, 200 do
    local s = screen(session)
    if s:find(pattern) then return s end
    core.proc.sigwait({ "SIGUSR2" }, 50)
  end
  return screen(session)
end

describe("run.lua -ti #priv #tty", function()
  H.it_priv("is a usable interactive shell at a terminal", function()
    if not have_tmux() then return pending("tmux is not installed") end
    local session = H.name("tty")
    local done = os.tmpname()
    local cmd = ("%s %s/scripts/run.lua -ti sh; echo $? > %s; sleep 30"):format(H.wbl, H.top, done)
    assert(os.execute(("tmux new-session -d -s %s -x 120 -y 30 %s"):format(session, H.q(cmd))))
    finally(function() os.execute("tmux kill-session -t " .. session .. " 2>/dev/null"); os.remove(done) end)
    local first = wait_for(session, "/ #")
    assert.matches("/ #", first)
    os.execute(("tmux send-keys -t %s %s Enter"):format(session, H.q("echo pid=$$ answer=$((6*7)); tty")))
    local s = wait_for(session, "answer=42")
    assert.matches("pid=1 answer=42", s)
    assert.matches("/dev/console", s)
    -- Ctrl-C interrupts the foreground command, not the shell
    os.execute(("tmux send-keys -t %s %s Enter"):format(session, H.q("sleep 60")))
    core.proc.sigwait({ "SIGUSR2" }, 300)
    os.execute(("tmux send-keys -t %s C-c"):format(session))
    os.execute(("tmux send-keys -t %s %s Enter"):format(session, H.q("echo still-$((1+1)); exit 5")))
    assert.matches("still%-2", wait_for(session, "still%-2"))
    for _ = 1, 200 do
      local f = io.open(done)
      local v = f and f:read("l")
      if f then f:close() end
      if v and v ~= "" then
        assert.equal("5", v)
        return
      end
      core.proc.sigwait({ "SIGUSR2" }, 50)
    end
    error("the shell did not exit")
  end)
end)
