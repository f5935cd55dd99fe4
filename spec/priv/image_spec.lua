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

-- An image's record in the store (images/NAME/image.lua), and the
-- directories of its layers, bottom first.
local function record(name)
  local s = fs.read_file(store .. "/images/" .. name .. "/image.lua")
  return s and assert(util.unserialise(s))
end
local function image_dirs(name)
  local out = {}
  for i, id in ipairs(assert(record(name), name).layers) do out[i] = store .. "/layers/" .. id end
  return out
end
local function store_layers()
  local ids = fs.readdir(store .. "/layers") or {}
  table.sort(ids)
  return ids
end

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

-- Image archives, made here as docker and OCI tools write them ------------

local json = require "dkjson"
local function sha256(file) return (H.sh("sha256sum " .. H.q(file))):match("^(%x+)") end
local function sh_ok(cmd)
  local _, err, code = H.sh(cmd)
  assert.equal(0, code, cmd .. ": " .. err)
end
local function write_json(file, v)
  assert(fs.write_file(file, json.encode(v)))
  return file
end

-- Two layers as tars: the busybox root with /data/old and /opt/gone; then
-- a layer that deletes /etc/group and /opt/gone (.wh.NAME), replaces what
-- /data held (.wh..wh..opq: the directory is opaque) with /data/new, and
-- adds /srv/hello.
local function two_layers()
  if fs.stat(work .. "/l2.tar") then return { work .. "/l1.tar", work .. "/l2.tar" } end
  local l1 = rootfs_copy("l1")
  assert(fs.mkdir_p(l1 .. "/data") and fs.mkdir_p(l1 .. "/opt"))
  assert(fs.write_file(l1 .. "/data/old", "old\n"))
  assert(fs.write_file(l1 .. "/opt/gone", "gone\n"))
  local l2 = work .. "/l2"
  for _, d in ipairs { "/etc", "/data", "/srv", "/opt" } do assert(fs.mkdir_p(l2 .. d)) end
  for f, v in pairs { ["/etc/.wh.group"] = "", ["/opt/.wh.gone"] = "", ["/data/.wh..wh..opq"] = "",
    ["/data/new"] = "new\n", ["/srv/hello"] = "hello\n" } do
    assert(fs.write_file(l2 .. f, v))
  end
  for _, l in ipairs { "l1", "l2" } do
    sh_ok(("tar --numeric-owner -C %s -cf %s ."):format(H.q(work .. "/" .. l), H.q(work .. "/" .. l .. ".tar")))
  end
  return { work .. "/l1.tar", work .. "/l2.tar" }
end

local function image_config(cfg, diff_ids, arch)
  return { architecture = arch or require("wbl.image").host_arch(), os = "linux", config = cfg,
           rootfs = { type = "layers", diff_ids = diff_ids } }
end

-- `docker save` (the format of docker before 25): manifest.json, the
-- config as HEX.json, each layer as HEX/layer.tar.
local function docker_save(name, tars, cfg, opts)
  opts = opts or {}
  local dir = work .. "/" .. name .. ".d"
  assert(fs.mkdir(dir, "0755"))
  local diff_ids, paths = {}, {}
  for i, t in ipairs(tars) do
    local hex = sha256(t)
    assert(fs.mkdir_p(dir .. "/" .. hex))
    sh_ok(("cp %s %s/%s/layer.tar"):format(H.q(t), H.q(dir), hex))
    diff_ids[i], paths[i] = "sha256:" .. (opts.diff_ids and opts.diff_ids[i] or hex), hex .. "/layer.tar"
  end
  local cfile = write_json(dir .. "/config", image_config(cfg, diff_ids, opts.arch))
  local chex = sha256(cfile)
  assert(fs.rename(cfile, dir .. "/" .. chex .. ".json"))
  write_json(dir .. "/manifest.json",
    { { Config = chex .. ".json", RepoTags = { name .. ":latest" }, Layers = paths } })
  write_json(dir .. "/repositories", { [name] = { latest = paths[#paths]:match("^%x+") } })
  local file = work .. "/" .. name .. ".tar"
  sh_ok(("tar -C %s -cf %s ."):format(H.q(dir), H.q(file)))
  return file
end

-- An OCI image layout: oci-layout, index.json (the image for this host,
-- one for another platform, an attestation), blobs/sha256/ (gzip'd layers).
local function oci_layout(name, tars, cfg)
  local dir = work .. "/" .. name .. ".d"
  local blobs = dir .. "/blobs/sha256"
  assert(fs.mkdir_p(blobs, "0755"))
  local function add(file, media)
    local hex = sha256(file)
    assert(fs.rename(file, blobs .. "/" .. hex))
    return { mediaType = media, digest = "sha256:" .. hex, size = assert(fs.stat(blobs .. "/" .. hex)).size }
  end
  local diff_ids, descs = {}, {}
  for i, t in ipairs(tars) do
    diff_ids[i] = "sha256:" .. sha256(t)
    sh_ok(("gzip -n -c %s > %s/layer.gz"):format(H.q(t), H.q(dir)))
    descs[i] = add(dir .. "/layer.gz", "application/vnd.oci.image.layer.v1.tar+gzip")
  end
  local config = add(write_json(dir .. "/config", image_config(cfg, diff_ids)),
    "application/vnd.oci.image.config.v1+json")
  local manifest = add(write_json(dir .. "/manifest", { schemaVersion = 2,
    mediaType = "application/vnd.oci.image.manifest.v1+json", config = config, layers = descs }),
    "application/vnd.oci.image.manifest.v1+json")
  manifest.platform = { architecture = require("wbl.image").host_arch(), os = "linux" }
  local other = { mediaType = manifest.mediaType, digest = "sha256:" .. ("0"):rep(64), size = 1,
    platform = { architecture = "s390x-not-this", os = "linux" } }
  local attestation = { mediaType = manifest.mediaType, digest = "sha256:" .. ("1"):rep(64), size = 1,
    platform = { architecture = "unknown", os = "unknown" } }
  write_json(dir .. "/index.json", { schemaVersion = 2, manifests = { manifest, other, attestation } })
  write_json(dir .. "/oci-layout", { imageLayoutVersion = "1.0.0" })
  local file = work .. "/" .. name .. ".tar"
  sh_ok(("tar -C %s -cf %s ."):format(H.q(dir), H.q(file)))
  return file
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
    -- one layer, named by the file's sha256
    local dirs = image_dirs("tiny")
    assert.equal(1, #dirs)
    assert.equal(H.sh("sha256sum " .. H.q(tar)):match("^%x+"), dirs[1]:match("[^/]*$"))
    local ino = assert(fs.stat(dirs[1])).ino
    _, err, code = run { "--rm", "--image", tar, "true" }
    assert.equal(0, code, err)
    assert.equal(ino, assert(fs.stat(dirs[1])).ino)
    out, err, code = wbl("images.lua", { "list" })
    assert.equal(0, code, err)
    assert.matches("^tiny\t%S+\t" .. work:gsub("%p", "%%%0") .. "/tiny.tar\n$", out)
    _, err, code = wbl("images.lua", { "rm", "tiny" })
    assert.equal(0, code, err)
    assert.is_nil(fs.stat(store .. "/images/tiny"))
    assert.same({}, store_layers()) -- no image lists its layer: gone
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

  H.it_priv("commit adds a layer: the change is there, the deletion too", function()
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
    -- the new image is the base's layer (shared, intact) and one more: the
    -- container's upper, its deletion an overlayfs whiteout
    local base, snap = image_dirs("base"), image_dirs("snap")
    assert.equal(2, #snap)
    assert.equal(base[1], snap[1])
    local wh = assert(fs.lstat(snap[2] .. "/etc/group"))
    assert.same({ "char", 0, 0 }, { wh.type, wh.rdev_major, wh.rdev_minor })
    assert.equal("committed\n", fs.read_file(snap[2] .. "/etc/motd"))
    assert.is_nil(fs.stat(snap[2] .. "/bin/busybox")) -- not a copy of the whole root
    assert.truthy(fs.stat(base[1] .. "/etc/group"))
    assert.is_nil(fs.stat(base[1] .. "/etc/motd"))
    -- a taken name is refused
    _, err, code = wbl("commit.lua", { name, "snap" })
    assert.equal(125, code)
    assert.matches('image "snap" exists', err, 1, true)
    assert.same({}, fs.readdir(store .. "/tmp"))
    _, err, code = wbl("images.lua", { "rm-layer", name })
    assert.equal(0, code, err)
  end)

  H.it_priv("a docker save archive: its layers in order, whiteouts applied, its config the defaults", function()
    local file = docker_save("app", two_layers(), {
      Env = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hi" }, WorkingDir = "/srv", User = "nobody",
      Cmd = { "sh", "-c", "echo $GREETING from $PWD as $(id -u); ls /data /opt; cat hello; " ..
        "test -e /etc/group || echo no-group" },
      ExposedPorts = { ["80/tcp"] = {} } })
    -- `run IMAGE` with no command: the image's Cmd, Env, WorkingDir, User
    local out, err, code = run { "--rm", "--network", "none", "--image", file }
    assert.equal(0, code, err)
    assert.equal("hi from /srv as 65534\n/data:\nnew\n\n/opt:\nhello\nno-group\n", out)
    -- two layers, each a directory of the store named by its diff_id
    local tars = two_layers()
    local dirs = image_dirs("app")
    assert.same({ sha256(tars[1]), sha256(tars[2]) }, { dirs[1]:match("[^/]*$"), dirs[2]:match("[^/]*$") })
    local wh = assert(fs.lstat(dirs[2] .. "/etc/group"))
    assert.same({ "char", 0, 0 }, { wh.type, wh.rdev_major, wh.rdev_minor })
    assert.equal("y", core.fs.getxattr(dirs[2] .. "/data", "trusted.overlay.opaque"))
    assert.is_nil(fs.lstat(dirs[2] .. "/data/.wh..wh..opq"))
    assert.equal("old\n", fs.read_file(dirs[1] .. "/data/old")) -- the layer below is untouched
    assert.same({ "80/tcp" }, record("app").config.ExposedPorts)
    -- what the user gives wins: a command replaces Cmd; -w, -u, -e
    out, err, code = run { "--rm", "--network", "none", "--image", "app", "-w", "/data", "-u", "0",
      "-e", "GREETING=yo", "sh", "-c", "echo $GREETING $PWD $(id -u) $HOME" }
    assert.equal(0, code, err)
    assert.equal("yo /data 0 /root\n", out)
    assert.same({}, layers())
  end)

  H.it_priv("an OCI image layout: the image for this platform, gzip'd layers shared by digest", function()
    local tars = two_layers()
    local saved = docker_save("first", tars, { Cmd = { "true" } })
    local _, err, code = wbl("images.lua", { "import", saved })
    assert.equal(0, code, err)
    local oci = oci_layout("oci", tars, { Entrypoint = { "echo", "entry" }, Cmd = { "default" } })
    local out
    out, err, code = wbl("images.lua", { "import", oci })
    assert.equal(0, code, err)
    assert.equal("oci\n", out)
    -- the same layers (by diff_id): two directories for two images
    assert.same(image_dirs("first"), image_dirs("oci"))
    assert.equal(2, #store_layers())
    -- Entrypoint + Cmd as docker combines them
    out, err, code = run { "--rm", "--network", "none", "--image", "oci" }
    assert.equal(0, code, err)
    assert.equal("entry default\n", out)
    out, err, code = run { "--rm", "--network", "none", "--image", "oci", "given" }
    assert.equal(0, code, err)
    assert.equal("entry given\n", out)
    out, err, code = run { "--rm", "--network", "none", "--image", "oci", "--entrypoint", "echo" }
    assert.equal(0, code, err)
    assert.equal("\n", out) -- a new entrypoint drops the image's Cmd
    out, err, code = run { "--rm", "--network", "none", "--image", "oci", "--entrypoint", "", "sh", "-c",
      "cat /srv/hello; ls /data" }
    assert.equal(0, code, err)
    assert.equal("hello\nnew\n", out)
    -- an image with neither: the command is missing, 125 says so
    _, err, code = run { "--rm", "--network", "none", "--image", "first", "--entrypoint", "" }
    assert.equal(125, code)
    assert.matches("no command given (and the image has no Cmd nor Entrypoint)", err, 1, true)
    -- removing one image keeps the layers the other lists
    _, err, code = wbl("images.lua", { "rm", "first" })
    assert.equal(0, code, err)
    assert.equal(2, #store_layers())
    _, err, code = wbl("images.lua", { "rm", "oci" })
    assert.equal(0, code, err)
    assert.same({}, store_layers())
  end)

  H.it_priv("archives that are no image wbl can run are refused, clearly, leaving nothing", function()
    local tars = two_layers()
    local cases = {
      { docker_save("liar", tars, {}, { diff_ids = { nil, ("ab"):rep(32) } }), "layer 2 does not match its diff_id" },
      { docker_save("arm", tars, {}, { arch = "arm64-elsewhere" }), "an image for arm64-elsewhere; this machine is" },
    }
    -- blobs without an index: an archive of no format wbl reads
    local odd = work .. "/odd.d"
    assert(fs.mkdir_p(odd .. "/blobs/sha256"))
    assert(fs.write_file(odd .. "/blobs/sha256/x", "x"))
    sh_ok(("tar -C %s -cf %s/odd.tar ."):format(H.q(odd), H.q(work)))
    cases[#cases + 1] = { work .. "/odd.tar", "an image archive wbl cannot read (blobs" }
    -- a root whose files sit one directory down
    sh_ok(("tar -C %s -cf %s/nested.tar busybox"):format(H.q(H.rootfs .. "/.."), H.q(work)))
    cases[#cases + 1] = { work .. "/nested.tar", "not a root file system: its files are under busybox/" }
    for _, c in ipairs(cases) do
      local _, err, code = run { "--rm", "--network", "none", "--image", c[1], "true" }
      assert.equal(125, code, c[1])
      assert.matches(c[2], err, 1, true)
      assert.matches("image " .. c[1] .. ": import " .. c[1] .. ": ", err, 1, true)
    end
    assert.same({}, fs.readdir(store .. "/images"))
    assert.same({}, store_layers())
    assert.same({}, fs.readdir(store .. "/tmp"))
  end)

  H.it_priv("commit of an archive's container: its layers and one more, the config kept", function()
    local file = docker_save("cfg", two_layers(), { Cmd = { "sh", "-c", "ls /srv" } })
    local name = H.name("cc")
    local _, err, code = run { "--name", name, "--network", "none", "--image", file, "sh", "-c",
      "rm /srv/hello; echo mine > /srv/mine; rm -r /data; mkdir /data; echo fresh > /data/fresh" }
    assert.equal(0, code, err)
    _, err, code = wbl("commit.lua", { name, "cfg2" })
    assert.equal(0, code, err)
    local base, dirs = image_dirs("cfg"), image_dirs("cfg2")
    assert.same(base, { dirs[1], dirs[2] })
    assert.equal(3, #dirs)
    -- the upper dir as it was: a whiteout, an opaque directory, no overlayfs bookkeeping
    local wh = assert(fs.lstat(dirs[3] .. "/srv/hello"))
    assert.same({ "char", 0, 0 }, { wh.type, wh.rdev_major, wh.rdev_minor })
    assert.equal("y", core.fs.getxattr(dirs[3] .. "/data", "trusted.overlay.opaque"))
    for _, x in ipairs(core.fs.listxattr(dirs[3] .. "/srv")) do assert.not_equal("trusted.overlay.origin", x) end
    local out
    out, err, code = run { "--rm", "--network", "none", "--image", "cfg2" } -- the image's Cmd
    assert.equal(0, code, err)
    assert.equal("mine\n", out)
    out, err, code = run { "--rm", "--network", "none", "--image", "cfg2", "ls", "/data" }
    assert.equal(0, code, err)
    assert.equal("fresh\n", out)
    -- a container of the default root: that root is copied in as a layer
    local plain = H.name("plain")
    _, err, code = run { "--name", plain, "--network", "none", "sh", "-c", "echo p > /p" }
    assert.equal(0, code, err)
    _, err, code = wbl("commit.lua", { plain, "plain" })
    assert.equal(0, code, err)
    dirs = image_dirs("plain")
    assert.equal(2, #dirs)
    assert.truthy(fs.stat(dirs[1] .. "/bin/busybox"))
    assert.equal("p\n", fs.read_file(dirs[2] .. "/p"))
    for _, n in ipairs { name, plain } do
      _, err, code = wbl("images.lua", { "rm-layer", n })
      assert.equal(0, code, err)
    end
  end)

  H.it_priv("an image in use is not removed: refused naming the container; forced, its files stay", function()
    local _, err, code = wbl("images.lua", { "import", tarball("busy.tar") })
    assert.equal(0, code, err)
    local sig = work .. "/sig"
    assert(fs.mkdir(sig, "0755"))
    -- a container that waits for /sig/go, then looks at its root
    local name = H.name("user")
    local r, w = assert(core.fd.pipe())
    local pid = assert(core.proc.fork())
    if pid == 0 then
      pcall(function()
        w:dup2(1)
        core.proc.execvp("env", { "env", "WBL_STORE=" .. store, H.wbl, H.top .. "/scripts/run.lua",
          "--name", name, "--network", "none", "--image", "busy", "-v", sig .. ":/sig", "sh", "-c",
          "echo ready; while [ ! -e /sig/go ]; do sleep 0.05; done; ls /bin | wc -l; busybox true && echo runs" })
      end)
      core.proc._exit(127)
    end
    w:close()
    local job = { pid = pid, out = r }
    assert.equal("ready", H.read_line(job))
    local dirs = image_dirs("busy")
    -- refused, naming the container and that it runs
    local out
    out, err, code = wbl("images.lua", { "rm", "busy" })
    assert.equal(125, code)
    assert.equal("", out)
    assert.matches(('rm busy: image "busy" is used by container %s (running): remove the container first ' ..
      "(wbl rm -f %s), or force it"):format(name, name), err, 1, true)
    assert.truthy(record("busy"))
    -- forced: the name goes, the layer stays (the running root keeps its files)
    out, err, code = wbl("images.lua", { "rm", "-f", "busy" })
    assert.equal(0, code, err)
    assert.equal("busy\n", out)
    assert.is_nil(record("busy"))
    assert.truthy(fs.stat(dirs[1] .. "/bin/busybox"))
    _, err, code = run { "--rm", "--image", "busy", "true" }
    assert.equal(125, code)
    assert.matches('no image "busy"', err, 1, true)
    assert(fs.write_file(sig .. "/go", ""))
    local n = tonumber(H.read_line(job))
    assert.is_true(n > 50, tostring(n)) -- busybox's applets, still there
    assert.equal("runs", H.read_line(job))
    assert.equal(0, H.wait(job))
    -- stopped and kept: its layer still lists the image's; that goes with the container
    assert.truthy(fs.stat(dirs[1] .. "/bin/busybox"))
    _, err, code = wbl("rm.lua", { name })
    assert.equal(0, code, err)
    assert.same({}, layers())
    assert.same({}, store_layers())
    -- a stopped container counts too (docker: "must force")
    _, err, code = wbl("images.lua", { "import", work .. "/busy.tar", "busy2" })
    assert.equal(0, code, err)
    local kept = H.name("kept")
    _, err, code = run { "--name", kept, "--network", "none", "--image", "busy2", "true" }
    assert.equal(0, code, err)
    _, err, code = wbl("images.lua", { "rm", "busy2" })
    assert.equal(125, code)
    assert.matches(("used by container %s (stopped)"):format(kept), err, 1, true)
    _, err, code = wbl("images.lua", { "rm-layer", kept })
    assert.equal(0, code, err)
    _, err, code = wbl("images.lua", { "rm", "busy2" })
    assert.equal(0, code, err)
    assert.same({}, store_layers())
  end)

  H.it_priv("--image FILE under a name another file took: refused, suggesting a name of its own", function()
    local a, b, c = work .. "/a", work .. "/b", work .. "/c"
    for _, d in ipairs { a, b, c } do assert(fs.mkdir(d, "0755")) end
    local first = tarball("a/debian.tar")
    local other = rootfs_copy("other")
    assert(fs.write_file(other .. "/etc/motd", "the other one\n"))
    local second = tarball("b/debian.tar", other)
    local _, err, code = run { "--rm", "--network", "none", "--image", first, "true" }
    assert.equal(0, code, err)
    _, err, code = run { "--rm", "--network", "none", "--image", second, "cat", "/etc/motd" }
    assert.equal(125, code)
    assert.matches(('image "debian" exists, imported from %s; %s is another file: import it under a name ' ..
      "of its own (wbl scripts/images.lua import %s NAME), then use --image NAME"):format(first, second, second),
      err, 1, true)
    assert.not_matches("rm debian", err, 1, true) -- never the advice to delete the other image
    local out
    _, err, code = wbl("images.lua", { "import", second, "debian2" })
    assert.equal(0, code, err)
    out, err, code = run { "--rm", "--network", "none", "--image", "debian2", "cat", "/etc/motd" }
    assert.equal(0, code, err)
    assert.equal("the other one\n", out)
    -- the same content under another path (a copy, another mtime): the image there
    assert.equal(0, select(3, H.sh(("sleep 1; cp %s %s/debian.tar"):format(H.q(first), H.q(c)))))
    out, err, code = run { "--rm", "--network", "none", "--image", c .. "/debian.tar", "sh", "-c", "echo same" }
    assert.equal(0, code, err)
    assert.equal("same\n", out)
    local names = fs.readdir(store .. "/images")
    table.sort(names)
    assert.same({ "debian", "debian2" }, names)
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
