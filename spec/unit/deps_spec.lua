-- tools/check-deps.lua: the host programs the code runs are found by
-- reading it, and one that no install step provides fails the check, by
-- name.  Fixture trees (a temp dir with a Makefile naming the lists) show
-- both ways; the real tree must pass.
local core = require "wbl.core"
local util = require "wbl.util"

local checker = H.top .. "/tools/check-deps.lua"
local deps = dofile(checker)

-- A tree of files { path = text } and a Makefile with the lists given.
local function tree(files, lists)
  lists = lists or {}
  local d = H.tmpdir()
  files.Makefile = table.concat({
    "DEPS = " .. (lists.DEPS or ""),
    "VM_DEPS = " .. (lists.VM_DEPS or ""),
    "BENCH_DEPS = " .. (lists.BENCH_DEPS or ""),
    "print-deps:",
    '\t@echo "DEPS=$(DEPS)"; echo "VM_DEPS=$(VM_DEPS)"; echo "BENCH_DEPS=$(BENCH_DEPS)"',
    "" }, "\n")
  for path, text in pairs(files) do
    assert(core.fs.mkdir_p(util.dirname(d .. "/" .. path)))
    assert(core.fs.write_file(d .. "/" .. path, text))
  end
  return d
end

-- `lua5.4 tools/check-deps.lua DIR`: its output and exit status.
local function check(dir)
  local out, err, code = H.sh(("lua5.4 %s %s"):format(H.q(checker), H.q(dir)))
  return out .. err, code
end

-- A program installed here whose package is in no list's closure (nor
-- Essential): what a new spec might call without anyone adding it.
local function unlisted()
  local roots = {}
  for _, list in pairs(assert(deps.lists(H.top))) do
    for _, p in ipairs(list) do roots[#roots + 1] = p end
  end
  local db, provides = deps.packages()
  local via = deps.closure(db, provides, roots)
  local names = { "strace", "gdb", "valgrind", "ltrace" }
  local res = deps.resolve(names)
  for _, n in ipairs(names) do
    local r = res[n]
    if r.pkgs and not via[r.pkgs[1]] then
      -- dpkg-query agrees: not Essential
      local ess = H.sh("dpkg-query -W -f='${Essential}' " .. H.q(r.pkgs[1]))
      if ess ~= "yes" then return n, r.pkgs[1] end
    end
  end
end

-- Where a found command is used: { "file:line", ... }.
local function lines(found, name)
  local t = {}
  for _, u in ipairs(found[name] or {}) do t[#t + 1] = u.file .. ":" .. u.line end
  return t
end

local function used_in(found, name, file)
  for _, u in ipairs(found[name] or {}) do
    if u.file == file then return true end
  end
  return false
end

describe("tools/check-deps.lua #unit", function()
  local dirs = {}
  after_each(function()
    for _, d in ipairs(dirs) do util.rm_rf(d) end
    dirs = {}
  end)
  local function fixture(files, lists)
    local d = tree(files, lists)
    dirs[#dirs + 1] = d
    return d
  end

  it("passes on this tree: every program it runs comes from an install step", function()
    local out, code = check(H.top)
    assert.equal(0, code, out)
    assert.matches("check%-deps: %d+ commands, each installed by a step", out)
    assert.matches("iptables: iptables %(DEPS%)", out)
    assert.matches("curl: curl %(DEPS%)", out)
    assert.matches("tar: tar %(Essential%)", out)
  end)

  it("finds what this tree runs on the host, and not what runs in a container", function()
    local found = deps.scan(H.top)
    for _, name in ipairs { "iptables", "nft", "ip", "curl", "nsenter", "tmux", "tar", "cpio", "xz",
                            "qemu-system-x86_64", "crun", "runc", "bwrap", "lua5.4", "/usr/bin/busted" } do
      assert.is_truthy(found[name], name .. " not found")
    end
    assert.same("lua/wbl/nat.lua", found.iptables[1].file)
    assert.same("VM_DEPS", found.cpio[1].step)
    assert.same("BENCH_DEPS", found.crun[1].step)
    -- H.run { "sh", "-c", "ping ..." } and run.lua argv tables: busybox in the container
    assert.is_nil(found.httpd, table.concat(lines(found, "httpd"), " "))
    assert.is_nil(found.ping, table.concat(lines(found, "ping"), " "))
  end)

  it("finds commands in scripts, popen strings, argv tables and through wrappers", function()
    local d = fixture {
      ["vm/boot.sh"] = table.concat({
        "#!/bin/sh",
        "set -eu",
        'out=$(mktemp -d)',
        'dec="xz -dc"',
        'cat "$1" | $dec | cpio -i -D "$out" 2>/dev/null',
        "if ! command -v zstd >/dev/null; then echo none; fi",
        "case $1 in *.gz) gzip -t \"$1\" ;; esac",
        'helper() { echo "$@"; }',
        "helper a",
        "timeout 5 env LC_ALL=C qemu-system-x86_64 -version",
        "" }, "\n"),
      ["tools/go"] = "#!/usr/bin/env bash\nsleep 0\n", -- a script by its shebang alone
      ["lua/x.lua"] = [[
local M = {}
local function q(s) return "'" .. s .. "'" end
-- Run argv, input on its stdin.
local function run(argv, input)
  local parts = {}
  for i, a in ipairs(argv) do parts[i] = q(a) end
  local p = io.popen(table.concat(parts, " "), "w")
  p:write(input or "")
  return p:close()
end
local function sh(cmd) return io.popen(cmd):read("a") end
function M.rules() return run({ "nft", "-f", "-" }, "table ip x { }") end
function M.up() return io.popen("ip -o link show | grep -c UP"):read("a") end
function M.peek(pid, cmd) return sh(("nsenter -t %d -n %s"):format(pid, cmd)) end
function M.bridges(pid) return M.peek(pid, "bridge link show") end
return M
]],
      ["spec/y_spec.lua"] = [[
local function run(...) return H.run({ ... }) end
describe("y", function()
  it("z", function()
    run("sh", "-c", "ping -c1 10.0.0.1")
    H.run { "httpd", "-f" }
    H.sh("timeout 5 nsenter -t 1 -m -n -- tmux -V")
    H.sh("sh -c 'socat -V | head -n 1' && true")
  end)
end)
]],
    }
    local found, order = deps.scan(d)
    -- the shell script: substitutions, "$dec", command -v, case, through timeout and env
    for _, name in ipairs { "/bin/sh", "mktemp", "xz", "cat", "cpio", "zstd", "gzip", "timeout", "env",
                            "qemu-system-x86_64" } do
      assert.is_true(used_in(found, name, "vm/boot.sh"), name .. " not in " .. table.concat(order, " "))
    end
    assert.same({ "vm/boot.sh:10" }, lines(found, "qemu-system-x86_64"))
    assert.same({ "tools/go:1" }, lines(found, "bash"))
    assert.same({ "tools/go:2" }, lines(found, "sleep"))
    assert.same({ "vm/boot.sh:4" }, lines(found, "xz"))
    -- Lua: a run{ } argv table (not its input), a popen pipeline, nsenter
    -- in a format template, a wrapper's argument
    assert.same({ "lua/x.lua:12" }, lines(found, "nft"))
    assert.same({ "lua/x.lua:13" }, lines(found, "ip"))
    assert.same({ "lua/x.lua:13" }, lines(found, "grep"))
    assert.same({ "lua/x.lua:14", "spec/y_spec.lua:6" }, lines(found, "nsenter"))
    assert.same({ "lua/x.lua:15" }, lines(found, "bridge"))
    -- a spec: through timeout, nsenter's options and sh -c
    assert.same({ "spec/y_spec.lua:6", "vm/boot.sh:10" }, lines(found, "timeout"))
    assert.same({ "spec/y_spec.lua:6" }, lines(found, "tmux"))
    assert.same({ "spec/y_spec.lua:7" }, lines(found, "socat"))
    assert.same({ "spec/y_spec.lua:7" }, lines(found, "head"))
    -- not builtins, variables, functions, input text, or commands that
    -- run inside a container
    for _, name in ipairs { "set", "echo", "out", "dec", "helper", "table", "ping", "httpd", "run.lua" } do
      assert.is_nil(found[name], name)
    end
  end)

  it("fails, naming the command, for a program installed here by no step", function()
    local prog, pkg = unlisted()
    if not prog then return pending("no installed program outside every list here (strace, gdb, valgrind)") end
    local spec = ([[
describe("x", function()
  it("traces", function()
    os.execute(%q)
  end)
end)
]]):format(prog .. " --version >/dev/null 2>&1")
    local out, code = check(fixture({ ["spec/x_spec.lua"] = spec }, { DEPS = "lua5.4" }))
    assert.equal(1, code, out)
    assert.matches(("check-deps: %s (used at spec/x_spec.lua:3) is installed by no step " ..
      "(package %s; add it to DEPS in the Makefile)"):format(prog, pkg), out, 1, true)
    -- listed, it passes
    out, code = check(fixture({ ["spec/x_spec.lua"] = spec }, { DEPS = "lua5.4 " .. pkg }))
    assert.equal(0, code, out)
    assert.matches(("%s: %s (DEPS)"):format(prog, pkg), out, 1, true)
  end)

  it("fails, naming the command, for a program not installed at all", function()
    local out, code = check(fixture { ["spec/x_spec.lua"] = 'H.sh("tar -tf x.tar | wbl-absent-tool -v")\n' })
    assert.equal(1, code, out)
    assert.matches("check-deps: wbl-absent-tool (used at spec/x_spec.lua:1) is not installed on this machine",
      out, 1, true)
    assert.not_matches("check%-deps: tar ", out) -- Essential
  end)

  it("leaves a step whose own list is not installed here to that step's target", function()
    local files = { ["vm/go.sh"] = "#!/bin/sh\nwbl-absent-tool -v\n" }
    local out, code = check(fixture(files, { VM_DEPS = "wbl-absent-package" }))
    assert.equal(0, code, out)
    assert.matches("not checked until VM_DEPS is installed (make test-vm installs it, then checks): " ..
      "wbl-absent-tool (vm/go.sh:2)", out, 1, true)
    -- with VM_DEPS installed (empty), the same command fails
    out, code = check(fixture(files))
    assert.equal(1, code, out)
    assert.matches("wbl-absent-tool (used at vm/go.sh:2) is not installed on this machine", out, 1, true)
  end)
end)
