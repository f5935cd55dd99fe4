-- spec/helper.lua: loaded by busted before every spec file.
--
-- As root, the whole spec run first moves into new mount, network and UTS
-- namespaces (ljsyscall's test.lua does the same), with / made private
-- recursively: a spec's mounts, links, bridges and NAT rules can never
-- reach the host, and whatever a failing spec leaves dies with the run.
-- Cgroups are not namespaced this way: specs use unique names and clean up.
local core = require "wbl.core"

local H = {}
H.root = core.proc.getuid() == 0
H.top = core.fs.getcwd()
H.wbl = H.top .. "/build/wbl"
H.rootfs = os.getenv("WBL_ROOTFS") or (H.top .. "/rootfs/busybox")

if H.root and core.ns.gethostname() ~= "wbl-spec" then
  assert(core.ns.unshare("mnt,net,uts"))
  assert(core.mount.mount(nil, "/", nil, "rec,private"))
  -- A tmpfs over the state root: this run's containers and networks only.
  core.fs.mkdir_p("/run/wbl", "0700")
  assert(core.mount.mount("tmpfs", "/run/wbl", "tmpfs", "nosuid,nodev", "mode=0700"))
  -- And one over the image store: images and write layers of this run's
  -- containers go with it (specs that need a store of their own set WBL_STORE).
  local store = os.getenv("WBL_STORE") or "/var/lib/wbl"
  core.fs.mkdir_p(store, "0700")
  assert(core.mount.mount("tmpfs", store, "tmpfs", nil, "mode=0700"))
  require("wbl.net").loopback_up()
  core.ns.sethostname("wbl-spec")
end
H.isolated = core.ns.gethostname() == "wbl-spec"

--- Quote a string for sh.
function H.q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- "WBL_ROOT=... WBL_STORE=...": this run's own state root and store,
-- for a command line typed into a terminal (a tmux pane), so that the
-- line itself says where it writes, never the user's defaults.
function H.wbl_env()
  local config = require "wbl.config"
  return ("WBL_ROOT=%s WBL_STORE=%s"):format(H.q(config.root()), H.q(config.store()))
end

--- Run a shell command line; return stdout, stderr and the exit status.
function H.sh(cmdline, input)
  local errf = os.tmpname()
  local inf
  if input then
    inf = os.tmpname()
    local f = assert(io.open(inf, "w"))
    f:write(input)
    f:close()
    cmdline = cmdline .. " <" .. inf
  end
  local p = assert(io.popen(cmdline .. " 2>" .. errf, "r"))
  local out = p:read("a")
  local _, how, code = p:close()
  local f = assert(io.open(errf))
  local err = f:read("a")
  f:close()
  os.remove(errf)
  if inf then os.remove(inf) end
  if how == "signal" then code = 128 + code end
  return out, err, code
end

--- Run build/wbl with arguments (a list): stdout, stderr, status.
function H.wbl_run(args, input)
  local parts = { H.q(H.wbl) }
  for _, a in ipairs(args) do parts[#parts + 1] = H.q(a) end
  return H.sh(table.concat(parts, " "), input)
end

--- `wbl scripts/run.lua ARGS...`
function H.run(args, input)
  local a = { H.top .. "/scripts/run.lua" }
  for _, x in ipairs(args) do a[#a + 1] = x end
  return H.wbl_run(a, input)
end

--- The mount table as a sorted string (mount ids and propagation peers
-- removed), for before/after comparisons.
function H.mounts()
  local lines = {}
  for l in assert(core.fs.read_file("/proc/self/mountinfo")):gmatch("[^\n]+") do
    lines[#lines + 1] = l
  end
  table.sort(lines)
  return table.concat(lines, "\n")
end

--- Run fn in a forked child; return how it ended ("exited", code).
-- The child's fn returns an exit code (or true for 0); an error gives 99.
function H.in_child(fn, ns)
  local pid = assert(core.proc.clone(ns))
  if pid == 0 then
    local ok, r = pcall(fn)
    io.stdout:flush()
    io.stderr:flush()
    if not ok then
      io.stderr:write(tostring(r), "\n")
      core.proc._exit(99)
    end
    core.proc._exit(r == true and 0 or tonumber(r) or 0)
  end
  local _, how, code = core.proc.waitpid(pid)
  return how, code
end

-- busted's it/pending live in the spec file's environment, not in _G:
-- take them from the caller's _ENV.
local function caller_env()
  local f = debug.getinfo(3, "f").func
  for i = 1, 255 do
    local name, val = debug.getupvalue(f, i)
    if not name then break end
    if name == "_ENV" then return val end
  end
  return _G
end

--- finally(fn) that adds up: busted keeps only the last function a case
-- gives its finally, so a case that registers two would leak what the
-- first was to undo.  H.finally runs them all, the last registered first.
local cleanups
function H.finally(fn)
  if not cleanups then
    cleanups = {}
    caller_env().finally(function()
      local list = cleanups
      cleanups = nil
      for i = #list, 1, -1 do list[i]() end
    end)
  end
  cleanups[#cleanups + 1] = fn
end

--- it() for cases that need root; pending (with the reason) otherwise.
function H.it_priv(name, fn)
  local env = caller_env()
  if H.root then return env.it(name, fn) end
  return env.pending(name .. " (needs root)")
end

--- Start `wbl scripts/run.lua ARGS...` in the background, its stdout on a
-- pipe.  Returns { pid = wbl's pid, out = read end }.
function H.start(args)
  local r, w = assert(core.fd.pipe())
  local argv = { H.wbl, H.top .. "/scripts/run.lua" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local pid = assert(core.proc.fork())
  if pid == 0 then
    pcall(function()
      w:dup2(1)
      core.proc.execve(H.wbl, argv)
    end)
    core.proc._exit(127)
  end
  w:close()
  return { pid = pid, out = r }
end

--- Read a line from a started wbl's stdout (waits at most ms).
function H.read_line(job, ms)
  job.buf = job.buf or ""
  while not job.buf:find("\n") do
    if not job.out:wait(ms or 10000) then return nil, "timeout" end
    local s = job.out:read()
    if s == "" then return nil, "eof" end
    job.buf = job.buf .. s
  end
  local line, rest = job.buf:match("^([^\n]*)\n(.*)$")
  job.buf = rest
  return line
end

--- Wait for a started wbl; its exit status (128+N if killed by N).
function H.wait(job)
  local _, how, code = core.proc.waitpid(job.pid)
  job.out:close()
  return how == "exited" and code or 128 + code
end

--- A container's state directory (it exists while the container does).
function H.state_dir(name)
  return require("wbl.state").dir(name)
end

--- The containers that have state, but those stopped and kept on
-- purpose (run without --rm, as docker keeps them): what is running, or
-- was left half-made.
function H.containers()
  local out = {}
  for _, n in ipairs(core.fs.readdir(require("wbl.config").containers()) or {}) do
    local st = require("wbl.state").load(n)
    if not (st and st.status == "exited") then out[#out + 1] = n end
  end
  return out
end

--- The saved state of a container (nil if none).
function H.state(name)
  return require("wbl.state").load(name)
end

--- A unique container name for a spec.
function H.name(prefix)
  return (prefix or "spec") .. "-" .. require("wbl.util").random_hex(4)
end

--- A new empty directory under /tmp (the caller removes it).
function H.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(core.fs.mkdir(d, "0700"))
  return d
end

--- A child alone in a new network namespace, waiting until :done().
function H.netns()
  local r, w = assert(core.fd.pipe())
  local pid = assert(core.proc.clone("net"))
  if pid == 0 then
    w:close()
    r:read(1)
    core.proc._exit(0)
  end
  r:close()
  local ns = { pid = pid, path = "/proc/" .. pid .. "/ns/net" }
  function ns.done()
    if w then w:write("x"); w:close(); w = nil; core.proc.waitpid(pid) end
  end
  return ns
end

package.loaded["spec.helper"] = H
_G.H = H
return H
