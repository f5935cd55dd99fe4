-- Specs never touch the user's real state root and store.  The run moves
-- into mount namespaces of its own, with tmpfs over the state root and
-- the store (spec/helper.lua); what is typed into a terminal runs under a
-- tmux server of the spec's own (spec/terminal.lua checks it is in the
-- spec's mount namespace), never a server the user already runs outside,
-- and the typed line names the state root and store (H.wbl_env).
local core = require "wbl.core"
local T = require "terminal"
local fs = core.fs

-- Is name in dir as the host sees it (PID 1's mount namespace)?
local function on_host(dir, name)
  return fs.lstat("/proc/1/root" .. dir .. "/" .. name) ~= nil
end

describe("the specs' isolation #priv #tty", function()
  H.it_priv("a run typed into a tmux pane keeps its container out of the real state root and store", function()
    if not T.have_tmux() then return pending("tmux is not installed") end
    assert.is_true(H.isolated)
    assert.not_equal(fs.readlink("/proc/1/ns/mnt"), fs.readlink("/proc/self/ns/mnt"))
    local config = require "wbl.config"
    local states, layers = config.containers(), config.store() .. "/containers"
    local s = T.session("iso")
    finally(function() s:kill() end)
    local name = H.name("iso")
    -- kept on purpose (no --rm): its state and write layer stay until rm
    s:send(("%s %s %s/scripts/run.lua --name %s --network none sh -c 'echo done-$((1+1))'")
      :format(H.wbl_env(), H.wbl, H.top, name))
    assert.matches("done%-2", s:wait_for("done%-2"))
    s:send("echo status=$?")
    assert.matches("status=0", s:wait_for("status=0"))
    -- in the spec's own state root and store ...
    assert.equal("exited", assert(H.state(name)).status)
    assert.truthy(fs.stat(layers .. "/" .. name .. "/upper"))
    -- ... and not in the host's
    assert.is_false(on_host(states, name))
    assert.is_false(on_host(layers, name))
    local _, err, code = H.wbl_run { H.top .. "/scripts/rm.lua", name }
    assert.equal(0, code, err)
    assert.is_nil(H.state(name))
  end)
end)
