-- core.overlay and core.inroot, each proven by what the kernel then shows.
-- Every mount is made in a child with a mount namespace of its own
-- (private), so it goes when the child does, failures included.
local core = require "wbl.core"
local util = require "wbl.util"
local ov, inroot, fs, E = core.overlay, core.inroot, core.fs, core.errno

local tmpdir = H.tmpdir

local function mk(p)
  assert(fs.mkdir_p(p, "0755"))
  return p
end

-- Run fn in a child with its own private mount namespace; assert it
-- returned without error.
local function in_mntns(fn)
  local how, code = H.in_child(function()
    assert(core.mount.mount(nil, "/", nil, "rec,private"))
    fn()
    return 0
  end, "mnt")
  assert.same({ "exited", 0 }, { how, code })
end

local function mounted(path)
  for l in assert(fs.read_file("/proc/self/mountinfo")):gmatch("[^\n]+") do
    if l:match("^%S+ %S+ %S+ %S+ (%S+)") == path then return l end
  end
end

describe("core.overlay #priv", function()
  local dir, before
  before_each(function()
    dir = tmpdir()
    before = H.mounts()
  end)
  after_each(function()
    assert.equal(before, H.mounts())
    assert(util.rm_rf(dir))
  end)

  H.it_priv("writes go to upper, deletions are whiteouts, the lowers stay as they were", function()
    local lo, up, wk, mnt = mk(dir .. "/lo"), mk(dir .. "/up"), mk(dir .. "/wk"), mk(dir .. "/mnt")
    assert(fs.write_file(lo .. "/old", "image"))
    in_mntns(function()
      local _, api = assert(ov.mount({ lo }, up, wk, mnt))
      assert.equal("fsconfig", api)
      assert.matches(" %- overlay ", mounted(mnt))
      assert.equal("image", fs.read_file(mnt .. "/old"))
      assert(fs.write_file(mnt .. "/new", "container"))
      assert(fs.unlink(mnt .. "/old"))
      assert.is_nil(fs.stat(mnt .. "/old"))
    end)
    assert.equal("container", fs.read_file(up .. "/new"))
    assert.is_nil(fs.stat(lo .. "/new"))
    assert.equal("image", fs.read_file(lo .. "/old"))
    local wh = assert(fs.lstat(up .. "/old"))
    assert.same({ "char", 0, 0 }, { wh.type, wh.rdev_major, wh.rdev_minor })
  end)

  H.it_priv("escapes ',' ':' '\\' in options, and such paths mount by fsconfig and by mount(2)", function()
    assert.equal([[a\,b\:c\\d]], ov.escape([[a,b:c\d]]))
    assert.equal([[lowerdir=/x\:1:/y,upperdir=/u\,v,workdir=/w\\]],
      ov.options({ "/x:1", "/y" }, "/u,v", [[/w\]]))
    local odd = mk(dir .. [[/a,b:c\d]])
    local l1, l2 = mk(odd .. "/low,1"), mk(odd .. "/low:2")
    assert(fs.write_file(l1 .. "/top", "1"))
    assert(fs.write_file(l2 .. "/top", "2"))
    assert(fs.write_file(l2 .. "/bottom", "2"))
    for _, flags in ipairs { "", "legacy" } do
      local up, wk, mnt = mk(odd .. "/up:" .. flags), mk(odd .. "/w,k" .. flags), mk(odd .. "/m\\nt" .. flags)
      in_mntns(function()
        local _, api = assert(ov.mount({ l1, l2 }, up, wk, mnt, flags))
        assert.equal(flags == "legacy" and "mount" or "fsconfig", api)
        assert.equal("1", fs.read_file(mnt .. "/top"))
        assert.equal("2", fs.read_file(mnt .. "/bottom"))
        assert(fs.write_file(mnt .. "/w", flags))
      end)
      assert.equal(flags, fs.read_file(up .. "/w"))
    end
  end)

  H.it_priv("60 layers whose option string overflows a page mount by lowerdir+, in order", function()
    local lowers = {}
    for i = 1, 60 do
      local d = mk(("%s/%s/layer-%s-%02d"):format(dir, ("p"):rep(60), ("x"):rep(40), i))
      assert(fs.write_file(d .. "/only" .. i, tostring(i)))
      assert(fs.write_file(d .. "/shadow", tostring(i)))
      lowers[i] = d
    end
    local page = 4096
    assert.is_true(#ov.options(lowers, dir .. "/up", dir .. "/wk") > page)
    local up, wk, mnt = mk(dir .. "/up"), mk(dir .. "/wk"), mk(dir .. "/mnt")
    in_mntns(function()
      local _, api = assert(ov.mount(lowers, up, wk, mnt))
      assert.equal("fsconfig", api)
      assert.equal("1", fs.read_file(mnt .. "/shadow")) -- the first layer is the top
      for i = 1, 60 do assert.equal(tostring(i), fs.read_file(mnt .. "/only" .. i)) end
      -- the kernel lists every layer
      local _, n = mounted(mnt):gsub("lowerdir%+=", "")
      assert.equal(60, n)
      -- mount(2) cannot take it: refused before the kernel cuts it short
      local ok, msg, en = ov.mount(lowers, nil, nil, mk(dir .. "/m2"), "legacy,ro")
      assert.is_nil(ok)
      assert.equal(E.E2BIG, en)
      assert.matches("over one page", msg)
      assert.matches(dir .. "/m2", msg, 1, true)
    end)
  end)

  H.it_priv("layers with paths over 255 bytes (fsconfig strings stop there) go by fd", function()
    local long = dir .. "/" .. ("q"):rep(200) .. "/" .. ("r"):rep(200)
    local l1, l2 = mk(long .. "/1"), mk(long .. "/2")
    assert(fs.write_file(l2 .. "/f", "deep"))
    local up, wk, mnt = mk(long .. "/up"), mk(long .. "/wk"), mk(dir .. "/mnt")
    in_mntns(function()
      assert(ov.mount({ l1, l2 }, up, wk, mnt))
      assert.equal("deep", fs.read_file(mnt .. "/f"))
    end)
  end)

  H.it_priv("without upper the overlay is read-only (EROFS)", function()
    local l1, l2, mnt = mk(dir .. "/1"), mk(dir .. "/2"), mk(dir .. "/mnt")
    in_mntns(function()
      assert(ov.mount({ l1, l2 }, nil, nil, mnt, "ro"))
      local ok, _, en = fs.write_file(mnt .. "/x", "x")
      assert.is_nil(ok)
      assert.equal(E.EROFS, en)
    end)
  end)

  H.it_priv("failures name the step and the path, with the errno", function()
    local mnt = mk(dir .. "/mnt")
    in_mntns(function()
      local ok, msg, en = ov.mount({ dir .. "/missing" }, mk(dir .. "/u"), mk(dir .. "/w"), mnt)
      assert.is_nil(ok)
      assert.equal(E.ENOENT, en)
      assert.matches("lowerdir+ " .. dir .. "/missing", msg, 1, true)
      -- work on another file system than upper: the kernel's reason is in the message
      ok, msg, en = ov.mount({ mk(dir .. "/l") }, mk(dir .. "/u2"), "/dev/shm", mnt)
      assert.is_nil(ok)
      assert.is_number(en)
      assert.matches(mnt, msg, 1, true)
    end)
  end)
end)

describe("core.inroot #priv", function()
  local dir, root, before
  before_each(function()
    dir = tmpdir()
    root = mk(dir .. "/root")
    mk(root .. "/etc")
    before = H.mounts()
  end)
  after_each(function()
    assert.equal(before, H.mounts())
    assert(util.rm_rf(dir))
  end)

  H.it_priv("symlinks and .. resolve inside the root, where a plain path would escape", function()
    assert(fs.symlink("/etc", root .. "/abs"))
    assert(fs.symlink("../../../../../../../../etc", root .. "/rel"))
    assert(fs.symlink("/nowhere/../../etc/sub", root .. "/deep"))
    -- the attack is real: the host resolves these to the host's /etc
    assert.equal("/etc", fs.realpath(root .. "/abs"))
    assert.equal("/etc", fs.realpath(root .. "/rel"))
    for _, p in ipairs { "/abs", "/rel", "abs", "/../../rel/.." .. "/etc" } do
      local fd, where = assert(inroot.open(root, p))
      assert.equal(root .. "/etc", where)
      fd:close()
    end
    -- "dir" makes what is missing, inside the root, through the links
    local fd, where = assert(inroot.open(root, "/rel/sub/a/b", "dir"))
    fd:close()
    assert.equal(root .. "/etc/sub/a/b", where)
    assert.is_nil(fs.stat("/etc/sub"))
    -- a dangling link is not followed to make its target: refused
    local none, why, code = inroot.open(root, "/deep/x", "dir")
    assert.is_nil(none)
    assert.equal(E.ENOENT, code)
    assert.matches("mkdir deep in " .. root, why, 1, true)
    fd, where = assert(inroot.open(root, "/rel/new.conf", "file"))
    fd:close()
    assert.equal(root .. "/etc/new.conf", where)
    assert.equal("file", fs.stat(where).type)
    assert.is_nil(fs.stat("/etc/new.conf"))
    local ok, msg, en = inroot.open(root, "/abs/missing")
    assert.is_nil(ok)
    assert.equal(E.ENOENT, en)
    assert.matches("resolve /abs/missing in " .. root, msg, 1, true)
  end)

  H.it_priv("bind rec,ro makes the submounts read-only too; the bind lands on the fd", function()
    local src = mk(dir .. "/src")
    local sub = mk(src .. "/sub")
    assert(fs.symlink("/etc", root .. "/abs"))
    in_mntns(function()
      assert(core.mount.mount("tmpfs", sub, "tmpfs", nil, "size=64k"))
      local fd, where = assert(inroot.open(root, "/abs/vol", "dir"))
      assert(inroot.bind(src, fd, "rec,ro"))
      fd:close()
      assert.equal(root .. "/etc/vol", where)
      assert.truthy(mounted(where))
      assert.truthy(mounted(where .. "/sub"))
      assert.matches("^%S+ %S+ %S+ %S+ %S+ ro", mounted(where .. "/sub"))
      for _, p in ipairs { where .. "/x", where .. "/sub/x" } do
        local ok, _, en = fs.write_file(p, "x")
        assert.is_nil(ok)
        assert.equal(E.EROFS, en)
      end
      assert(fs.write_file(sub .. "/x", "the source stays writable"))
      -- a tmpfs by fsconfig, with options
      fd = assert(inroot.open(root, "/scratch", "dir"))
      assert(inroot.mount("tmpfs", fd, "size=1m,mode=0700", "nosuid,nodev"))
      fd:close()
      assert.matches("size=1024k", mounted(root .. "/scratch"))
      local ok, msg, en = inroot.mount("tmpfs", root .. "/scratch", "size=lots")
      assert.is_nil(ok)
      assert.equal(E.EINVAL, en)
      assert.matches("size=lots", msg, 1, true)
    end)
    assert.is_nil(fs.stat("/etc/vol"))
  end)
end)
