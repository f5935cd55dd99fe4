--- Images and write layers: the store on the host.
--
--   $WBL_STORE (default /var/lib/wbl)
--     images/NAME/rootfs        an image: a root file system, read-only from then on
--     images/NAME/image.lua     where it came from (tarball, size, mtime; or a commit)
--     containers/ID/upper       the container's writes (overlayfs upper dir)
--     containers/ID/work        overlayfs's work dir (same file system as upper)
--     containers/ID/root        where the merged root is mounted, inside the
--                               container's mount namespace only
--     containers/ID/layer.lua   the lower layers, the image, --rm
--     tmp/                      imports and commits in progress
--     lock                      flock'ed while the store changes
--
-- A tarball (what `docker export` writes) is extracted once by the host's
-- tar into tmp/ and renamed into images/: an image is complete or absent.
-- Every function returns a value (or true), or nil, message, errno.
local core = require "wbl.core"
local util = require "wbl.util"
local config = require "wbl.config"
local fs, P, E = core.fs, core.proc, core.errno

local M = {}

--- The store's root: WBL_STORE, or /var/lib/wbl.
function M.root()
  return config.store()
end

local function path(...)
  local p = M.root()
  for _, s in ipairs { ... } do p = util.join(p, s) end
  return p
end

--- Is s a tarball (rather than an image name)?
function M.is_tarball(s)
  return s:find("/", 1, true) ~= nil or s:match("%.tar$") ~= nil
    or s:match("%.tar%.%w+$") ~= nil or s:match("%.tgz$") ~= nil
end

--- The image name a tarball gets: its file name without .tar[.gz...].
function M.name_of(file)
  local base = file:match("([^/]*)$")
  return (base:gsub("%.tgz$", ""):gsub("%.tar%.%w+$", ""):gsub("%.tar$", ""))
end

--- Image names: what --name allows.
function M.check_name(name)
  if type(name) ~= "string" or #name > 64 or not name:match("^[%w][%w_%.%-]*$") then
    return nil, ("bad image name %q: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64"):format(tostring(name)),
      E.EINVAL
  end
  return name
end

local function mkdirs()
  for _, d in ipairs { "images", "containers", "tmp" } do
    local ok, msg, en = fs.mkdir_p(path(d), "0700")
    if not ok then return nil, msg, en end
  end
  return true
end

--- Hold the store's lock while fn runs (imports, commits, removals).
local function locked(fn)
  local ok, msg, en = mkdirs()
  if not ok then return nil, msg, en end
  return util.locked(path("lock"), fn)
end

--- A fresh directory under tmp/ (removed by the caller).
local function tmpdir(what)
  for _ = 1, 10 do
    local d = path("tmp", what .. "." .. util.random_hex(6))
    local ok, msg, en = fs.mkdir(d, "0700")
    if ok then return d end
    if en ~= E.EEXIST then return nil, msg, en end
  end
  return nil, "mkdir in " .. path("tmp") .. ": no free name", E.EEXIST
end

--- Run a host program (wbl.util.run): true, or nil, its message.
M.run_tool = util.run

local function read_meta(file)
  local s, msg, en = fs.read_file(file)
  if not s then return nil, msg, en end
  local t, err = util.unserialise(s, file)
  if not t then return nil, err, E.EINVAL end
  return t
end

--- An image's record, or nil, message, ENOENT.
function M.get(name)
  local ok, msg, en = M.check_name(name)
  if not ok then return nil, msg, en end
  local meta = read_meta(path("images", name, "image.lua"))
  if not meta then
    return nil, ("no image %q in %s"):format(name, path("images")), E.ENOENT
  end
  meta.rootfs = path("images", name, "rootfs")
  return meta
end

--- Every image: a list of records, sorted by name.
function M.list()
  local out = {}
  local names = fs.readdir(path("images")) or {}
  table.sort(names)
  for _, n in ipairs(names) do
    local m = M.get(n)
    if m then out[#out + 1] = m end
  end
  return out
end

local function source_of(file)
  local st, msg, en = fs.stat(file)
  if not st then return nil, msg, en end
  if st.type ~= "file" then return nil, file .. ": not a regular file", E.EINVAL end
  local real
  real, msg, en = fs.realpath(file)
  if not real then return nil, msg, en end
  return { source = real, size = st.size, mtime = st.mtime }
end

-- A plain tar ends with two zero blocks (POSIX; docker export writes
-- them).  tar itself does not notice an archive cut between two members.
local function check_trailer(file)
  local f, msg, en = io.open(file, "rb")
  if not f then return nil, msg, en end
  local head = f:read(262)
  local size = f:seek("end")
  local tail = size >= 1024 and f:seek("end", -1024) and f:read(1024)
  f:close()
  local plain = head and #head == 262 and head:sub(258, 262) == "ustar"
  if plain and (not tail or tail:find("[^%z]")) then
    return nil, ("import %s: the archive is cut short (no end-of-archive blocks)"):format(file), E.EINVAL
  end
  return true
end

-- Put the root file system in dir (tmp/X/rootfs) into images/NAME.
local function publish(dir, name, meta)
  meta.name = name
  meta.created = os.time()
  local ok, msg, en = fs.write_file(dir .. "/image.lua", util.serialise(meta), nil, "0600")
  if not ok then return nil, msg, en end
  ok, msg, en = fs.rename(dir, path("images", name))
  if not ok and (en == E.EEXIST or en == E.ENOTEMPTY) then
    return nil, ("image %q exists (remove it first: wbl scripts/images.lua rm %s)"):format(name, name),
      E.EEXIST
  end
  if not ok then return nil, msg, en end
  return M.get(name)
end

--- Import a tarball as image name (default: the file's name).  Once:
-- the same file (path, size, mtime) again gives the image already there;
-- another file under a taken name is refused.
-- @return the image's record
function M.import(file, name)
  name = name or M.name_of(file)
  local ok, msg, en = M.check_name(name)
  if not ok then return nil, msg, en end
  local src
  src, msg, en = source_of(file)
  if not src then return nil, "import: " .. msg, en end
  return locked(function()
    local have = M.get(name)
    if have then
      if have.source == src.source and have.size == src.size and have.mtime == src.mtime then
        return have
      end
      return nil, ("image %q exists, imported from %s (remove it first: wbl scripts/images.lua rm %s)")
        :format(name, tostring(have.source or have.from), name), E.EEXIST
    end
    local dir
    dir, msg, en = tmpdir("import")
    if not dir then return nil, msg, en end
    local root = dir .. "/rootfs"
    local r = table.pack(check_trailer(src.source))
    if r[1] then r = table.pack(fs.mkdir(root, "0755")) end
    if r[1] then
      r = table.pack(M.run_tool { "tar", "--numeric-owner", "-xpf", src.source, "-C", root })
      if not r[1] then r[2] = "import " .. src.source .. ": " .. r[2] end
    end
    if r[1] then
      local names = fs.readdir(root) or {}
      if #names == 0 then r = { nil, "import " .. src.source .. ": the archive holds no files", E.EINVAL } end
    end
    if r[1] then r = table.pack(publish(dir, name, src)) end
    if not r[1] then util.rm_rf(dir) end
    return table.unpack(r, 1, 3)
  end)
end

--- Remove an image (containers' kept layers that use it stop working).
function M.remove(name)
  local img, msg, en = M.get(name)
  if not img then return nil, msg, en end
  return locked(function()
    -- Renamed away first: an image is complete or absent.
    local dir
    dir, msg, en = tmpdir("remove")
    if not dir then return nil, msg, en end
    local ok
    ok, msg, en = fs.rename(path("images", name), dir .. "/image")
    if not ok then util.rm_rf(dir); return nil, msg, en end
    return util.rm_rf(dir)
  end)
end

--- The lower layers (top first) of a spec: its image (s.wbl.image: a
-- store name, or a tarball imported once), which then becomes root.path;
-- else root.path, a directory used in place.
-- @return layers
function M.lowers(s)
  if s.wbl.image then
    local img, msg, en
    if M.is_tarball(s.wbl.image) then
      img, msg, en = M.import(s.wbl.image)
    else
      img, msg, en = M.get(s.wbl.image)
    end
    if not img then return nil, msg, en end
    s.root.path = img.rootfs
    return { img.rootfs }
  end
  local dir = s.root.path
  local st, msg, en = fs.stat(dir)
  if not st then return nil, msg, en end
  if st.type ~= "directory" then return nil, dir .. ": not a directory", E.ENOTDIR end
  return { fs.realpath(dir) }
end

-- Write layers ------------------------------------------------------------

--- A container's layer directory.
function M.layer_dir(id)
  return path("containers", id)
end

--- Make the container's write layer: upper, work and root under
-- containers/ID, and record it.  With c.spec.wbl.rm it goes at teardown.
-- Sets c.layer, c.upper, c.work and c.root (the merged root's mount point).
function M.create_layer(c)
  -- an OCI bundle's root is used in place (its caller made it): no layer
  if c.spec.wbl.in_place then c.root = c.lowers[1]; return true end
  local rm = c.spec.wbl.rm or false
  if c.layer and util.isdir(c.layer .. "/upper") then return true end -- started again: the same layer
  local ok, msg, en = mkdirs()
  if not ok then return nil, msg, en end
  local dir = M.layer_dir(c.id)
  ok, msg, en = fs.mkdir(dir, "0700")
  if not ok then
    if en == E.EEXIST then
      msg = ("a layer named %q is kept in %s (remove it: wbl scripts/images.lua rm-layer %s)")
        :format(c.id, dir, c.id)
    end
    return nil, msg, en
  end
  c.layer = dir -- made: the teardown removes it (with --rm)
  for _, d in ipairs { "upper", "work", "root" } do
    ok, msg, en = fs.mkdir(dir .. "/" .. d, "0755")
    if not ok then return nil, msg, en end
  end
  c.layer, c.upper, c.work, c.root = dir, dir .. "/upper", dir .. "/work", dir .. "/root"
  return fs.write_file(dir .. "/layer.lua", util.serialise {
    id = c.id, lowers = c.lowers, image = c.spec.wbl.image or c.spec.root.path, rm = rm, created = os.time(),
  }, nil, "0600")
end

--- A kept layer's record (id, lowers, image, created, dir).
function M.get_layer(id)
  local ok, msg, en = M.check_name(id)
  if not ok then return nil, msg, en end
  local dir = M.layer_dir(id)
  local meta = read_meta(dir .. "/layer.lua")
  if not meta then return nil, ("no layer %q in %s"):format(id, path("containers")), E.ENOENT end
  meta.dir, meta.upper = dir, dir .. "/upper"
  return meta
end

--- Is a container of that id running (its state says its wbl lives)?
function M.in_use(id)
  local state = require "wbl.state"
  local st = state.load(id)
  return st ~= nil and state.alive(st)
end

--- Every layer in the store, sorted by id, with .running set.
function M.layers()
  local out = {}
  local names = fs.readdir(path("containers")) or {}
  table.sort(names)
  for _, n in ipairs(names) do
    local l = M.get_layer(n)
    if l then
      l.running = M.in_use(n)
      out[#out + 1] = l
    end
  end
  return out
end

--- Remove a container's layer (not while it runs).
function M.remove_layer(id)
  local l, msg, en = M.get_layer(id)
  if not l then return nil, msg, en end
  if M.in_use(id) then return nil, ("container %q is running"):format(id), E.EBUSY end
  return util.rm_rf(l.dir)
end

--- Save a stopped container's root (its image and its writes, deletions
-- included: a whiteout in upper hides the file below) as image name.
-- The upper dir goes on top of the image's layers in a read-only overlay,
-- mounted in a child's private mount namespace, and cp -a copies the
-- merged view: what the container saw, as one new layer.
function M.commit(id, name)
  local ok, msg, en = M.check_name(name)
  if not ok then return nil, msg, en end
  local l
  l, msg, en = M.get_layer(id)
  if not l then return nil, msg, en end
  if M.in_use(id) then return nil, ("container %q is running: stop it first"):format(id), E.EBUSY end
  local lowers = { l.upper }
  for _, d in ipairs(l.lowers) do lowers[#lowers + 1] = d end
  return locked(function()
    if M.get(name) then
      return nil, ("image %q exists (remove it first: wbl scripts/images.lua rm %s)"):format(name, name),
        E.EEXIST
    end
    local dir
    dir, msg, en = tmpdir("commit")
    if not dir then return nil, msg, en end
    local merged, root = dir .. "/merged", dir .. "/rootfs"
    local r = table.pack(fs.mkdir(merged, "0755"))
    if r[1] then r = table.pack(fs.mkdir(root, "0755")) end
    if r[1] then r = table.pack(M.copy_merged(lowers, merged, root)) end
    if r[1] then
      fs.rmdir(merged)
      r = table.pack(publish(dir, name, { from = id, image = l.image, lowers = l.lowers }))
    end
    if not r[1] then util.rm_rf(dir) end
    return table.unpack(r, 1, 3)
  end)
end

--- cp -a the read-only overlay of lowers into dest, the overlay mounted
-- on merged in a child's own mount namespace (gone when the child is).
function M.copy_merged(lowers, merged, dest)
  io.stdout:flush()
  io.stderr:flush()
  local r, w, en0 = core.fd.pipe()
  if not r then return nil, w, en0 end
  local pid, msg, en = P.clone("mnt")
  if not pid then return nil, msg, en end
  if pid == 0 then
    r:close()
    local function fail(m) w:write(tostring(m)); P._exit(1) end
    local ok, m = core.mount.mount(nil, "/", nil, "rec,private")
    if not ok then fail(m) end
    ok, m = core.overlay.mount(lowers, nil, nil, merged, "ro")
    if not ok then fail(m) end
    ok, m = M.run_tool { "cp", "-a", merged .. "/.", dest }
    if not ok then fail(m) end
    P._exit(0)
  end
  w:close()
  local said = r:read(65536) or ""
  r:close()
  local _, how, code = P.waitpid(pid)
  if how == "exited" and code == 0 then return true end
  return nil, "commit: " .. (said ~= "" and said or (how .. " " .. tostring(code))), E.EIO
end

return M
