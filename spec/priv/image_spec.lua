-- Images, write layers, volumes, commit: scripts/run.lua, images.lua and
-- commit.lua against a store of their own (WBL_STORE in a temp dir).
-- After every case: no mount is left, and no layer of a --rm container.
local core = require "wbl.core"
local util = require "wbl.util"
local fs = core.fs

local store, work, before
local _

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(fs.mkdir(d, "0755"))
  return d
end

-- build/wbl SCRIPT ARGS... with WBL_STORE set: stdout, stderr, status
local function wbl(script, args)
  local parts = { "WBL_STORE=" .. H.q(store), H.q(H.wbl), H.q(H.top .. "/scripts/" .. script) }
  for _, a in ipairs(args) do parts[#parts + 1] = H.q(a) end
  return H.sh(table.concat(parts, " "))
end
local function run(args) return wbl("run.lua", args) end

local function layers() return fs.readdir(store .. "/containers") or {} end

-- A root file system tarball made the way `docker export` does: tar of a root.
local function tarball(name, from)
  local file = work .. "/" .. name
  local _, err, code = H.sh(("tar -C %s -cf %s ."):format(H.q(from or H.rootfs), H.q(file)))
  assert.equal(0, code, err)
  return file
end

-- A private copy of the busybox root (to plant things in an image).
local function rootfs_copy(name)
  local d = work .. "/" .. name
  local _, err, code = H.sh(("cp -a %s %s"):format(H.q(H.rootfs), H.q(d)))
  assert.equal(0, code, err)
  return d
end

describe("images and layers #priv", function()
  before_each(function()
    store, work = tmpdir(), tmpdir()
    before = H.mounts()
  end)
  after_each(function()
    assert.equal(before, H.mounts())
    assert(util.rm_rf(store))
    assert(util.rm_rf(work))
  end)

  H.it_priv("a file written in a container is in its upper dir, not in the image", function()
    local name = H.name("up")
    local out, err, code = run { "--name", name, "sh", "-c", "echo hello > /made; rm /etc/group; cat /made" }
    assert.equal(0, code, err)
    assert.equal("hello\n", out)
    local upper = store .. "/containers/" .. name .. "/upper"
    assert.equal("hello\n", fs.read_file(upper .. "/made"))
    assert.is_nil(fs.stat(H.rootfs .. "/made"))
    -- the deletion is a whiteout in upper; the image keeps its file
    local wh = assert(fs.lstat(upper .. "/etc/group"))
    assert.same({ "char", 0, 0 }, { wh.type, wh.rdev_major, wh.rdev_minor })
    assert.truthy(fs.read_file(H.rootfs .. "/etc/group"):find("root:x:0:", 1, true))
    -- the kept layer is listed, and removed by the script
    out, err, code = wbl("images.lua", { "layers" })
    assert.equal(0, code, err)
    assert.equal(1, out:find(name .. "\tstopped\t", 1, true))
    _, err, code = wbl("images.lua", { "rm-layer", name })
    assert.equal(0, code, err)
    assert.same({}, layers())
  end)

  H.it_priv("two containers from one image do not see each other's files", function()
    local tar = tarball("bb.tar")
    local a, b = H.name("a"), H.name("b")
    local _, err, code = run { "--name", a, "--image", tar, "sh", "-c", "echo a > /mine" }
    assert.equal(0, code, err)
    local out
    out, err, code = run { "--name", b, "--image", "bb", "sh", "-c", "cat /mine 2>&1; echo b > /mine; cat /mine" }
    assert.equal(0, code, err)
    assert.equal("cat: can't open '/mine': No such file or directory\nb\n", out)
    assert.equal("a\n", fs.read_file(store .. "/containers/" .. a .. "/upper/mine"))
    assert.equal("b\n", fs.read_file(store .. "/containers/" .. b .. "/upper/mine"))
    assert.is_nil(fs.stat(store .. "/images/bb/rootfs/mine"))
    _, err, code = wbl("images.lua", { "prune" })
    assert.equal(0, code, err)
    assert.same({}, layers())
  end)

  H.it_priv("--rm leaves no layer and no mount, on success and on failure", function()
    local _, err, code = run { "--rm", "sh", "-c", "echo x > /x; exit 3" }
    assert.equal(3, code, err)
    assert.same({}, layers())
    -- a step that fails inside the container (a bad tmpfs option)
    _, err, code = run { "--rm", "--tmpfs", "/t:size=lots", "true" }
    assert.equal(125, code)
    assert.matches("mount /t: mount tmpfs: fsconfig size=lots", err, 1, true)
    assert.matches("EINVAL", err, 1, true)
    assert.same({}, layers())
    -- the command is not found
    _, _, code = run { "--rm", "no-such-command" }
    assert.equal(127, code)
    assert.same({}, layers())
    assert.same({}, H.containers())
  end)

  H.it_priv("a tarball is imported once, then reused read-only; images.lua lists and removes it", function()
    local tar = tarball("tiny.tar")
    local out, err, code = run { "--rm", "--image", tar, "sh", "-c", "echo ok" }
    assert.equal(0, code, err)
    assert.equal("ok\n", out)
    local ino = assert(fs.stat(store .. "/images/tiny/rootfs")).ino
    _, err, code = run { "--rm", "--image", tar, "true" }
    assert.equal(0, code, err)
    assert.equal(ino, assert(fs.stat(store .. "/images/tiny/rootfs")).ino)
    out, err, code = wbl("images.lua", { "list" })
    assert.equal(0, code, err)
    assert.matches("^tiny\t%S+\t" .. work:gsub("%p", "%%%0") .. "/tiny.tar\n$", out)
    _, err, code = wbl("images.lua", { "rm", "tiny" })
    assert.equal(0, code, err)
    assert.is_nil(fs.stat(store .. "/images/tiny"))
    _, err, code = run { "--rm", "--image", "tiny", "true" }
    assert.equal(125, code)
    assert.matches('no image "tiny"', err, 1, true)
  end)

  H.it_priv("a corrupt, cut or missing tarball fails with 125 and says why; nothing is kept", function()
    local bad = work .. "/bad.tar"
    assert(fs.write_file(bad, ("not a tar archive\n"):rep(100)))
    local _, err, code = run { "--rm", "--image", bad, "true" }
    assert.equal(125, code)
    assert.matches("image " .. bad .. ": import " .. bad .. ": tar: This does not look like a tar archive",
      err, 1, true)
    -- cut between two members: tar alone would not notice
    local whole = assert(fs.read_file(tarball("whole.tar")))
    local cut = work .. "/cut.tar"
    assert(fs.write_file(cut, whole:sub(1, 512 * 8)))
    _, err, code = run { "--rm", "--image", cut, "true" }
    assert.equal(125, code)
    assert.matches("cut short", err, 1, true)
    -- cut inside a file's data
    assert(fs.write_file(cut, whole:sub(1, #whole // 2)))
    _, _, code = run { "--rm", "--image", cut, "true" }
    assert.equal(125, code)
    _, err, code = run { "--rm", "--image", work .. "/missing.tar", "true" }
    assert.equal(125, code)
    assert.matches("stat " .. work .. "/missing.tar: No such file or directory (ENOENT)", err, 1, true)
    assert.same({}, fs.readdir(store .. "/images"))
    assert.same({}, fs.readdir(store .. "/tmp"))
    assert.same({}, layers())
  end)

  H.it_priv("a volume's data survives the container; :ro gives EROFS, submounts included", function()
    local host = work .. "/vol/missing/dir" -- made by run.lua
    local rohost = work .. "/ro"
    assert(fs.mkdir_p(rohost .. "/sub"))
    assert(fs.write_file(rohost .. "/sub/keep", "kept"))
    -- a submount under the ro volume's source, in the spec's own namespace
    assert(core.mount.mount("tmpfs", rohost .. "/sub", "tmpfs", nil, "size=64k"))
    finally(function() core.mount.umount2(rohost .. "/sub", "detach") end)
    assert(fs.write_file(rohost .. "/sub/in-tmpfs", "t"))
    local out, err, code = run { "--rm", "-v", host .. ":/data", "-v", rohost .. ":/ro:ro", "sh", "-c",
      "echo saved > /data/f; cat /ro/sub/in-tmpfs; echo; echo x > /ro/f; echo x > /ro/sub/f; " ..
      "grep -c ' /ro/sub ro,' /proc/self/mountinfo" }
    assert.equal(0, code, err)
    assert.equal("t\n1\n", out)
    assert.equal(2, select(2, err:gsub("Read%-only file system", "")))
    assert.equal("saved\n", fs.read_file(host .. "/f"))
    assert.is_nil(fs.stat(rohost .. "/f"))
    assert.is_nil(fs.stat(rohost .. "/sub/f"))
    out, err, code = run { "--rm", "-v", host .. ":/data:rw", "cat", "/data/f" }
    assert.equal(0, code, err)
    assert.equal("saved\n", out)
    assert.same({}, layers())
  end)

  H.it_priv("a symlink planted in an image cannot point a volume at the host's /etc", function()
    local root = rootfs_copy("evil")
    assert(fs.symlink("/etc", root .. "/evil"))
    assert(fs.symlink("../../../../../../../../../../etc", root .. "/rel"))
    assert.equal("/etc", fs.realpath(root .. "/evil")) -- the host would follow it out
    local host = work .. "/vol"
    local marker = "wbl-spec-" .. util.random_hex(4)
    local out, err, code = run { "--rm", "--rootfs", root, "-v", host .. ":/evil", "-v", host .. ":/rel/x",
      "sh", "-c", "echo in > /evil/" .. marker .. "; awk '$5 ~ /^\\/etc/ {print $5}' /proc/self/mountinfo" }
    assert.equal(0, code, err)
    -- both landed on the container's /etc (contained), never the host's
    -- (after wbl's own /etc files, which the volume hides)
    assert.equal("/etc/hosts\n/etc/hostname\n/etc/resolv.conf\n/etc\n/etc/x\n", out)
    assert.equal("in\n", fs.read_file(host .. "/" .. marker))
    assert.is_nil(fs.stat("/etc/" .. marker))
    assert.is_nil(fs.stat("/etc/x"))
    assert.is_nil(fs.stat(root .. "/etc/x"))  -- made in the container's upper, not the image
    assert.same({}, layers())
  end)

  H.it_priv("an image's /sys or /tmp symlinked out of the root: contained, or refused", function()
    local root = rootfs_copy("links")
    assert(util.rm_rf(root .. "/sys"))
    assert(fs.symlink("../../../../../../etc", root .. "/sys"))
    local name = H.name("links")
    local out, err, code = run { "--name", name, "--rootfs", root, "sh", "-c",
      "awk '$5 == \"/etc\" {print $5, $9}' /proc/self/mountinfo" }
    assert.equal(0, code, err)
    assert.equal("/etc sysfs\n", out) -- on the container's /etc
    _, err, code = wbl("images.lua", { "rm-layer", name })
    assert.equal(0, code, err)
    -- a dangling link is not followed to make its target on the host
    local escape = "/wbl-spec-escape-" .. util.random_hex(4)
    assert(util.rm_rf(root .. "/tmp"))
    assert(fs.symlink(escape, root .. "/tmp"))
    _, err, code = run { "--rm", "--rootfs", root, "true" }
    assert.equal(125, code)
    assert.matches("mount /tmp: mkdir tmp in " .. store .. "/containers/", err, 1, true)
    assert.matches("(ENOENT)", err, 1, true)
    assert.is_nil(fs.stat(escape))
    assert.same({}, layers())
  end)

  H.it_priv("/etc/hosts, hostname and resolv.conf are there when the image has none", function()
    local root = rootfs_copy("noetc")
    for _, f in ipairs { "hosts", "hostname", "resolv.conf" } do os.remove(root .. "/etc/" .. f) end
    local name = H.name("noetc")
    local out, err, code = run { "--name", name, "--hostname", "box", "--network", "none", "--rootfs", root,
      "sh", "-c", "cat /etc/hosts /etc/hostname; test -f /etc/resolv.conf && echo resolv" }
    assert.equal(0, code, err)
    assert.matches("^127%.0%.0%.1\tlocalhost box\n", out)
    assert.matches("\nbox\nresolv\n$", out)
    -- the mount points were made in the write layer, not in the image
    for _, f in ipairs { "hosts", "hostname", "resolv.conf" } do
      assert.is_nil(fs.lstat(root .. "/etc/" .. f))
      assert.truthy(fs.lstat(store .. "/containers/" .. name .. "/upper/etc/" .. f))
    end
    _, err, code = wbl("images.lua", { "rm-layer", name })
    assert.equal(0, code, err)
  end)

  H.it_priv("an image's /etc symlinked to a host path: the /etc files go inside the root", function()
    local host = "/var/lib/wbl-spec-etc-" .. util.random_hex(4)
    assert(fs.mkdir(host, "0755"))
    finally(function() util.rm_rf(host) end)
    local root = rootfs_copy("etclink")
    assert(fs.mkdir_p(root .. host, "0755"))
    assert.equal(0, select(3, H.sh(("cp -a %s/etc/. %s"):format(H.q(root), H.q(root .. host)))))
    assert(util.rm_rf(root .. "/etc"))
    assert(fs.symlink(host, root .. "/etc"))
    local out, err, code = run { "--rm", "--hostname", "linked", "--network", "none", "--rootfs", root,
      "sh", "-c", "cat /etc/hostname; grep -c localhost /etc/hosts" }
    assert.equal(0, code, err)
    assert.equal("linked\n2\n", out) -- 127.0.0.1 and ::1
    assert.same({}, fs.readdir(host)) -- nothing was made on the host
  end)

  H.it_priv("an image's /dev symlinked to a host path: the terminal is made inside the root", function()
    local host = "/var/lib/wbl-spec-dev-" .. util.random_hex(4)
    assert(fs.mkdir(host, "0755"))
    finally(function() util.rm_rf(host) end)
    local root = rootfs_copy("devlink")
    assert(util.rm_rf(root .. "/dev"))
    assert(fs.symlink(host, root .. "/dev"))
    assert(fs.mkdir_p(root .. host .. "/pts", "0755"))
    -- wbl.tty.attach (-t, container side) in a mount namespace of the
    -- child's own, with a devpts where the root's /dev/pts really is
    local tty = require "wbl.tty"
    local t = assert(tty.new(false))
    local how, code = H.in_child(function()
      assert(core.mount.mount(nil, "/", nil, "rec,private"))
      assert(core.mount.mount("devpts", root .. host .. "/pts", "devpts", nil, "newinstance,ptmxmode=0666"))
      assert(tty.attach(t, root))
      -- its stdin is now the slave, reached through the root's /dev/console
      local st, console = assert(fs.stat("/proc/self/fd/0")), assert(fs.stat(root .. host .. "/console"))
      return (st.type == "char" and st.dev == console.dev and st.ino == console.ino) and 0 or 1
    end, "mnt")
    t.peer:close()
    local _, fds = t.sock:recv_fds()
    t:close()
    assert.same({ "exited", 0 }, { how, code })
    assert.equal("/dev/pts/0", core.pty.ptsname(fds[1])) -- the master came out
    assert.same({}, fs.readdir(host)) -- nothing was made on the host
    assert.truthy(fs.lstat(root .. host .. "/console")) -- but inside the root
  end)

  H.it_priv("commit, then run: the change is there, the deletion too", function()
    local tar = tarball("base.tar")
    local name = H.name("c")
    local _, err, code = run { "--name", name, "--image", tar, "sh", "-c",
      "echo committed > /etc/motd; rm /etc/group; mkdir -p /srv/app; echo 1 > /srv/app/v" }
    assert.equal(0, code, err)
    local out
    out, err, code = wbl("commit.lua", { name, "snap" })
    assert.equal(0, code, err)
    assert.equal("snap\n", out)
    out, err, code = run { "--rm", "--image", "snap", "sh", "-c",
      "cat /etc/motd /srv/app/v; test -e /etc/group && echo group-is-back; test -e /etc/passwd && echo passwd" }
    assert.equal(0, code, err)
    assert.equal("committed\n1\npasswd\n", out)
    -- the new image is one plain directory, no whiteouts; the base is intact
    assert.is_nil(fs.lstat(store .. "/images/snap/rootfs/etc/group"))
    assert.truthy(fs.stat(store .. "/images/base/rootfs/etc/group"))
    assert.is_nil(fs.stat(store .. "/images/base/rootfs/etc/motd"))
    -- a taken name is refused
    _, err, code = wbl("commit.lua", { name, "snap" })
    assert.equal(125, code)
    assert.matches('image "snap" exists', err, 1, true)
    assert.same({}, fs.readdir(store .. "/tmp"))
    _, err, code = wbl("images.lua", { "rm-layer", name })
    assert.equal(0, code, err)
  end)

  H.it_priv("--read-only root; --tmpfs is writable, sized, and not in the upper dir", function()
    local name = H.name("ro")
    local out, err, code = run { "--name", name, "--read-only", "--tmpfs", "/scratch:size=1m", "sh", "-c",
      "echo x > /x 2>&1; echo t > /tmp/t && echo s > /scratch/s && cat /scratch/s; " ..
      "grep ' /scratch ' /proc/self/mountinfo | grep -o 'size=[0-9]*k'" }
    assert.equal(0, code, err)
    assert.equal("s\nsize=1024k\n", out)
    assert.matches("Read-only file system", err, 1, true)
    local upper = store .. "/containers/" .. name .. "/upper"
    assert.is_nil(fs.stat(upper .. "/x"))
    assert.is_nil(fs.stat(upper .. "/scratch/s"))
    _, err, code = wbl("images.lua", { "rm-layer", name })
    assert.equal(0, code, err)
  end)

  H.it_priv("a taken layer name, bad -v and --image/--rootfs together fail with 125", function()
    local name = H.name("taken")
    local _, err, code = run { "--name", name, "true" }
    assert.equal(0, code, err)
    _, err, code = run { "--name", name, "true" }
    assert.equal(125, code)
    assert.matches(("the name %q is in use by container"):format(name), err, 1, true)
    assert.matches("(remove it first: wbl rm " .. name .. ")", err, 1, true)
    _, err, code = run { "--rm", "-v", "relative:/x", "true" }
    assert.equal(125, code)
    assert.matches("--volume relative:/x: the host path must be absolute", err, 1, true)
    _, err, code = run { "--rm", "--image", "x", "--rootfs", H.rootfs, "true" }
    assert.equal(125, code)
    assert.matches("exclude each other", err, 1, true)
    assert(wbl("images.lua", { "rm-layer", name }))
    assert.same({}, layers())
  end)

  H.it_priv("cleanup.lua removes the --rm layer of a container whose wbl was SIGKILLed", function()
    local name = H.name("killed")
    local r, w = assert(core.fd.pipe())
    local pid = assert(core.proc.fork())
    if pid == 0 then
      pcall(function()
        w:dup2(1)
        core.proc.execvp("env", { "env", "WBL_STORE=" .. store, H.wbl, H.top .. "/scripts/run.lua",
          "--rm", "--name", name, "sh", "-c", "echo ready; exec sleep 60" })
      end)
      core.proc._exit(127)
    end
    w:close()
    local job = { pid = pid, out = r }
    assert.equal("ready", H.read_line(job))
    assert.same({ name }, layers())
    assert(core.proc.kill(pid, "SIGKILL"))
    assert.equal(137, H.wait(job))
    local cpid = assert(H.state(name)).pid
    for _ = 1, 500 do -- the container's PID 1 dies of its parent's death (pdeathsig)
      local s = fs.read_file("/proc/" .. cpid .. "/stat")
      if not s or s:match("%) [ZX]") then break end
      core.proc.sigwait({ "SIGUSR2" }, 10)
    end
    local _, err, code = wbl("cleanup.lua", { name })
    assert.equal(0, code, err)
    assert.same({}, layers())
  end)
end)
