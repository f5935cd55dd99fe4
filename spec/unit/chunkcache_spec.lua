-- build/wbl loads Lua files (require, loadfile, dofile, the SCRIPT) through
-- a cache of their compiled chunks, found by content (core/chunkcache.c):
-- CACHE/<16 hex>-<sha256>.luac = "wblchnk1", a checksum, string.dump's
-- output.  Each case has its own module directory (WBL_LUA_DIR) and cache
-- (WBL_CACHE).
local core = require "wbl.core"
local util = require "wbl.util"

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The entries' checksum, as core/chunkcache.c computes it (native order).
local P1, P2, P3, P4, P5 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
  0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5
local function rotl(x, r) return (x << r) | (x >> (64 - r)) end
local function round(acc, v) return rotl(acc + v * P2, 31) * P1 end
local function checksum(s)
  local n, i = #s, 1
  local a, b, c, d = P1 + P2, P2, 0, 0 - P1
  while i + 31 <= n do
    local w1, w2, w3, w4 = string.unpack("=i8i8i8i8", s, i)
    a, b, c, d = round(a, w1), round(b, w2), round(c, w3), round(d, w4)
    i = i + 32
  end
  local h = rotl(a, 1) + rotl(b, 7) + rotl(c, 12) + rotl(d, 18) + n
  while i + 7 <= n do
    h = rotl(h ~ round(0, (string.unpack("=i8", s, i))), 27) * P1 + P4
    i = i + 8
  end
  while i <= n do
    h = rotl(h ~ (s:byte(i) * P5), 11) * P1
    i = i + 1
  end
  h = (h ~ (h >> 33)) * P2
  h = (h ~ (h >> 29)) * P3
  return h ~ (h >> 32)
end
local function entry(bytecode) return "wblchnk1" .. string.pack("=i8", checksum(bytecode)) .. bytecode end

-- A case's files: lua/ccprobe.lua (the module), cache/ (WBL_CACHE).
local function world()
  local d = H.tmpdir()
  H.finally(function() util.rm_rf(d) end)
  assert(core.fs.mkdir(d .. "/lua", "0755"))
  return { dir = d, lib = d .. "/lua", cache = d .. "/cache", probe = d .. "/lua/ccprobe.lua" }
end

-- wbl -e CODE with the case's module directory and cache (or another).
local function run(w, code, cache)
  return H.sh(("WBL_CACHE=%s WBL_LUA_DIR=%s %s -e %s"):format(H.q(cache or w.cache), H.q(w.lib),
    H.q(H.wbl), H.q(code)))
end
local PROBE = "io.write((require('ccprobe')))"

-- The cache's entries, sorted.
local function entries(w)
  local out = {}
  for _, n in ipairs(core.fs.readdir(w.cache) or {}) do
    if n:match("%.luac$") then out[#out + 1] = n end
  end
  table.sort(out)
  return out
end

-- Run the probe with module source src; return its output and the entry.
local function probe(w, src)
  write(w.probe, src)
  local out, err, code = run(w, PROBE)
  assert.equal(0, code, err)
  local names = entries(w)
  assert.equal(1, #names, table.concat(names, " "))
  return out, w.cache .. "/" .. names[1]
end

describe("build/wbl's chunk cache #unit", function()
  it("compiles a file once, then loads its entry; an edit takes effect on the next run", function()
    local w = world()
    write(w.probe, "return 'A'\n")
    -- the same size and mtime: only the content tells the versions apart
    H.sh("touch -d @1000000000 " .. H.q(w.probe))
    local out, err, code = run(w, PROBE)
    assert.equal(0, code, err)
    assert.equal("A", out)
    local st = assert(core.fs.stat(w.cache))
    assert.equal("directory", st.type)
    assert.equal(tonumber("700", 8), st.mode)
    local names = entries(w)
    assert.equal(1, #names)
    assert.matches("^%x+%-%x+%.luac$", names[1])
    assert.equal(16 + 1 + 64 + 5, #names[1])
    local a = assert(core.fs.stat(w.cache .. "/" .. names[1]))
    assert.equal(tonumber("600", 8), a.mode)
    assert.equal("wblchnk1", read(w.cache .. "/" .. names[1]):sub(1, 8))

    -- again: the same entry, not written again (rename would give a new inode)
    out = run(w, PROBE)
    assert.equal("A", out)
    assert.same(names, entries(w))
    assert.equal(a.ino, assert(core.fs.stat(w.cache .. "/" .. names[1])).ino)

    write(w.probe, "return 'B'\n")
    H.sh("touch -d @1000000000 " .. H.q(w.probe))
    out = run(w, PROBE)
    assert.equal("B", out)
    -- one entry per file: the new version's replaced the old one
    local after = entries(w)
    assert.equal(1, #after)
    assert.are_not.equal(names[1], after[1])
    assert.equal(names[1]:sub(1, 17), after[1]:sub(1, 17))
  end)

  it("runs what the entry holds: a planted entry for the exact content is what runs", function()
    local w = world()
    local _, ea = probe(w, "return 'A'\n")
    local _, eb = probe(w, "return 'B'\n")
    assert.are_not.equal(ea, eb)
    -- B's bytecode under the name of A's content
    write(ea, read(eb))
    assert(core.fs.chmod(ea, "0600"))
    write(w.probe, "return 'A'\n")
    assert.equal("B", (run(w, PROBE)))
    -- with the cache off, the source
    assert.equal("A", (run(w, PROBE, "")))
    -- our own entry, written by the spec (so its format is the one above)
    local bytecode = string.dump(load("return 'C'", "@" .. w.probe))
    write(ea, entry(bytecode))
    assert.equal("C", (run(w, PROBE)))
  end)

  it("compiles the source again for a torn, damaged or foreign entry, and mends it", function()
    local w = world()
    local _, ea = probe(w, "return 'A'\n")
    local good = read(ea)
    local bytecode = string.dump(load("return 'C'", "@" .. w.probe))
    local function planted_gives(data)
      write(ea, data)
      local out, err, code = run(w, PROBE)
      assert.equal(0, code, err)
      return out
    end
    -- a valid plant is used (so the cases below can tell)
    assert.equal("C", planted_gives(entry(bytecode)))
    assert.equal("A", planted_gives(entry(bytecode):sub(1, 40)))   -- truncated
    assert.equal(good, read(ea))                                   -- written again
    local bad = entry(bytecode)
    local at = #bad // 2
    bad = bad:sub(1, at - 1) .. string.char(bad:byte(at) ~ 0x20) .. bad:sub(at + 1)
    assert.equal("A", planted_gives(bad))                          -- one bit flipped
    assert.equal("A", planted_gives(""))                           -- empty
    assert.equal("A", planted_gives(("x"):rep(200)))               -- not ours
    -- Lua's header check: bytecode of another version (0x53), checksum right
    assert.equal(0x54, bytecode:byte(5))
    assert.equal("A", planted_gives(entry(bytecode:sub(1, 4) .. "\x53" .. bytecode:sub(6))))
    assert.equal(good, read(ea))
  end)

  -- B's bytecode under the name of A's content, the module's source A.
  local function plant(w, mode)
    local _, ea = probe(w, "return 'A'\n")
    local _, eb = probe(w, "return 'B'\n")
    local b = read(eb)
    assert.is_nil(core.fs.lstat(ea)) -- B's entry replaced it
    assert(core.fs.write_file(ea, b, "creat,excl", mode or "0600"))
    assert(core.fs.chmod(ea, mode or "0600"))
    write(w.probe, "return 'A'\n")
    return ea, b
  end
  local function gives(w) return (run(w, PROBE)) end

  it("is not used where others could write: the directory or an entry", function()
    local w = world()
    local ea, planted = plant(w)
    local before = entries(w)
    assert.equal("B", gives(w))                 -- the plant works
    assert(core.fs.chmod(w.cache, "0770"))      -- group-writable directory
    assert.equal("A", gives(w))
    assert(core.fs.chmod(w.cache, "0702"))      -- writable by others
    assert.equal("A", gives(w))
    assert.equal(planted, read(ea))             -- nor written to
    assert.same(before, entries(w))
    assert(core.fs.chmod(w.cache, "0755"))      -- readable by others is fine
    assert.equal("B", gives(w))
    assert(core.fs.chmod(ea, "0620"))           -- a group-writable entry:
    assert.equal("A", gives(w))
    assert.are_not.equal(planted, read(ea))     -- replaced by our own
    assert.equal(tonumber("600", 8), assert(core.fs.stat(ea)).mode)
    plant(w, "0644")                            -- others may read it
    assert.equal("B", gives(w))
  end)

  H.it_priv("is not used when another uid owns the directory or an entry", function()
    local w = world()
    local ea, planted = plant(w)
    assert.equal("B", gives(w))
    assert(core.fs.lchown(w.cache, 65534, -1))
    assert.equal("A", gives(w))
    assert.equal(planted, read(ea))
    assert(core.fs.lchown(w.cache, 0, -1))
    assert.equal("B", gives(w))
    assert(core.fs.lchown(ea, 65534, -1))      -- a foreign entry:
    assert.equal("A", gives(w))
    assert.equal(0, assert(core.fs.stat(ea)).uid) -- replaced by our own
    assert.are_not.equal(planted, read(ea))
    -- a symlink in place of an entry is not followed
    ea = plant(w)
    assert.equal("B", gives(w))
    assert(core.fs.rename(ea, w.dir .. "/elsewhere"))
    assert(core.fs.symlink(w.dir .. "/elsewhere", ea))
    assert.equal("A", gives(w))
  end)

  it("WBL_CACHE= (empty) turns it off: no directory, no entries", function()
    local w = world()
    write(w.probe, "return 'A'\n")
    local out, err, code = run(w, PROBE, "")
    assert.equal(0, code, err)
    assert.equal("A", out)
    assert.is_nil(core.fs.lstat(w.cache))
    -- and a cache that cannot be made is no error either
    out, err, code = run(w, PROBE, w.probe .. "/cache")
    assert.equal(0, code, err)
    assert.equal("A", out)
    assert.equal("", err)
  end)

  it("reports a syntax error as before: file:line, the same message", function()
    local w = world()
    write(w.probe, "local x = 1\nlocal y = 2\nlocal z = (\n")
    local _, off = run(w, PROBE, "")
    local out, err, code = run(w, PROBE)
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("error loading module 'ccprobe' from file '" .. w.probe:gsub("%p", "%%%0")
      .. "':\n\t" .. w.probe:gsub("%p", "%%%0") .. ":4: unexpected symbol near <eof>", err)
    assert.equal(off, err)
    assert.same({}, entries(w)) -- nothing compiled, nothing cached
    -- a script on the command line, with a #! line (not counted out)
    local script = w.dir .. "/bad.lua"
    write(script, "#!/usr/bin/env wbl\nprint(1)\nprint(2 +)\n")
    _, off = H.sh(("WBL_CACHE= %s %s"):format(H.q(H.wbl), H.q(script)))
    _, err, code = H.sh(("WBL_CACHE=%s %s %s"):format(H.q(w.cache), H.q(H.wbl), H.q(script)))
    assert.equal(1, code)
    assert.equal("wbl: " .. script .. ":3: unexpected symbol near ')'\n", err)
    assert.equal(off, err)
  end)

  it("keeps line numbers in bytecode: a runtime error's traceback names file:line", function()
    local w = world()
    write(w.probe, "local M = {}\nfunction M.boom()\n  error('boom')\nend\nreturn M\n")
    local code_ = "require('ccprobe').boom()"
    local _, off = run(w, code_, "")
    local _, miss = run(w, code_)
    local names = entries(w)
    assert.equal(1, #names)
    local ino = assert(core.fs.stat(w.cache .. "/" .. names[1])).ino
    local _, hit, code = run(w, code_)
    assert.equal(ino, assert(core.fs.stat(w.cache .. "/" .. names[1])).ino) -- a hit
    assert.equal(1, code)
    local p = w.probe:gsub("%p", "%%%0")
    assert.matches("^wbl: " .. p .. ":3: boom\nstack traceback:", hit)
    assert.matches("\n\t" .. p .. ":3: in function 'ccprobe.boom'", hit)
    assert.equal(off, hit)
    assert.equal(off, miss)
    -- the same for a script given on the command line, and the #! line
    local script = w.dir .. "/s.lua"
    write(script, "#!/usr/bin/env wbl\nlocal function f()\n  error('bang')\nend\nf()\n")
    local cmd = ("WBL_CACHE=%s %s %s"):format(H.q(w.cache), H.q(H.wbl), H.q(script))
    H.sh(cmd)
    assert.equal(2, #entries(w))
    local _, err = H.sh(cmd)
    local s = script:gsub("%p", "%%%0")
    assert.matches("^wbl: " .. s .. ":3: bang\n", err)
    assert.matches("\n\t" .. s .. ":3: in local 'f'\n\t" .. s .. ":5: in main chunk", err)
    -- the same content elsewhere is another entry: the name is in the key
    local twin = w.dir .. "/twin.lua"
    write(twin, read(script))
    _, err = H.sh(("WBL_CACHE=%s %s %s"):format(H.q(w.cache), H.q(H.wbl), H.q(twin)))
    assert.matches("^wbl: " .. twin:gsub("%p", "%%%0") .. ":3: bang\n", err)
    assert.equal(3, #entries(w))
  end)

  it("keeps loadfile's and dofile's semantics: env, mode, missing files", function()
    local w = world()
    local f = w.dir .. "/chunk.lua"
    write(f, "x = (x or 0) + 1\nreturn x, ...\n")
    local bin = w.dir .. "/chunk.luac"
    write(bin, string.dump(load("return 'binary'")))
    local code = ([[
      local f, bin = %q, %q
      local env = { x = 41 }
      local fn = assert(loadfile(f, "t", env))
      local a = { fn("arg") }
      print(a[1], a[2], env.x, x)
      print(loadfile(f, "b"))
      print(loadfile(bin, "t"))
      print(loadfile(bin)())
      print(loadfile(f .. ".none"))
      print(dofile(f))
      print(pcall(dofile, f .. ".none"))
      print(pcall(loadfile(f, "bt", nil)))
    ]]):format(f, bin)
    local want = table.concat({
      "42\targ\t42\tnil",
      "nil\tattempt to load a text chunk (mode is 'b')",
      "nil\tattempt to load a binary chunk (mode is 't')",
      "binary",
      "nil\tcannot open " .. f .. ".none: No such file or directory",
      "1",
      "false\tcannot open " .. f .. ".none: No such file or directory",
      "false\t" .. f .. ":1: attempt to index a nil value (upvalue '_ENV')",
      "" }, "\n")
    local out, err, rc = run(w, code, "")
    assert.equal(0, rc, err)
    assert.equal(want, out)
    for _ = 1, 2 do -- a miss, then a hit
      out, err, rc = run(w, code)
      assert.equal(0, rc, err)
      assert.equal(want, out)
      assert.equal(1, #entries(w)) -- chunk.lua's (the -e chunk, the binary: not cached)
    end
  end)
end)
