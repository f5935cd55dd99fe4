-- build/wbl loads Lua files (require, loadfile, dofile, the SCRIPT) through
-- a cache of their compiled chunks, one per path, used only for the exact
-- bytes compiled (core/chunkcache.c): CACHE/<sha256 of the format, Lua's
-- release, "@path">.luac = "wblchnk3", a checksum (of what follows up to
-- the source), the source's and the bytecode's lengths, string.dump's
-- output without the names of locals, the file's bytes.  Each case has its own module directory
-- (WBL_LUA_DIR) and cache (WBL_CACHE).
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
-- An entry: bytecode compiled from source (or lengths that say otherwise).
local function entry(bytecode, source, srclen, codelen)
  local summed = string.pack("=I8I8", srclen or #source, codelen or #bytecode) .. bytecode
  return "wblchnk3" .. string.pack("=i8", checksum(summed)) .. summed .. source
end

-- An entry's parts: magic, checksum, source length, bytecode length,
-- bytecode, source.
local function parts(data)
  local magic, sum, srclen, codelen, at = string.unpack("=c8i8I8I8", data)
  return magic, sum, srclen, codelen, data:sub(at, at + codelen - 1), data:sub(at + codelen)
end

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
    assert.matches("^%x+%.luac$", names[1])
    assert.equal(64 + 5, #names[1])
    local a = assert(core.fs.stat(w.cache .. "/" .. names[1]))
    assert.equal(tonumber("600", 8), a.mode)
    local data = read(w.cache .. "/" .. names[1])
    local magic, sum, srclen, codelen, bytecode, source = parts(data)
    assert.equal("wblchnk3", magic)
    assert.equal("return 'A'\n", source)
    assert.equal(#source, srclen)
    assert.equal(#bytecode, codelen)
    assert.equal("\27Lua", bytecode:sub(1, 4))
    assert.equal(data, entry(bytecode, source)) -- the checksum, as above
    assert.equal(sum, checksum(data:sub(17, 32 + codelen)))

    -- again: the same entry, not written again (rename would give a new inode)
    out = run(w, PROBE)
    assert.equal("A", out)
    assert.same(names, entries(w))
    assert.equal(a.ino, assert(core.fs.stat(w.cache .. "/" .. names[1])).ino)

    write(w.probe, "return 'B'\n")
    H.sh("touch -d @1000000000 " .. H.q(w.probe))
    out = run(w, PROBE)
    assert.equal("B", out)
    -- one entry per file, named by its path: the new version replaced the old
    assert.same(names, entries(w))
    local b = assert(core.fs.stat(w.cache .. "/" .. names[1]))
    assert.are_not.equal(a.ino, b.ino)
    assert.equal(tonumber("600", 8), b.mode)
    assert.equal("return 'B'\n", select(6, parts(read(w.cache .. "/" .. names[1]))))
    out = run(w, PROBE)
    assert.equal("B", out)
    assert.equal(b.ino, assert(core.fs.stat(w.cache .. "/" .. names[1])).ino) -- a hit
  end)

  it("keeps the file's bytes whole in the entry: a BOM and a #! line, line numbers right", function()
    local w = world()
    local script = w.dir .. "/bom.lua"
    local src = "\xEF\xBB\xBF#!/usr/bin/env wbl\nprint(debug.getinfo(1, 'l').currentline)\n"
    write(script, src)
    local cmd = ("WBL_CACHE=%s %s %s"):format(H.q(w.cache), H.q(H.wbl), H.q(script))
    for _ = 1, 2 do -- a miss, then a hit
      local out, err, code = H.sh(cmd)
      assert.equal(0, code, err)
      assert.equal("2\n", out)
      local names = entries(w)
      assert.equal(1, #names)
      assert.equal(src, select(6, parts(read(w.cache .. "/" .. names[1]))))
    end
  end)

  it("runs what the entry holds, only for the exact source it stores", function()
    local w = world()
    local _, e = probe(w, "return 'B'\n")
    local b = read(e)
    -- the module's source is now A: B's entry stores B's source, not used
    write(w.probe, "return 'A'\n")
    assert.equal("A", (run(w, PROBE)))
    assert.equal("return 'A'\n", select(6, parts(read(e)))) -- mended
    -- B's bytecode with A's source (the same length: only the source part
    -- differs, which the checksum leaves out) is what runs
    write(e, b:sub(1, -#"return 'B'\n" - 1) .. "return 'A'\n")
    assert.equal("B", (run(w, PROBE)))
    -- with the cache off, the source
    assert.equal("A", (run(w, PROBE, "")))
    -- our own entry, written by the spec (so its format is the one above)
    local bytecode = string.dump(load("return 'C'", "@" .. w.probe))
    write(e, entry(bytecode, "return 'A'\n"))
    assert.equal("C", (run(w, PROBE)))
    -- stored sources that differ from the file's bytes in any way: not used
    for _, other in ipairs { "return 'X'\n", "return 'A'", "return 'A'\n\n", "",
      "\xEF\xBB\xBFreturn 'A'\n", "#!/bin/wbl\nreturn 'A'\n" } do
      write(e, entry(bytecode, other))
      assert.equal("A", (run(w, PROBE)))
      assert.equal("return 'A'\n", select(6, parts(read(e))))
    end
  end)

  it("compiles the source again for a torn, damaged or foreign entry, and mends it", function()
    local w = world()
    local _, ea = probe(w, "return 'A'\n")
    local good = read(ea)
    local src = "return 'A'\n"
    local bytecode = string.dump(load("return 'C'", "@" .. w.probe))
    local function planted_gives(data)
      write(ea, data)
      local out, err, code = run(w, PROBE)
      assert.equal(0, code, err)
      return out
    end
    local function flip(s, at) return s:sub(1, at - 1) .. string.char(s:byte(at) ~ 0x20) .. s:sub(at + 1) end
    local plant = entry(bytecode, src)
    -- a valid plant is used (so the cases below can tell)
    assert.equal("C", planted_gives(plant))
    assert.equal("A", planted_gives(plant:sub(1, 40)))             -- truncated
    assert.equal(good, read(ea))                                   -- written again
    assert.equal("A", planted_gives(plant:sub(1, -2)))             -- the source cut short
    assert.equal("A", planted_gives(plant:sub(1, 32 + #bytecode))) -- no source
    assert.equal("A", planted_gives(plant .. "\n"))                -- a byte more
    assert.equal("A", planted_gives(flip(plant, 32 + #bytecode // 2))) -- a bit of the bytecode
    assert.equal("A", planted_gives(flip(plant, 12)))              -- of the checksum
    assert.equal("A", planted_gives(flip(plant, 17)))              -- of a length
    assert.equal("A", planted_gives(flip(plant, #plant - 3)))      -- of the source
    assert.equal("A", planted_gives(flip(plant, 2)))               -- of the magic
    -- lengths that lie, their checksum right:
    -- their sum the entry's size, the source's not the file's
    assert.equal("A", planted_gives(entry(bytecode, src, #src + 1, #bytecode - 1)))
    -- the source's the file's, the bytecode's one more (a byte of the source)
    assert.equal("A", planted_gives(entry(bytecode, src .. "\n", #src, #bytecode + 1)))
    -- longer than the entry
    assert.equal("A", planted_gives(entry(bytecode, src, #src, #bytecode + 1)))
    assert.equal("A", planted_gives(entry(bytecode, src, #src + 1, #bytecode)))
    assert.equal("A", planted_gives(entry(bytecode, src, 1 << 63, #bytecode)))
    assert.equal("A", planted_gives(""))                           -- empty
    assert.equal("A", planted_gives(("x"):rep(200)))               -- not ours
    -- format 1 ("wblchnk1", a checksum of the bytecode, the bytecode)
    assert.equal("A", planted_gives("wblchnk1" .. string.pack("=i8", checksum(bytecode)) .. bytecode))
    -- Lua's header check: bytecode of another version (0x53), checksum right
    assert.equal(0x54, bytecode:byte(5))
    assert.equal("A", planted_gives(entry(bytecode:sub(1, 4) .. "\x53" .. bytecode:sub(6), src)))
    assert.equal(good, read(ea))
  end)

  it("leaves format 1's entries alone: neither read nor removed", function()
    local w = world()
    local _, e = probe(w, "return 'A'\n")
    local old = w.cache .. "/" .. ("0"):rep(16) .. "-" .. ("1"):rep(64) .. ".luac"
    assert(core.fs.write_file(old, "wblchnk1", "creat,excl", "0600"))
    write(w.probe, "return 'B'\n")
    assert.equal("B", (run(w, PROBE)))
    assert.equal("return 'B'\n", select(6, parts(read(e))))
    assert.equal("wblchnk1", read(old))
  end)

  -- B's bytecode stored with A's source, a new file with mode (0600), the
  -- module's source A.
  local function plant(w, mode)
    local _, ea = probe(w, "return 'B'\n")
    local b = read(ea)
    b = b:sub(1, -#"return 'B'\n" - 1) .. "return 'A'\n"
    assert(os.remove(ea))
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
    local _, first = H.sh(cmd)
    assert.equal(2, #entries(w))
    local _, err = H.sh(cmd)
    local s = script:gsub("%p", "%%%0")
    assert.matches("^wbl: " .. s .. ":3: bang\n", err)
    -- the names of locals are not kept (the entry's bytecode, from the
    -- first run on): a local function is named by its line; without the
    -- cache, by its name
    assert.matches("\n\t" .. s .. ":3: in function <" .. s .. ":2>\n\t" .. s .. ":5: in main chunk", err)
    assert.equal(err, first)
    local _, full = H.sh(("WBL_CACHE= %s %s"):format(H.q(H.wbl), H.q(script)))
    assert.matches("\n\t" .. s .. ":3: in local 'f'\n\t" .. s .. ":5: in main chunk", full)
    -- the same content elsewhere is another entry: the name is in the key
    local twin = w.dir .. "/twin.lua"
    write(twin, read(script))
    _, err = H.sh(("WBL_CACHE=%s %s %s"):format(H.q(w.cache), H.q(H.wbl), H.q(twin)))
    assert.matches("^wbl: " .. twin:gsub("%p", "%%%0") .. ":3: bang\n", err)
    assert.equal(3, #entries(w))
  end)

  it("runs bytecode without the names of locals as the source runs: every kind of constant, closures", function()
    local w = world()
    write(w.probe, table.concat({
      "local M, big = {}, " .. ("%q"):format(("long string "):rep(8)) .. " -- a long string constant",
      "local i, f, t, n = 9007199254740993, 0.1 + 2^-40, true, nil",
      "local function outer(a, ...)",
      "  local b = select('#', ...)",
      "  return function(c) local d = a + b + c; return function() return d, i, f, t, n, false end end",
      "end",
      "function M.run()",
      "  local out = {}",
      "  for k = 1, 3 do out[#out + 1] = table.concat({ outer(k, 'x', 'y')(k * 0.5)() }, ',', 1, 3) end",
      "  goto done",
      "  ::done::",
      "  return #big .. ';' .. table.concat(out, ';') .. ';' .. tostring(t) .. ';' .. tostring(n)",
      "end",
      "function M.bad() return undefined_global.x end",
      "return M", "" }, "\n"))
    local code_ = "local m = require('ccprobe'); io.write(m.run(), '|', select(2, pcall(m.bad)))"
    local off = run(w, code_, "")
    local miss = run(w, code_)
    local hit = run(w, code_)
    assert.equal(1, #entries(w))
    assert.equal(off, miss)
    assert.equal(off, hit)
    -- the upvalue names stay: a global is still named so
    local where = w.probe:gsub("%p", "%%%0")
    assert.matches("|" .. where .. ":14: attempt to index a nil value %(global 'undefined_global'%)$", hit)
    assert.matches("^96;", hit)
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
