--- A container's lifecycle on the host: new, clone (the child waits in its
-- namespaces), start, wait, kill, and destroy -- the one teardown, driven
-- by what the state says was made, that run.lua, cleanup.lua and every
-- later front end (rm, delete) call.
--
-- The steps that make a container (state, layer, cgroups, network, the
-- child) are scripts/create.lua, one line each; each records what it made
-- in the container table (saved as its state), and destroy undoes exactly
-- that, in reverse, whether the container ran, failed half-made, or was
-- left behind by a killed wbl (M.reap).
local core = require "wbl.core"
local util = require "wbl.util"
local errors = require "wbl.errors"
local proc = require "wbl.proc"
local state = require "wbl.state"
local spec = require "wbl.spec"
local E = core.errno

local M = {}

--- A new container for spec s (nothing is made yet).
-- @param id its name (unique: its state directory's), or nil: the first
--   12 digits of its id
-- @param full_id its id, 64 hex digits (nil: a new one)
function M.new(s, id, full_id)
  full_id = full_id or M.new_id()
  id = id or full_id:sub(1, 12)
  return {
    id = id,
    full_id = full_id,
    spec = s,
    state_dir = state.dir(id),
    owner = proc.identity(), -- this process manages it
    created = os.time(),
    status = "creating",
  }
end

--- A new container id: 64 random hex digits (shown as 12, as docker).
function M.new_id() return util.random_hex(32) end

--- -t runs the command at the caller's terminal: stdin must be one.
function M.check_tty()
  if not core.fd.isatty(0) then
    return nil, "the input device is not a terminal (drop -t, or run from one)", E.ENOTTY
  end
  return true
end

--- Clone the container's PID 1 into the spec's namespaces (into its
-- cgroup2 directory at once where it can); it runs fn (init.lua) at once,
-- and waits for M.start (its go) where a step needs what the host makes
-- after the clone (wbl.proc.await_go: its v1 cgroups, wbl.cgroup.finish;
-- the network), so its first mounts and our last steps run side by side.
-- In a user namespace, or with hooks on the host after the clone, it
-- waits for go first.
function M.clone(c, fn)
  local cgroup = require "wbl.cgroup"
  local placement = {}
  if c.cgroup then
    local msg, en
    placement, msg, en = cgroup.clone_opts(c.cgroup) -- clone3 CLONE_INTO_CGROUP
    if not placement then return nil, msg, en end
  end
  for k, v in pairs(c._spawn or {}) do placement[k] = v end -- wbl.proc.spawn's opts (OCI: survive, report)
  -- (not with hooks on the host after the clone: they find it waiting, as
  -- before its first mount; nor in a user namespace: its maps come first)
  placement.early = not c._userns and not require("wbl.hooks").any(c, { "cloned", "network" })
  local flags = spec.clone_flags(c.spec, util.exists("/proc/self/ns/cgroup"))
  local stdio = c._stdio -- a detached container's output: its supervisor's pipes
  -- namespaces given by path (OCI): a pid namespace is entered here, for
  -- the child only (then left again); the others by the child, first
  local pidns, back = spec.joined(c.spec, "pid"), nil
  if pidns then
    local ok, m, e = core.fd.open("/proc/self/ns/pid", "rdonly")
    if ok then back = ok; ok, m, e = core.ns.setns(pidns, "pid") end
    if not ok then return nil, ("linux.namespaces pid: %s"):format(m), e end
  end
  local child, msg, en = proc.spawn(flags, function()
    errors.step("join namespaces", spec.join_namespaces(c.spec))
    if stdio then stdio[1]:dup2(1); stdio[2]:dup2(2) end
    return fn()
  end, placement)
  if back then core.ns.setns(back, "pid"); back:close() end
  if not child then return nil, msg, en end
  c._child = child
  c.pid, c.init = child.pid, proc.identity(child.pid)
  c.status = "created"
  -- The v1 hierarchies: PID 1 joins them itself (init.lua, wbl.cgroup.join:
  -- no global lock, no RCU grace period), unless it is in a user namespace,
  -- whose root may not write the host's cgroup files: then wbl.cgroup.finish
  -- (create.lua) puts it there, before go.
  -- A PID 1 that dies with this process (not placement.survive: its
  -- pdeathsig) is recorded by the save at start; one that would outlive
  -- us (OCI create) is recorded now, so that no process of the container
  -- is ever unknown to the state.
  if placement.survive then return state.save(c) end
  return true
end

--- Let the created container's PID 1 run.
function M.start(c)
  if not c._child then return nil, ("container %s was not created by this process"):format(c.id), E.ESRCH end
  local ok, msg, en = c._child:go()
  if not ok then return nil, msg, en end
  c.status, c.started = "running", os.time()
  return state.save(c)
end

--- Wait for PID 1 (passing on the usual signals); its exit status, as a
-- shell gives it (128+N for signal N).
function M.wait(c)
  -- with -t, the copy between the caller's terminal and the container's
  -- runs while it waits (wbl.tty)
  local pump = (c._tty and c._tty:pump()) or (c._log and c._log:pump()) -- -t, or -d's log
  -- a pump copies for as long as the container lives: its garbage must go
  -- (run.lua stops the collector for the start)
  if pump then collectgarbage("restart") end
  local how, code, en = c._child:wait(pump)
  if not how then return nil, code, en end
  c.status = "stopped"
  return proc.exit_status(how, code)
end

--- One life of a container: make it (scripts/create.lua, from the
-- scripts directory), start it, tell ready() (a detached one's caller),
-- wait for its end and run the "exited" hooks.  Its exit status, as a
-- shell gives it; a failing step raises (wbl.errors).
function M.life(c, scripts, ready)
  local step, hooks = errors.step, require "wbl.hooks"
  step("load create.lua", loadfile(scripts .. "/create.lua"))(c, scripts)
  step("start", M.start(c))
  if ready then ready() end
  local status = step("wait", M.wait(c))
  step("hook exited", hooks.run(c, "exited"))
  return status
end

--- Send a signal to the container's PID 1 (when it is still the same
-- process): in its PID namespace, SIGKILL of PID 1 ends every process.
function M.kill(c, sig)
  if not state.running(c) then return nil, ("container %s is not running"):format(c.id), E.ESRCH end
  return core.proc.kill(c.pid, sig or "SIGTERM")
end

-- The teardown, in the reverse order of scripts/create.lua.  Each entry
-- undoes one thing if the state says it was made; what is already gone
-- counts as undone, so destroy is safe twice.
local undo = {
  { "stop the container", function(c)
    if c._child then c._child:abort(); return true end -- ours: killed and reaped
    if state.running(c) then return core.proc.kill(c.pid, "SIGKILL") end
    return true
  end },
  { "give the terminal back", function(c) -- -t: its mode, if the wait did not
    if c._tty then return c._tty:close() end
    return true
  end },
  { "remove the port mappings", function(c)
    local n = c.net
    if not (n and n.published) then return true end
    return require("wbl.net").unpublish(c)
  end },
  { "leave the network", function(c, how)
    local n = c.net
    if not (n and n.ip) then return true end
    local net = require "wbl.net"
    if how.leftover then net.delete_veth(c) end -- normally it goes with the namespace
    return net.leave(c)
  end },
  { "remove the cgroups", function(c)
    if not c.cgroup then return true end
    return require("wbl.cgroup").remove(c.cgroup)
  end },
  { "remove the layer", function(c, how)
    if not (c.layer and (c.spec.wbl.rm or how.remove)) or how.keep then return true end
    local layer = require "wbl.layer"
    local ok, msg, en = layer.remove(c.layer)
    if not ok then return nil, msg, en end
    return layer.release(c) -- its image's layers, if that image was removed
  end },
  { "remove the state", function(c, how, failed)
    if not c.state_made or how.keep then return true end
    -- what could not be undone stays listed, for the next reap to retry
    if failed then return nil, "kept " .. c.state_dir .. ": the steps above failed" end
    return util.rm_rf(c.state_dir)
  end },
}

--- Tear down what was made for c, as its state (or the table itself)
-- records it, reporting (not stopping at) failures.
-- how.leftover: c was left by a killed wbl (its host veth, if still
--   there, is deleted too)
-- how.keep: a stopped container stays (state and write layer: ps -a,
--   logs, start, commit), as docker keeps one run without --rm
-- how.remove: its write layer goes even without --rm (rm)
-- @return true, or nil and the messages joined
function M.destroy(c, how)
  how = how or {}
  local errs = {}
  for _, u in ipairs(undo) do
    local ok, res, msg, en = pcall(u[2], c, how, #errs > 0)
    errors.trace("teardown: " .. u[1])
    if not ok then
      errs[#errs + 1] = u[1] .. ": " .. tostring(res)
    elseif res == nil or res == false then
      errs[#errs + 1] = u[1] .. ": " .. errors.message(msg, en)
    end
  end
  if how.keep and c.state_made and #errs == 0 then
    -- what ran is gone: the state says it is stopped
    c.cgroup, c.net, c._child, c._tty, c._log, c._stdio = nil, nil, nil, nil, nil, nil
    c.status = "exited"
    local ok, msg, en = state.save(c)
    if not ok then errs[#errs + 1] = "state: " .. errors.message(msg, en) end
  end
  if #errs > 0 then return nil, table.concat(errs, "; ") end
  return true
end

--- The end of a run: record how PID 1 ended (status, time), then tear
-- down, keeping the stopped container unless --rm.
function M.finish(c, status)
  c.exit_code = status
  c.finished = os.time()
  return M.destroy(c, { keep = not c.spec.wbl.rm })
end

--- Remove what dead containers left: those neither running nor managed
-- (their wbl was killed, or crashed).  ids: a set of ids to look at (nil:
-- all).  report(what, ok, msg), if given, hears every teardown.  Safe at
-- any time and twice; a live container is never touched.  run.lua and
-- network.lua call it first, so leftovers go without anyone asking;
-- cleanup.lua does it on demand.
-- @return the list of ids reaped
function M.reap(ids, report)
  local out = {}
  for _, sum in ipairs(state.list(true)) do -- summaries: the whole state only of leftovers
    -- a stopped container kept on purpose is no leftover
    -- (an OCI runtime's containers are its caller's to delete: wbl.oci)
    local c = (not ids or ids[sum.id]) and sum.status ~= "exited" and not sum.oci and not state.alive(sum)
      and state.load(sum.id)
    if c and not state.alive(c) then
      c.state_made = true
      -- ended with its wbl or supervisor: killed (docker says 137 too)
      c.exit_code, c.finished = c.exit_code or 137, c.finished or os.time()
      local ok, msg = M.destroy(c, { leftover = true, keep = not c.spec.wbl.rm })
      if report then report(c.id, ok, msg) end
      out[#out + 1] = c.id
    end
  end
  return out
end

return M
