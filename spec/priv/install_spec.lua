-- make install into a temporary PREFIX: the installed wbl runs a
-- container in its default root from any directory, finds its scripts by
-- name and by the source tree's path, and says which scripts there are
-- when a name is none of them.
local util = require "wbl.util"
local _

describe("make install #priv", function()
  local prefix
  setup(function()
    if not H.root then return end
    prefix = H.tmpdir()
    local out, err, code = H.sh(("make -C %s install PREFIX=%s"):format(H.q(H.top), H.q(prefix)))
    assert.equal(0, code, out .. err)
  end)
  teardown(function()
    if prefix then assert(util.rm_rf(prefix)) end
  end)

  -- PREFIX/bin/wbl ARGS... from a directory outside the source tree
  local function wbl(args)
    local parts = { "cd", H.q(prefix), "&&", H.q(prefix .. "/bin/wbl") }
    for _, a in ipairs(args) do parts[#parts + 1] = H.q(a) end
    return H.sh(table.concat(parts, " "))
  end

  H.it_priv("installs the default root, and a default run uses it", function()
    assert.truthy(require("wbl.core").fs.stat(prefix .. "/share/wbl/rootfs/busybox/bin/busybox"))
    local _, err, code = wbl { "run", "--rm", "--network", "none", "true" }
    assert.equal(0, code, err)
    local out
    out, err, code = wbl { "run", "--rm", "--network", "none", "--init", "sh", "-c",
      "grep -c ^root: /etc/passwd; cat /proc/1/cmdline | tr '\\0' ' '" }
    assert.equal(0, code, err)
    assert.equal("1\n/dev/init -- sh -c grep -c ^root: /etc/passwd; cat /proc/1/cmdline | tr '\\0' ' ' ", out)
  end)

  H.it_priv("finds the installed scripts by name and by the source tree's path", function()
    local out, err, code = wbl { "scripts/run.lua", "--rm", "--network", "none", "echo", "by-path" }
    assert.equal(0, code, err)
    assert.equal("by-path\n", out)
    _, err, code = wbl { "ps", "-a", "-q" }
    assert.equal(0, code, err)
  end)

  H.it_priv("says a name is no script, and lists the scripts", function()
    local out, err, code = wbl { "nosuch" }
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("wbl: nosuch: no such script, nor a file of that name here\n", err, 1, true)
    assert.matches(("the scripts in %s/share/wbl/scripts: "):format(prefix), err, 1, true)
    for _, n in ipairs { "run", "ps", "images", "commit", "rm" } do assert.matches(" " .. n .. "[ \n]", err) end
    -- a path is a path: Lua's own words
    _, err, code = wbl { "/no/such/file.lua" }
    assert.equal(1, code)
    assert.matches("cannot open /no/such/file.lua", err, 1, true)
  end)
end)
