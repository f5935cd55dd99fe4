-- No spec drives tmux through the default server (one the user may run
-- outside the spec's namespaces, where wbl would use the real state root
-- and store): every tmux command line names a server of its own (-S or
-- -L, as spec/terminal.lua's T.session does).
describe("specs and tmux #unit", function()
  it("never run a tmux command on the default server", function()
    local cmds = { "new-session", "new", "send-keys", "send", "capture-pane", "kill-session", "kill-server",
      "display", "display-message", "has-session", "attach", "attach-session", "resize-window",
      "list-sessions", "ls", "split-window", "run-shell" }
    local bad = {}
    local p = assert(io.popen("find spec -name '*.lua' | sort"))
    for file in p:lines() do
      local n = 0
      for line in io.lines(file) do
        n = n + 1
        for _, c in ipairs(cmds) do
          if line:find("tmux%s+" .. c:gsub("%-", "%%-") .. "[%s\"']") then bad[#bad + 1] = file .. ":" .. n end
        end
      end
    end
    p:close()
    assert.same({}, bad)
  end)
end)
