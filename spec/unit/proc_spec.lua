local proc = require "wbl.proc"
local core = require "wbl.core"
local E = core.errno

describe("wbl.proc #unit", function()
  it("maps wait results to shell exit statuses", function()
    assert.equal(0, proc.exit_status("exited", 0))
    assert.equal(42, proc.exit_status("exited", 42))
    assert.equal(137, proc.exit_status("killed", 9))
    assert.equal(143, proc.exit_status("killed", 15))
  end)

  it("maps exec errors to 127 (not found) and 126 (cannot run)", function()
    assert.equal(127, proc.exec_status(E.ENOENT))
    assert.equal(126, proc.exec_status(E.EACCES))
    assert.equal(126, proc.exec_status(E.ENOEXEC))
    assert.equal(125, proc.exec_status(E.ENOMEM))
  end)

  local function exec_in_child(argv, env)
    local r, w = assert(core.fd.pipe())
    local pid = assert(core.proc.fork())
    if pid == 0 then
      pcall(function()
        local _, msg, en, code = proc.exec(argv, env)
        w:write(("%s|%s|%s"):format(msg, en, code))
      end)
      core.proc._exit(0)
    end
    w:close()
    local out = r:read()
    core.proc.waitpid(pid)
    return out
  end

  it("searches env.PATH, not wbl's, and reports 127 when not found", function()
    local out = exec_in_child({ "sh", "-c", "true" }, { PATH = "/nonexistent" })
    -- (the caller's step names the command: "exec sh: executable file ...")
    assert.equal("executable file not found in $PATH|" .. E.ENOENT .. "|127", out)
  end)

  it("reports 126 for a file found but not executable", function()
    local d = os.tmpname()
    os.remove(d)
    assert(core.fs.mkdir(d))
    assert(core.fs.write_file(d .. "/tool", "#!/bin/sh\n", nil, "0644"))
    local out = exec_in_child({ "tool" }, { PATH = d })
    require("wbl.util").rm_rf(d)
    if core.proc.getuid() == 0 then
      -- root may execute any file with an x bit; with none it still gets EACCES
      assert.matches("|" .. E.EACCES .. "|126$", out)
    else
      assert.matches("|126$", out)
    end
  end)
end)

describe("wbl.core.proc ids, groups and limits #unit", function()
  local P = core.proc

  it("getuid and getgid return one id each", function()
    assert.equal(1, select("#", P.getuid()))
    assert.equal(1, select("#", P.getgid()))
    assert.is_table(P.getgroups())
  end)

  it("names every RLIMIT_* the OCI spec may use; what getrlimit says, setrlimit takes", function()
    local n = 0
    for name, res in pairs(P.rlimits) do
      n = n + 1
      assert.is_number(res)
      local soft, hard = assert(P.getrlimit(name))
      assert.same({ soft, hard }, { P.getrlimit(name:sub(8)) }) -- "RLIMIT_" may be left out
      assert.is_true(P.setrlimit(name, soft, hard)) -- "unlimited" round-trips
    end
    assert.equal(16, n)
    assert.has_error(function() P.getrlimit("RLIMIT_BOGUS") end)
    assert.has_error(function() P.setrlimit("RLIMIT_CORE", -2, 0) end)
    assert.has_error(function() P.setrlimit("RLIMIT_CORE", "lots", 0) end)
    assert.has_error(function() P.setgroups({ "x" }) end)
    assert.has_error(function() P.setgroups(1) end)
  end)
end)
