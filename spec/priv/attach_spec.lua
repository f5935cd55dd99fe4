-- run -d -t and wbl attach: a detached container's terminal stays with
-- its supervisor (wbl.console), and attach connects a terminal to it.
-- A pty of the spec's own (spec/terminal.lua) is the caller's terminal:
-- we type, read the screen, and look at its mode and what is left in it.
local core = require "wbl.core"
local util = require "wbl.util"
local T = require "terminal"
local fs, pty, P = core.fs, core.pty, core.proc

-- `wbl COMMAND ARGS...`: stdout, stderr, status.
local function wblcmd(cmd, ...)
  local a = { H.top .. "/scripts/" .. cmd .. ".lua" }
  for _, x in ipairs({ ... }) do a[#a + 1] = x end
  return H.wbl_run(a)
end

-- `wbl attach ARGS...` at a terminal of the spec's own.
local function attach(args, opts)
  opts = opts or {}
  opts.script = "attach"
  return T.start(args, opts)
end

-- Does `stty -a` of the job's terminal show a flag ("-icanon", "echo")?
local function flag(job, f)
  local stty = H.sh("stty -a -F " .. job.path)
  return (" " .. stty:gsub("%s+", " ") .. " "):find(" " .. f .. " ", 1, true) ~= nil
end

-- Raw (attached): no line editing, no echo, no signals from keys.
local function raw(job)
  return T.until_(function() return flag(job, "-icanon") and flag(job, "-echo") and flag(job, "-isig") end)
end

-- The screen after the last time `mark` was typed.
local function since(job, mark)
  local out, at = job.out, nil
  local i = 1
  while true do
    local j = out:find(mark, i, true)
    if not j then break end
    at, i = j, j + 1
  end
  return at and out:sub(at) or ""
end

-- Type a command line and wait for the pattern in what comes after it.
local function run_line(job, line, pattern)
  job:send(line .. "\r")
  return T.until_(function()
    job:read()
    return since(job, line):find(pattern)
  end)
end

-- A shell just started may drop what is typed before its first prompt:
-- type until it answers.
local function answers(job)
  for i = 1, 20 do
    job:send(("echo ready-%d-$((%d+1))\r"):format(i, i))
    if T.until_(function() return job:read():find(("ready%%-%d%%-%d\r\n"):format(i, i + 1)) end, 1000) then
      return true
    end
  end
  return false
end

-- Is a process named comm running in the PID namespace of pid?
local function has_process(pid, comm)
  local ns = fs.readlink("/proc/" .. pid .. "/ns/pid")
  for _, p in ipairs(fs.readdir("/proc") or {}) do
    if p:match("^%d+$") and fs.readlink("/proc/" .. p .. "/ns/pid") == ns
        and (fs.read_file("/proc/" .. p .. "/comm") or "") == comm .. "\n" then
      return true
    end
  end
  return false
end

local function status(name)
  local out = wblcmd("ps", "-a")
  for l in out:gmatch("[^\n]+") do
    if l:match("%s" .. name:gsub("%-", "%%-") .. "$") then return l end
  end
end

-- The containers a case made, removed after it.
local made = {}

-- Start a detached container with a terminal from a pipe (no terminal at
-- all on the caller's side); its id.
local function run_d(name, flags, ...)
  made[#made + 1] = name
  local parts = { H.q(H.wbl), H.q(H.top .. "/scripts/run.lua"), flags, "--name", name, "--network", "none" }
  for _, a in ipairs({ ... }) do parts[#parts + 1] = H.q(a) end
  local out, err, code = H.sh("echo | " .. table.concat(parts, " "))
  assert.equal(0, code, err)
  return out:match("^(%x+)\n$")
end

describe("run -d -t and attach #priv #tty", function()
  after_each(function()
    if not H.root then return end
    for _, n in ipairs(made) do if H.state(n) then wblcmd("rm", "-f", n) end end
    made = {}
  end)

  H.it_priv("run -dit from a terminal returns the id at once and leaves that terminal as it was", function()
    local name = H.name("att")
    made[#made + 1] = name
    local job = T.start { "-dit", "--name", name, "--network", "none", "sh" }
    H.finally(function() job:close() end)
    assert.equal(0, job:wait())
    assert.matches("^%x+\r\n$", job.out)
    assert.equal(64, #job.out:match("^(%x+)"))
    assert.equal(job.mode, assert(pty.get_mode(job.slave))) -- untouched
    assert.equal("", job:pending())
    assert.matches("Up ", status(name))
    -- the terminal is the supervisor's: in the container's devpts, not ours
    local st = assert(H.state(name))
    assert.same({}, T.holders(st.pid, job.path))
    assert.equal("socket", fs.stat(H.state_dir(name) .. "/attach.sock").type)
    assert.equal(tonumber("600", 8), fs.stat(H.state_dir(name) .. "/attach.sock").mode & tonumber("777", 8))
  end)

  H.it_priv("attach: a shell at your terminal, raw while attached, resized, detached with Ctrl-P Ctrl-Q; "
    .. "again; exit 5 ends both; logs hold it all", function()
    local name = H.name("att")
    assert.equal(64, #run_d(name, "-dit", "sh"))

    local job = attach({ name }, { rows = 30, cols = 90 })
    H.finally(function() job:close() end)
    assert.is_true(raw(job))
    assert.is_true(answers(job), job.out)
    assert.is_truthy(run_line(job, "echo $((6*7))", "\n42\r\n"), job.out)
    assert.is_truthy(run_line(job, "tty", "\n/dev/console\r\n"), job.out)
    -- the size of our terminal when attach started, then a resize
    assert.is_truthy(run_line(job, "stty size", "\n30 90\r\n"), job.out)
    assert(pty.set_size(job.master, 33, 101)) -- the kernel sends attach SIGWINCH
    assert.is_truthy(run_line(job, "stty size", "\n33 101\r\n"), job.out)
    -- Ctrl-C is a key for the container's shell now, not a signal for attach
    job:send("sleep 30\r")
    assert.is_true(T.until_(function() return has_process(H.state(name).pid, "sleep") end))
    job:send("\3")
    assert.is_truthy(run_line(job, "echo after-$((1+1))", "\nafter%-2\r\n"), job.out)

    -- detach: attach exits 0, our terminal as it was, nothing left in it
    job:send("\16\17")
    assert.equal(0, job:wait())
    assert.equal(job.mode, assert(pty.get_mode(job.slave)))
    assert.equal("", job:pending())
    assert.matches("detached from " .. name, job.out, 1, true)
    assert.matches("Up ", status(name))

    -- again: the same shell
    local job2 = attach { name }
    H.finally(function() job2:close() end)
    assert.is_true(raw(job2))
    assert.is_truthy(run_line(job2, "echo again-$((1+1))", "\nagain%-2\r\n"), job2.out)
    job2:send("exit 5\r")
    assert.equal(5, job2:wait())
    assert.equal(job2.mode, assert(pty.get_mode(job2.slave)))
    assert.matches("Exited %(5%)", status(name))
    assert.is_nil(fs.stat(H.state_dir(name) .. "/attach.sock"))
    -- rm right after works: the supervisor is gone
    local _, err, code = wblcmd("rm", name)
    assert.equal(0, code, err)
  end)

  H.it_priv("logs hold what was typed (the terminal's echo) and printed", function()
    local name = H.name("att")
    run_d(name, "-dit", "sh")
    local job = attach { name }
    H.finally(function() job:close() end)
    assert.is_true(answers(job), job.out)
    assert.is_truthy(run_line(job, "echo $((6*7))", "\n42\r\n"), job.out)
    job:send("exit 3\r")
    assert.equal(3, job:wait())
    local out = wblcmd("logs", name)
    assert.matches("echo $((6*7))\r\n42\r\n", out, 1, true)
    assert.matches("exit 3", out, 1, true)
  end)

  H.it_priv("a second attach is refused; the first stays", function()
    local name = H.name("att")
    run_d(name, "-dit", "sh")
    local a = attach { name }
    H.finally(function() a:close() end)
    assert.is_true(raw(a))
    assert.is_true(answers(a), a.out)
    local b = attach { name }
    H.finally(function() b:close() end)
    assert.equal(125, b:wait())
    assert.matches("has a terminal attached already", b.out, 1, true)
    assert.equal(b.mode, assert(pty.get_mode(b.slave))) -- never raw
    assert.is_truthy(run_line(a, "echo still-$((2+2))", "\nstill%-4\r\n"), a.out)
    a:send("\16\17")
    assert.equal(0, a:wait())
    -- now it may
    local c = attach { name }
    H.finally(function() c:close() end)
    assert.is_truthy(run_line(c, "echo third-$((3+3))", "\nthird%-6\r\n"), c.out)
    c:send("\16\17")
    assert.equal(0, c:wait())
  end)

  H.it_priv("attach killed by a signal puts the terminal back; the container runs on", function()
    local name = H.name("att")
    run_d(name, "-dit", "sh")
    for _, sig in ipairs { "SIGTERM", "SIGHUP" } do
      local job = attach { name }
      H.finally(function() job:close() end)
      assert.is_true(raw(job))
      P.kill(job.pid, sig)
      assert.equal(128 + P.signals[sig], job:wait())
      assert.equal(job.mode, assert(pty.get_mode(job.slave)))
      assert.matches("Up ", status(name))
    end
  end)

  H.it_priv("a supervisor killed while attached: attach exits 137, the terminal put back", function()
    local name = H.name("att")
    run_d(name, "-dit", "sh")
    local job = attach { name }
    H.finally(function() job:close() end)
    assert.is_true(raw(job))
    P.kill(H.state(name).owner.pid, "SIGKILL")
    assert.equal(137, job:wait())
    assert.equal(job.mode, assert(pty.get_mode(job.slave)))
    assert.matches("Exited %(137%)", status(name))
  end)

  H.it_priv("--detach-keys", function()
    local name = H.name("att")
    run_d(name, "-dit", "sh")
    local job = attach { "--detach-keys", "ctrl-a,d", name }
    H.finally(function() job:close() end)
    assert.is_true(raw(job))
    assert.is_true(answers(job), job.out)
    job:send("\16\17\3") -- not the keys now: they go to the shell (Ctrl-C: a new line)
    assert.is_truthy(run_line(job, "echo keys-$((1+4))", "\nkeys%-5\r\n"), job.out)
    job:send("\1d")
    assert.equal(0, job:wait())
    assert.matches("Up ", status(name))
    local _, err, code = wblcmd("attach", "--detach-keys", "ctrl-#", name)
    assert.equal(125, code)
    assert.matches("bad detach key", err)
  end)

  H.it_priv("nobody attached: the container never blocks on its terminal; it all goes to the log", function()
    local name = H.name("att")
    run_d(name, "-dt", "sh", "-c", "seq 1 100000; echo done-$((1+1))")
    assert.is_truthy(T.until_(function() return status(name):match("Exited %(0%)") end, 20000), status(name))
    local out = wblcmd("logs", name)
    assert.matches("\n99999\r\n100000\r\ndone%-2\r\n$", out)
  end)

  H.it_priv("without -i, what is typed does not reach the container's terminal; with -i it does", function()
    -- (without -i its stdin is /dev/null, as in the foreground: sleep keeps it up)
    local name, name_i = H.name("att"), H.name("att")
    run_d(name, "-dt", "sleep", "60")
    run_d(name_i, "-dit", "sleep", "60")
    local function logged(n) return (wblcmd("logs", n)):find("typed-text", 1, true) ~= nil end
    for _, n in ipairs { name_i, name } do
      local job = attach { n }
      H.finally(function() job:close() end)
      assert.is_true(raw(job))
      job:send("typed-text\r")
      -- with -i: the terminal's echo, in the log
      if n == name_i then assert.is_true(T.until_(function() return logged(n) end)) end
      job:send("\16\17")
      assert.equal(0, job:wait())
    end
    wblcmd("stop", "-t", "0", name) -- its log read to the end, and closed
    assert.is_false(logged(name))
  end)

  H.it_priv("refusals: no -t (125), not running, not a terminal, no such container", function()
    local name, plain = H.name("att"), H.name("att")
    run_d(plain, "-d", "sleep", "30")
    local _, err, code = wblcmd("attach", plain)
    assert.equal(125, code)
    assert.matches("has no terminal", err)
    assert.matches("wbl logs %-f", err)
    run_d(name, "-dit", "sh")
    -- stdin a pipe
    _, err, code = H.sh(("echo | %s %s %s"):format(H.q(H.wbl), H.q(H.top .. "/scripts/attach.lua"), name))
    assert.equal(125, code)
    assert.matches("not a terminal", err)
    wblcmd("stop", "-t", "0", name)
    local job = attach { name }
    H.finally(function() job:close() end)
    assert.equal(125, job:wait())
    assert.matches("is not running", job.out)
    _, err, code = wblcmd("attach", "nosuch-" .. util.random_hex(4))
    assert.equal(125, code)
    assert.matches("no such container", err)
  end)

  H.it_priv("--restart: attach ends with the status of the run that ended; the next run can be attached", function()
    local name = H.name("att")
    run_d(name, "-dit --restart on-failure:1", "sh")
    local job = attach { name }
    H.finally(function() job:close() end)
    assert.is_true(answers(job), job.out)
    job:send("exit 3\r")
    assert.equal(3, job:wait())
    assert.is_truthy(T.until_(function()
      local st = H.state(name)
      return st and st.restart_count == 1 and status(name):match("Up ")
    end))
    local job2 = attach { name }
    H.finally(function() job2:close() end)
    assert.is_true(answers(job2), job2.out)
    job2:send("exit 4\r")
    assert.equal(4, job2:wait())
    assert.matches("Exited %(4%)", status(name)) -- on-failure:1: not again
  end)

  H.it_priv("a -t container started again (wbl start) can be attached", function()
    local name = H.name("att")
    run_d(name, "-dit", "sh")
    wblcmd("stop", "-t", "0", name)
    local _, err, code = wblcmd("start", name)
    assert.equal(0, code, err)
    local job = attach { name }
    H.finally(function() job:close() end)
    assert.is_true(answers(job), job.out)
    assert.is_truthy(run_line(job, "echo restarted-$((4+4))", "\nrestarted%-8\r\n"), job.out)
    job:send("exit 0\r")
    assert.equal(0, job:wait())
  end)
end)
