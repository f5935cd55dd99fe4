-- -t at a real terminal: the container gets a pty of its own (wbl.tty).
-- tmux plays a person at a terminal (we type and read the screen); a pty
-- of the spec's own (spec/terminal.lua, T.start) plays the caller's
-- terminal where we need to look inside it afterwards.
local core = require "wbl.core"
local T = require "terminal"
local fs, pty = core.fs, core.pty

local function have_tmux()
  return os.execute("command -v tmux >/dev/null 2>&1")
end

-- wbl scripts/run.lua ARGS as typed at the host shell, with the spec's
-- own state root and store named (H.wbl_env): the line says where it writes.
local function run_line(...)
  local parts = { H.wbl_env(), H.wbl, H.top .. "/scripts/run.lua", "--rm", "--network", "none" }
  for _, a in ipairs({ ... }) do parts[#parts + 1] = a end
  return table.concat(parts, " ")
end

-- Wait until the host shell prompts again (the last line is "host$ ").
local function host_prompt(s)
  return T.until_(function()
    local lines = {}
    for l in s:screen():gmatch("[^\n]+") do lines[#lines + 1] = l end
    return lines[#lines] and lines[#lines]:match("^host%$ ?$")
  end)
end

-- Does `stty -a` output show a flag ("-icanon", "echo")?
local function flag(stty, f)
  return (" " .. stty:gsub("%s+", " ") .. " "):find(" " .. f .. " ", 1, true) ~= nil
end

-- A tmux session for one case, killed at its end.
local function session()
  local s = T.session("tty")
  H.finally(function() s:kill() end)
  return s
end

describe("run.lua -ti #priv #tty", function()
  H.it_priv("is a usable interactive shell at a terminal", function()
    if not have_tmux() then return pending("tmux is not installed") end
    -- (a tmux server of the spec's own: one the user already runs is
    -- outside the spec's namespaces, its state root and store the real ones)
    local s = session()
    s:send(run_line("-ti", "sh"))
    assert.matches("/ #", s:wait_for("/ #"))
    s:send("echo pid=$$ answer=$((6*7)); tty")
    local out = s:wait_for("answer=42")
    assert.matches("pid=1 answer=42", out)
    assert.matches("/dev/console", out)
    -- Ctrl-C interrupts the foreground command, not the shell
    s:send("sleep 60")
    core.proc.sigwait({ "SIGUSR2" }, 300)
    s:key("C-c")
    s:send("echo still-$((1+1)); exit 5")
    assert.matches("still%-2", s:wait_for("still%-2"))
    assert.truthy(host_prompt(s))
    s:send("echo status=$?")
    assert.matches("status=5", s:wait_for("status=5"))
  end)

  H.it_priv("has a terminal of its own, from its own devpts: never the pane's", function()
    if not have_tmux() then return pending("tmux is not installed") end
    local s = session()
    local name = H.name("ttyown")
    s:send(run_line("--name", name, "-ti", "sh"))
    s:wait_for("/ # ")
    s:send("tty; stat -L -c fd0=%d:%i:%t:%T /proc/self/fd/0; stat -c pts=%d /dev/pts/ptmx; echo id-$((2*3))")
    local out = s:wait_for("id%-6")
    assert.matches("\n/dev/console\n", out)
    local dev, ino, major = out:match("fd0=(%d+):(%d+):(%x+):%x+")
    assert.equal("88", major) -- a pty slave (136)
    assert.equal(out:match("pts=(%d+)"), dev) -- of the container's own devpts instance
    local pane = s:tty()
    assert.not_equal(T.id(pane), dev .. ":" .. ino)
    -- From the host: nothing in the container holds the pane's terminal;
    -- PID 1's fds 0, 1, 2 are its own terminal, and that is the pty wbl
    -- holds the master of.
    local st = assert(H.state(name))
    assert.same({}, T.holders(st.pid, pane))
    assert.same({ "0", "1", "2" }, (function()
      local fds = {}
      for _, h in ipairs(T.holders(st.pid, "/proc/" .. st.pid .. "/fd/0")) do
        fds[#fds + 1] = h:match("^" .. st.pid .. "/(%d+)$")
      end
      return fds
    end)())
    s:send("exit")
    assert.truthy(host_prompt(s))
  end)

  H.it_priv("has the pane's size; a resize reaches its foreground process as SIGWINCH", function()
    if not have_tmux() then return pending("tmux is not installed") end
    local s = session()
    s:send(run_line("-ti", "sh"))
    s:wait_for("/ # ")
    s:send('echo "size=$(stty size)"')
    local rows, cols = s:size()
    assert.matches(("size=%d %d\n"):format(rows, cols), s:wait_for("size=%d"))
    s:send([[sh -c "trap 'echo winch=\$(stty size); exit' WINCH; echo waiting-\$((3+4)); while :; do sleep 1; done"]])
    s:wait_for("waiting%-7")
    s:resize(100, 25)
    local out = s:wait_for("winch=%d+ %d+")
    local rows2, cols2 = s:size()
    assert.is_true(rows2 ~= rows or cols2 ~= cols)
    assert.matches(("winch=%d %d\n"):format(rows2, cols2), out)
    s:send("exit")
    assert.truthy(host_prompt(s))
  end)

  H.it_priv("puts the pane in raw mode while it runs, and back after exit or a failing command", function()
    if not have_tmux() then return pending("tmux is not installed") end
    local s = session()
    local before = s:stty()
    assert.is_true(flag(s:stty("-a"), "icanon"))
    s:send(run_line("-ti", "sh"))
    s:wait_for("/ # ")
    local during = s:stty("-a")
    assert.is_true(flag(during, "-icanon"))
    assert.is_true(flag(during, "-echo"))
    assert.is_true(flag(during, "-isig")) -- Ctrl-C is a byte for the container
    s:send("exit 3")
    assert.truthy(host_prompt(s))
    assert.equal(before, s:stty())
    s:send("echo st=$?")
    assert.matches("st=3", s:wait_for("st=%d"))
    -- a command that is not there: exit 127, its message through the pty
    s:send(run_line("-ti", "no-such-command-here"))
    assert.truthy(host_prompt(s))
    assert.matches("executable file not found", s:screen())
    assert.equal(before, s:stty())
    s:send("echo st2=$?")
    assert.matches("st2=127", s:wait_for("st2=%d"))
  end)

  H.it_priv("gives the pane its mode back when wbl gets SIGTERM, SIGINT or SIGHUP", function()
    if not have_tmux() then return pending("tmux is not installed") end
    local s = session()
    local before = s:stty()
    for sig, code in pairs { SIGTERM = 7, SIGINT = 6, SIGHUP = 8 } do
      local name = H.name("ttysig")
      s:send(run_line("--name", name, "-ti", "sh", "-c", "\"trap 'exit 7' TERM; trap 'exit 6' INT; "
        .. [[trap 'exit 8' HUP; echo ready-\$((2+2)); while :; do sleep 1; done"]]))
      s:wait_for("ready%-4")
      assert.is_true(flag(s:stty("-a"), "-icanon"))
      local st = assert(H.state(name))
      assert(core.proc.kill(st.owner.pid, sig)) -- passed on to PID 1, whose trap ends it
      assert.truthy(host_prompt(s), sig)
      assert.equal(before, s:stty(), sig)
      s:send(("echo %s=$?"):format(sig))
      assert.matches(sig .. "=" .. code, s:wait_for(sig .. "=%d"))
      s:send("clear")
      assert.truthy(host_prompt(s))
    end
  end)

  H.it_priv("hangs up the container's terminal when the pane goes: its shell ends, and wbl", function()
    if not have_tmux() then return pending("tmux is not installed") end
    local s = session()
    local name = H.name("ttyhup")
    s:send(run_line("--name", name, "-ti", "sh"))
    s:wait_for("/ # ")
    local st = assert(H.state(name))
    s:kill() -- the pane's pty is closed: wbl's terminal is gone
    assert.truthy(T.until_(function() return not H.state(name) end), "the container was torn down")
    assert.is_false(require("wbl.proc").alive(st.owner))
    assert.is_false(require("wbl.proc").alive(st.init))
  end)

  H.it_priv("TIOCSTI from inside types into its own terminal, never into the caller's shell", function()
    if not have_tmux() then return pending("tmux is not installed") end
    local work = H.tmpdir()
    H.finally(function() require("wbl.util").rm_rf(work) end)
    local sti = T.sti(work)
    local marker = work .. "/typed-into-the-host-shell"
    local s = session()
    -- The probe works here: at the host shell, it types into the pane.
    s:send(sti .. " 'echo injected-$((6*7))'")
    if not s:wait_for("injected%-42"):find("injected%-42") then
      return pending("TIOCSTI is refused on this kernel (dev.tty.legacy_tiocsti=0): nothing to prove")
    end
    -- Inside: "exit" ends the container's shell (its own terminal took
    -- it); what follows would run in the host shell if the terminal
    -- were the caller's.
    s:send(run_line("-v", sti .. ":/sti:ro", "-ti", "sh"))
    s:wait_for("/ # ")
    s:send(("/sti exit 'touch %s'"):format(marker))
    assert.truthy(host_prompt(s))
    s:send("echo alive-$((2+3)) $?")
    assert.matches("alive%-5 0", s:wait_for("alive%-5"))
    assert.is_nil(fs.stat(marker))
  end)
end)

describe("run.lua -t at a pty of the spec's own #priv #tty", function()
  H.it_priv("keeps the caller's terminal out: TIOCSTI leaves nothing in it, nothing inside holds it", function()
    local work = H.tmpdir()
    H.finally(function() require("wbl.util").rm_rf(work) end)
    local sti = T.sti(work)
    local name = H.name("ttyesc")
    local job = T.start({ "--rm", "--network", "none", "--name", name, "-v", sti .. ":/sti:ro", "-ti", "sh", "-c",
      "stat -L -c fd0=%d:%i /proc/self/fd/0; echo ready; read x; echo got-$x; /sti 'touch /tmp/typed'; echo sti=$?" })
    H.finally(function() job:close() end)
    local out = job:expect("ready")
    assert.not_equal(job.caller, out:match("fd0=(%d+:%d+)"))
    assert.same({}, T.holders(assert(H.state(name)).pid, job.path))
    job:send("line\r") -- through wbl, into its terminal
    assert.equal(0, job:wait())
    assert.matches("got%-line", job.out)
    assert.matches("sti=0", job.out) -- typed, into its own terminal, and gone with it
    assert.equal("", job:pending()) -- the caller's shell would read nothing
    assert.equal(job.mode, pty.get_mode(job.slave)) -- and its mode is back
  end)

  H.it_priv("-t without -i: output through its terminal, stdin /dev/null, the caller's mode untouched", function()
    local job = T.start({ "--rm", "--network", "none", "-t", "sh", "-c",
      "readlink /proc/self/fd/1; stty size </dev/tty; readlink /proc/self/fd/0; cat; echo end" },
      { rows = 33, cols = 77 })
    H.finally(function() job:close() end)
    assert.equal(0, job:wait())
    -- (\r: the container's terminal turns \n into \r\n, and the caller's,
    -- not raw without -i, does it again)
    assert.equal("/dev/console\n33 77\n/dev/null\nend\n", (job.out:gsub("\r", "")))
    assert.equal(job.mode, pty.get_mode(job.slave))
  end)

  H.it_priv("gives the terminal back when the copy loop fails", function()
    local tty, proc = require "wbl.tty", require "wbl.proc"
    local master = assert(pty.open()) -- the caller's terminal: its slave
    local caller = assert(pty.peer(master))
    local mode = assert(pty.get_mode(caller))
    local t = assert(tty.new(true, caller, caller))
    -- a child that plays the container's side: sends a pty's master, waits
    local child = assert(proc.spawn("", function()
      local m = assert(pty.open())
      assert(t.peer:send_fds({ m }, "pty"))
      core.proc.sigwait({ "SIGUSR2" }, 10000)
    end))
    H.finally(function() child:abort(); master:close(); caller:close() end)
    assert(child:go())
    local p, during = t:pump(), nil
    local ready = p.ready
    p.ready = function(self, r) -- once the master is in and the mode raw: fail
      if self.saved then
        during = pty.get_mode(caller)
        error("injected failure")
      end
      return ready(self, r)
    end
    assert(master:write("x")) -- a key: the copy loop has something to do
    local ok, err = pcall(child.wait, child, p)
    assert.is_false(ok)
    assert.matches("injected failure", err)
    assert.not_equal(mode, during) -- it was raw
    assert.equal(mode, pty.get_mode(caller)) -- and is back
  end)
end)
