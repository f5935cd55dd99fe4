--- Images and write layers: the store on the host.
--
--   $WBL_STORE (default /var/lib/wbl)
--     images/NAME/image.lua     an image: its id, its layers (bottom first),
--                               its config (Env, Cmd, Entrypoint, WorkingDir,
--                               User, ExposedPorts), where it came from
--     images/NAME/rootfs        an image of the store's first format (one
--                               flat root, no layers): still read
--     layers/ID/                a layer: a directory tree whose deletions are
--                               overlayfs's (a 0/0 character device hides a
--                               name below, trusted.overlay.opaque=y a whole
--                               directory); read-only once made.  ID: the
--                               sha256 of its tar (docker's diff_id) for an
--                               image archive's layers, of the file for a root
--                               tarball, random for what a commit adds.  Images
--                               share layers; a layer goes when no image and no
--                               container lists it (M.gc)
--     containers/ID/upper       the container's writes (overlayfs upper dir)
--     containers/ID/work        overlayfs's work dir (same file system as upper)
--     containers/ID/root        where the merged root is mounted, inside the
--                               container's mount namespace only
--     containers/ID/layer.lua   the lower layers, the image (name, id, config), --rm
--     tmp/                      imports, commits and removals in progress
--     lock                      flock'ed while the store changes
--
-- A tarball is one of: a root file system (`docker export`, tar of a
-- directory), extracted once as the image's only layer; a `docker save`
-- archive (manifest.json); an OCI image layout (oci-layout, index.json).
-- The last two are images of many layers: each layer (tar, maybe gzip or
-- zstd) is checked against its digest, extracted once, and its whiteouts
-- (.wh.NAME, .wh..wh..opq) become overlayfs's; the image's config gives
-- the container its defaults (wbl.docker).  Everything is made in tmp/ and
-- renamed into place: an image or a layer is complete or absent.
-- Every function returns a value (or true), or nil, message, errno.
local core = require "wbl.core"
local util = require "wbl.util"
local config = require "wbl.config"
local fs, E = core.fs, core.errno

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

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

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
  for _, d in ipairs { "images", "layers", "containers", "tmp" } do
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

--- A layer's directory in the store.
function M.layer_path(id) return path("layers", id) end

--- An image's record, or nil, message, ENOENT.  .lowers: its layers'
-- directories, top first (what overlayfs takes).
function M.get(name)
  local ok, msg, en = M.check_name(name)
  if not ok then return nil, msg, en end
  local meta = read_meta(path("images", name, "image.lua"))
  if not meta then
    return nil, ("no image %q in %s"):format(name, path("images")), E.ENOENT
  end
  meta.name = name
  meta.config = meta.config or {}
  if meta.layers then
    meta.lowers = {}
    for i = #meta.layers, 1, -1 do meta.lowers[#meta.lowers + 1] = M.layer_path(meta.layers[i]) end
  else -- the store's first format: one flat root in the image's directory
    meta.lowers = { path("images", name, "rootfs") }
  end
  meta.rootfs = meta.lowers[1]
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

-- The program that decompresses file (by its first bytes), or nil for a
-- plain tar; nil, message for a compression wbl does not take.
local function decompressor(file)
  local f, msg, en = io.open(file, "rb")
  if not f then return nil, msg, en end
  local magic = f:read(6) or ""
  f:close()
  if magic:sub(1, 2) == "\31\139" then return "gzip" end
  if magic:sub(1, 4) == "\40\181\47\253" then return "zstd" end
  if magic:sub(1, 3) == "BZh" or magic == "\253" .. "7zXZ\0" then
    return nil, "compressed with bzip2 or xz: wbl takes plain, gzip or zstd tars", E.EINVAL
  end
  return false
end

-- The sha256 (64 hex digits) of a file, or of its decompressed stream.
local function sha256(file)
  local unzip, msg, en = decompressor(file)
  if unzip == nil then return nil, file .. ": " .. msg, en end
  local cmd = unzip and ("%s -dc < %s | sha256sum"):format(unzip, q(file)) or ("sha256sum < %s"):format(q(file))
  local p = io.popen(cmd .. " 2>&1")
  local out = p and p:read("a") or ""
  if p then p:close() end
  local hex = out:match("^(%x+)%s")
  if not hex or #hex ~= 64 then
    return nil, ("sha256 of %s: %s"):format(file, (out:gsub("\n$", ""))), E.EIO
  end
  return hex
end
M.sha256 = sha256

-- Write an image record and rename it into images/NAME.
local function publish(name, meta)
  local dir, msg, en = tmpdir("image")
  if not dir then return nil, msg, en end
  meta.name = name
  meta.id = meta.id or util.random_hex(32)
  meta.created = os.time()
  local ok
  ok, msg, en = fs.write_file(dir .. "/image.lua", util.serialise(meta), nil, "0600")
  if ok then ok, msg, en = fs.rename(dir, path("images", name)) end
  if not ok then
    util.rm_rf(dir)
    if en == E.EEXIST or en == E.ENOTEMPTY then
      return nil, ("image %q exists (remove it first: wbl scripts/images.lua rm %s)"):format(name, name),
        E.EEXIST
    end
    return nil, msg, en
  end
  return M.get(name)
end

-- Layers ------------------------------------------------------------------

-- An overlayfs attribute (opaque, ...) as trusted.overlay.NAME, what the
-- host's overlays read, and as user.overlay.NAME, what one mounted in a
-- user namespace reads (userxattr: wbl.userns); the second where the
-- file system takes user xattrs (tmpfs: Linux 6.6).
local function set_overlay_xattr(p, name, v)
  local ok, msg, en = fs.setxattr(p, "trusted.overlay." .. name, v)
  if not ok then return nil, msg, en end
  ok, msg, en = fs.setxattr(p, "user.overlay." .. name, v)
  if not ok and en ~= E.EOPNOTSUPP then return nil, msg, en end
  return true
end

-- Turn an image layer's whiteouts into overlayfs's, in dir and below:
-- .wh..wh..opq makes its directory opaque (nothing below shows through),
-- .wh.NAME becomes a 0/0 character device NAME (NAME below is hidden);
-- other .wh..wh.* entries (aufs's bookkeeping) are dropped.
local function whiteouts(dir)
  local names, msg, en = fs.readdir(dir)
  if not names then return nil, msg, en end
  table.sort(names)
  for _, n in ipairs(names) do
    local p, ok = dir .. "/" .. n, true
    if n == ".wh..wh..opq" then
      ok, msg, en = fs.unlink(p)
      if ok then ok, msg, en = set_overlay_xattr(dir, "opaque", "y") end
    elseif n:sub(1, 8) == ".wh..wh." then
      ok, msg, en = util.rm_rf(p)
    elseif n:sub(1, 4) == ".wh." and #n > 4 then
      local target = dir .. "/" .. n:sub(5)
      ok, msg, en = fs.unlink(p)
      if ok then ok, msg, en = util.rm_rf(target) end
      if ok then ok, msg, en = fs.mknod(target, "c", 0, 0, 0) end
    else
      local st = fs.lstat(p)
      if st and st.type == "directory" then ok, msg, en = whiteouts(p) end
    end
    if not ok then return nil, msg, en end
  end
  return true
end
M.whiteouts = whiteouts

-- Extract a layer's tar into layers/ID (in tmp first): nothing to do when
-- the store has it already (another image brought it).
local function add_layer(id, tarfile, work, convert)
  local final = M.layer_path(id)
  if util.isdir(final) then return true end
  local dir = work .. "/layer." .. id
  local ok, msg, en = fs.mkdir(dir, "0755")
  if ok then
    ok, msg, en = M.run_tool { "tar", "--numeric-owner", "-xpf", tarfile, "-C", dir }
  end
  if ok and convert then ok, msg, en = whiteouts(dir) end
  if ok then ok, msg, en = fs.rename(dir, final) end
  if not ok then util.rm_rf(dir) end
  return ok, msg, en
end

-- Image archives ----------------------------------------------------------

local function read_json(file)
  local s, msg, en = fs.read_file(file)
  if not s then return nil, msg, en end
  local v, _, err = require("dkjson").decode(s, 1, nil)
  if type(v) ~= "table" then
    return nil, ("%s: not JSON (%s)"):format(file:match("[^/]*$"), tostring(err or "not an object")), E.EINVAL
  end
  return v
end

-- A path inside the archive (no absolute path, no ..).
local function inside(root, rel)
  if type(rel) ~= "string" or rel == "" or rel:sub(1, 1) == "/" then return nil end
  for part in rel:gmatch("[^/]+") do
    if part == ".." then return nil end
  end
  return root .. "/" .. rel
end

-- The file of an OCI blob "sha256:HEX", checked against its digest.
local function blob(root, digest)
  local hex = type(digest) == "string" and digest:match("^sha256:(%x+)$")
  if not hex or #hex ~= 64 then return nil, ("unsupported digest %s"):format(tostring(digest)), E.EINVAL end
  local file = root .. "/blobs/sha256/" .. hex
  if not fs.stat(file) then return nil, ("blob %s is missing"):format(digest), E.ENOENT end
  return file, hex
end

-- The JSON of a blob (a manifest, an index, a config), digest checked.
local function json_blob(root, digest)
  local file, hex = blob(root, digest)
  if not file then return nil, hex, E.EINVAL end
  local got, msg, en = sha256(file)
  if not got then return nil, msg, en end
  if got ~= hex then return nil, ("blob %s does not match its digest (a corrupt archive)"):format(digest), E.EINVAL end
  return read_json(file)
end

-- The host's platform, as image configs name it (GOARCH).
local function host_arch()
  local arch = core.seccomp.native()
  return ({ SCMP_ARCH_X86_64 = "amd64", SCMP_ARCH_AARCH64 = "arm64", SCMP_ARCH_X86 = "386",
    SCMP_ARCH_ARM = "arm", SCMP_ARCH_PPC64LE = "ppc64le", SCMP_ARCH_S390X = "s390x",
    SCMP_ARCH_RISCV64 = "riscv64" })[arch] or arch
end
M.host_arch = host_arch

local index_types = {
  ["application/vnd.oci.image.index.v1+json"] = true,
  ["application/vnd.docker.distribution.manifest.list.v2+json"] = true,
}

-- OCI: the image manifest for this host in an index (nested indexes
-- followed; attestations, platform unknown, skipped).
local function oci_manifest(root, index, depth)
  if depth > 4 then return nil, "index.json: indexes nested too deep", E.ELOOP end
  local mine, others = {}, {}
  for _, m in ipairs(type(index.manifests) == "table" and index.manifests or {}) do
    local p = type(m.platform) == "table" and m.platform or nil
    local attestation = p and (p.os == "unknown" or p.architecture == "unknown") -- no image
    if p and not attestation and (p.os ~= "linux" or p.architecture ~= host_arch()) then
      others[#others + 1] = tostring(p.os) .. "/" .. tostring(p.architecture)
    elseif not attestation then
      mine[#mine + 1] = m
    end
  end
  if #mine == 0 then
    return nil, ("no image for linux/%s in the archive%s"):format(host_arch(),
      #others > 0 and (" (it has " .. table.concat(others, ", ") .. ")") or ""), E.EINVAL
  end
  if #mine > 1 then
    local names = {}
    for _, m in ipairs(mine) do
      local a = type(m.annotations) == "table" and m.annotations["org.opencontainers.image.ref.name"]
      names[#names + 1] = tostring(a or m.digest)
    end
    return nil, ("the archive holds %d images (%s): save one image per archive"):format(#mine,
      table.concat(names, ", ")), E.EINVAL
  end
  local doc, msg, en = json_blob(root, mine[1].digest)
  if not doc then return nil, msg, en end
  if index_types[mine[1].mediaType] or index_types[doc.mediaType] or (doc.manifests and not doc.layers) then
    return oci_manifest(root, doc, depth + 1)
  end
  return doc
end

local config_types = {
  ["application/vnd.oci.image.config.v1+json"] = true,
  ["application/vnd.docker.container.image.v1+json"] = true,
}

-- What a container takes from an image's config (docker's fields).
local function image_config(cfg)
  local c = type(cfg.config) == "table" and cfg.config or {}
  local out = {}
  for _, k in ipairs { "Env", "Cmd", "Entrypoint" } do
    if type(c[k]) == "table" then
      local list = {}
      for _, v in ipairs(c[k]) do list[#list + 1] = tostring(v) end
      out[k] = list
    end
  end
  if type(c.WorkingDir) == "string" and c.WorkingDir ~= "" then out.WorkingDir = c.WorkingDir end
  if type(c.User) == "string" and c.User ~= "" then out.User = c.User end
  if type(c.ExposedPorts) == "table" then
    local ports = {}
    for k in pairs(c.ExposedPorts) do
      if type(k) == "string" and k:match("^%d+/?%a*$") then ports[#ports + 1] = k end
    end
    table.sort(ports)
    if #ports > 0 then out.ExposedPorts = ports end
  end
  return out
end

-- An archive's image: { config = (the config JSON), layers = { { file =, digest = }, ... } }
-- (bottom first), from an OCI layout or a `docker save` archive.
local function read_archive(root, kind)
  local cfg, layers, msg, en
  layers = {}
  if kind == "oci" then
    local index
    index, msg, en = read_json(root .. "/index.json")
    if not index then return nil, msg, en end
    local man
    man, msg, en = oci_manifest(root, index, 0)
    if not man then return nil, msg, en end
    if type(man.config) ~= "table" or type(man.layers) ~= "table" then
      return nil, "the manifest has no config or no layers: not an image", E.EINVAL
    end
    if man.config.mediaType and not config_types[man.config.mediaType] then
      return nil, ("not a container image (its config is %s)"):format(man.config.mediaType), E.EINVAL
    end
    cfg, msg, en = json_blob(root, man.config.digest)
    if not cfg then return nil, "config: " .. msg, en end
    for i, l in ipairs(man.layers) do
      local mt = tostring(l.mediaType)
      if not mt:match("%.tar$") and not mt:match("%.tar%+gzip$") and not mt:match("%.tar%+zstd$")
        and not mt:match("%.tar%.gzip$") then
        return nil, ("layer %d is %s, not a file system layer"):format(i, mt), E.EINVAL
      end
      local file
      file, msg = blob(root, l.digest)
      if not file then return nil, ("layer %d: %s"):format(i, msg), E.EINVAL end
      layers[i] = { file = file }
    end
  else -- docker save: manifest.json, [{ Config, RepoTags, Layers }]
    local man
    man, msg, en = read_json(root .. "/manifest.json")
    if not man then return nil, msg, en end
    if #man ~= 1 then
      return nil, ("manifest.json lists %d images: save one image per archive"):format(#man), E.EINVAL
    end
    man = man[1]
    local cfile = inside(root, man.Config)
    if not cfile or type(man.Layers) ~= "table" then
      return nil, "manifest.json: no Config or no Layers", E.EINVAL
    end
    cfg, msg, en = read_json(cfile)
    if not cfg then return nil, "config: " .. msg, en end
    local hex = man.Config:match("(%x+)%.json$") or man.Config:match("^blobs/sha256/(%x+)$")
    if hex and #hex == 64 and sha256(cfile) ~= hex then
      return nil, "the config does not match its digest (a corrupt archive)", E.EINVAL
    end
    for i, l in ipairs(man.Layers) do
      local file = inside(root, l)
      if not file or not fs.stat(file) then
        return nil, ("layer %d (%s) is missing"):format(i, tostring(l)), E.ENOENT
      end
      layers[i] = { file = file }
    end
  end
  -- The config: a Linux image for this machine, one diff_id per layer.
  if cfg.os and cfg.os ~= "linux" then return nil, ("an image for %s, not linux"):format(cfg.os), E.EINVAL end
  if cfg.architecture and cfg.architecture ~= host_arch() then
    return nil, ("an image for %s; this machine is %s"):format(cfg.architecture, host_arch()), E.EINVAL
  end
  local ids = type(cfg.rootfs) == "table" and cfg.rootfs.diff_ids
  if type(ids) ~= "table" or #ids ~= #layers then
    return nil, ("the config lists %s diff_ids for %d layers"):format(type(ids) == "table" and #ids or "no",
      #layers), E.EINVAL
  end
  for i, d in ipairs(ids) do
    local hex = type(d) == "string" and d:match("^sha256:(%x+)$")
    if not hex or #hex ~= 64 then
      return nil, ("diff_id %d: %s: not a sha256 digest"):format(i, tostring(d)), E.EINVAL
    end
    layers[i].digest = hex
  end
  return { config = cfg, layers = layers }
end

-- What kind of archive was extracted in root: "oci", "docker" or "root";
-- nil, message for an archive that is neither an image wbl can read nor a
-- root file system (exec would only say "sh: not found" later).
local function kind_of(root)
  local function has(n) return fs.lstat(root .. "/" .. n) ~= nil end
  if has("oci-layout") and has("index.json") then return "oci" end
  local man = has("manifest.json") and read_json(root .. "/manifest.json")
  if type(man) == "table" and type(man[1]) == "table" and man[1].Layers then return "docker" end
  local rooted = has("bin") or has("usr") or has("sbin") or has("lib") or has("etc")
  if not rooted then
    if has("repositories") then
      return nil, "a `docker save` archive of the first format (no manifest.json): save it again with " ..
        "a docker of 1.10 or later", E.EINVAL
    end
    for _, n in ipairs { "manifest.json", "index.json", "oci-layout", "blobs" } do
      if has(n) then
        return nil, ("an image archive wbl cannot read (%s, but no docker save manifest.json nor OCI " ..
          "oci-layout with index.json)"):format(n), E.EINVAL
      end
    end
    local names = fs.readdir(root) or {}
    if #names == 1 and fs.lstat(root .. "/" .. names[1]).type == "directory"
      and fs.lstat(root .. "/" .. names[1] .. "/bin") then
      return nil, ("not a root file system: its files are under %s/ (make it from inside the " ..
        "directory: tar -C DIR -cf FILE .)"):format(names[1]), E.EINVAL
    end
  end
  return "root"
end

-- Import the extracted archive in work/archive: the layers into the store,
-- and the image's record (layers, config) returned.
local function import_layers(work, digest)
  local root = work .. "/archive"
  local kind, msg, en = kind_of(root)
  if not kind then return nil, msg, en end
  if kind == "root" then -- one layer, the root file system itself
    local names = fs.readdir(root) or {}
    if #names == 0 then return nil, "the archive holds no files", E.EINVAL end
    local final = M.layer_path(digest)
    if not util.isdir(final) then
      local ok
      ok, msg, en = fs.rename(root, final)
      if not ok then return nil, msg, en end
    end
    return { format = "root", layers = { digest }, config = {} }
  end
  local img
  img, msg, en = read_archive(root, kind)
  if not img then return nil, msg, en end
  for i, l in ipairs(img.layers) do
    if not util.isdir(M.layer_path(l.digest)) then
      -- its content must be what the config says: a layer is shared by
      -- every image that lists its digest
      local got
      got, msg, en = sha256(l.file)
      if not got then return nil, ("layer %d: %s"):format(i, msg), en end
      if got ~= l.digest then
        return nil, ("layer %d does not match its diff_id sha256:%s (a corrupt archive)"):format(i, l.digest),
          E.EINVAL
      end
      local ok
      ok, msg, en = add_layer(l.digest, l.file, work, true)
      if not ok then return nil, ("layer %d: %s"):format(i, msg), en end
    end
  end
  -- A layer listed twice (empty ones are) is one lower dir, where it is
  -- topmost: overlayfs takes a directory once, and the lower copy only
  -- holds what the upper one covers.
  local ids, seen = {}, {}
  for i = #img.layers, 1, -1 do
    local d = img.layers[i].digest
    if not seen[d] then seen[d] = true; table.insert(ids, 1, d) end
  end
  return { format = kind == "oci" and "oci-layout" or "docker-save", layers = ids, config = image_config(img.config) }
end

--- Import a tarball as image name (default: the file's name).  Once:
-- the same file (path, size, mtime), or a file of the same content,
-- gives the image already there; another file under a taken name is
-- refused (import it under a name of its own).
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
    if have and have.source == src.source and have.size == src.size and have.mtime == src.mtime then
      return have
    end
    local digest
    digest, msg, en = sha256(src.source)
    if not digest then return nil, "import " .. src.source .. ": " .. msg, en end
    if have then
      if have.digest == digest then return have end -- the same content, from another file
      return nil, ("image %q exists, imported from %s; %s is another file: import it under a name " ..
        "of its own (wbl scripts/images.lua import %s NAME), then use --image NAME")
        :format(name, tostring(have.source or ("a commit of " .. tostring(have.from))), src.source,
          src.source), E.EEXIST
    end
    local work
    work, msg, en = tmpdir("import")
    if not work then return nil, msg, en end
    local r = table.pack(check_trailer(src.source))
    if r[1] then r = table.pack(fs.mkdir(work .. "/archive", "0755")) end
    if r[1] then
      r = table.pack(M.run_tool { "tar", "--numeric-owner", "-xpf", src.source, "-C", work .. "/archive" })
    end
    if r[1] then r = table.pack(import_layers(work, digest)) end
    if r[1] then
      local meta = r[1]
      meta.source, meta.size, meta.mtime, meta.digest = src.source, src.size, src.mtime, digest
      r = table.pack(publish(name, meta))
    elseif not tostring(r[2]):find("import ", 1, true) then
      r[2] = "import " .. src.source .. ": " .. tostring(r[2])
    end
    util.rm_rf(work)
    if not r[1] then M.gc_locked() end -- layers this import brought and no image lists
    return table.unpack(r, 1, 3)
  end)
end

--- An image by name, or a tarball imported once: its record.
function M.resolve(ref)
  if M.is_tarball(ref) then return M.import(ref) end
  return M.get(ref)
end

-- Who uses what ---------------------------------------------------------------

--- The containers that use image img (a record of M.get): every write
-- layer kept in the store (running or stopped, whatever the state root)
-- whose container was made from it.  A list of { id =, running = }.
function M.users(img)
  local out = {}
  for _, l in ipairs(M.layers()) do
    local uses
    if l.image_id or img.id then
      uses = l.image_id ~= nil and l.image_id == img.id
    else -- both of the first format: the image's root among its lowers
      for _, d in ipairs(l.lowers or {}) do uses = uses or d == img.rootfs end
    end
    if uses then out[#out + 1] = { id = l.id, running = l.running } end
  end
  return out
end

--- Remove every layer in layers/ that no image and no container's write
-- layer lists, and what tmp/ holds (the caller holds the store's lock:
-- nothing is in progress).  The list of layer ids removed.
function M.gc_locked()
  -- by id: a lower is ".../layers/ID" however WBL_STORE was spelt
  local used = {}
  local function use(d) local id = tostring(d):match("/layers/(%x+)/*$"); if id then used[id] = true end end
  for _, img in ipairs(M.list()) do
    for _, d in ipairs(img.lowers) do use(d) end
  end
  for _, n in ipairs(fs.readdir(path("containers")) or {}) do
    local l = read_meta(path("containers", n, "layer.lua"))
    for _, d in ipairs(l and l.lowers or {}) do use(d) end
  end
  local gone = {}
  local ids = fs.readdir(path("layers")) or {}
  table.sort(ids)
  for _, id in ipairs(ids) do
    if not used[id] and util.rm_rf(M.layer_path(id)) then gone[#gone + 1] = id end
  end
  for _, n in ipairs(fs.readdir(path("tmp")) or {}) do util.rm_rf(path("tmp", n)) end
  return gone
end

--- M.gc_locked under the store's lock.
function M.gc()
  return locked(M.gc_locked)
end

--- Remove an image.  Refused while a container (running, or stopped and
-- kept) was made from it, naming the container, unless forced, as docker
-- does.  Forced, only the name goes at once; its layers stay while a
-- container lists them (a running root never loses a file; a stopped one
-- can start again) and go with the last of them (M.gc: images.lua rm,
-- prune, rm-layer).  The ids of the layers removed.
function M.remove(name, force)
  local ok, msg, en = M.check_name(name)
  if not ok then return nil, msg, en end
  return locked(function()
    local img
    img, msg, en = M.get(name)
    if not img then return nil, msg, en end
    local users = M.users(img)
    if #users > 0 then
      local u = users[1]
      local who = ("container %s (%s)%s"):format(u.id, u.running and "running" or "stopped",
        #users > 1 and (" and " .. (#users - 1) .. " more") or "")
      if not img.layers then -- first format: its directory is the container's root itself
        return nil, ("image %q is the root of %s: remove the container first (wbl rm -f %s)")
          :format(name, who, u.id), E.EBUSY
      end
      if not force then
        return nil, ("image %q is used by %s: remove the container first (wbl rm -f %s), or force it " ..
          "(wbl scripts/images.lua rm -f %s: the layers stay until no container uses them)")
          :format(name, who, u.id, name), E.EBUSY
      end
    end
    -- Renamed away first: an image is complete or absent.
    local dir
    dir, msg, en = tmpdir("remove")
    if not dir then return nil, msg, en end
    ok, msg, en = fs.rename(path("images", name), dir .. "/image")
    if not ok then util.rm_rf(dir); return nil, msg, en end
    ok, msg, en = util.rm_rf(dir)
    if not ok then return nil, msg, en end
    return M.gc_locked()
  end)
end

-- A container's layers: wbl.layer (what every start needs, apart).
local layer = require "wbl.layer"
M.lowers, M.layer_dir, M.create_layer, M.release = layer.lowers, layer.dir, layer.create, layer.release

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

--- Remove a container's layer (not while it runs), and the image layers
-- only it still listed.
function M.remove_layer(id)
  local l, msg, en = M.get_layer(id)
  if not l then return nil, msg, en end
  if M.in_use(id) then return nil, ("container %q is running"):format(id), E.EBUSY end
  local ok
  ok, msg, en = util.rm_rf(l.dir)
  if not ok then return nil, msg, en end
  return M.gc()
end

-- overlayfs's own bookkeeping in an upper dir, meaningless in a layer
-- made from it (whiteouts, opaque dirs and redirects are kept: they are
-- the container's deletions and renames, as trusted.overlay.* and
-- user.overlay.*, whichever of them the container's overlay wrote: that
-- of a user namespace writes user.*).
local private_xattrs = { origin = true, impure = true, nlink = true, upper = true, uuid = true }

local function strip(p)
  local st = fs.lstat(p)
  if not st then return true end
  if st.type ~= "link" then
    local seen = {}
    for _, x in ipairs(fs.listxattr(p) or {}) do
      local kind, name = x:match("^(%a+)%.overlay%.(.+)$")
      local ok, msg, en = true, nil, nil
      if (kind == "trusted" or kind == "user") and private_xattrs[name] then
        ok, msg, en = fs.removexattr(p, x)
      elseif (kind == "trusted" or kind == "user") and not seen[name] then
        seen[name] = true
        ok, msg, en = fs.getxattr(p, x)
        if ok then ok, msg, en = set_overlay_xattr(p, name, ok) end
      end
      if not ok then return nil, msg, en end
    end
  end
  if st.type == "directory" then
    for _, n in ipairs(fs.readdir(p) or {}) do
      local ok, msg, en = strip(p .. "/" .. n)
      if not ok then return nil, msg, en end
    end
  end
  return true
end

-- cp -a src's contents into layers/ID (a new random id, through tmp/).
local function copy_layer(src, work, clean)
  local id = util.random_hex(32)
  local dir = work .. "/layer." .. id
  local ok, msg, en = fs.mkdir(dir, "0755")
  if ok then ok, msg, en = M.run_tool { "cp", "-a", src .. "/.", dir } end
  if ok and clean then ok, msg, en = strip(dir) end
  if ok then ok, msg, en = fs.rename(dir, M.layer_path(id)) end
  if not ok then util.rm_rf(dir); return nil, msg, en end
  return id
end

--- Save a stopped container's root as image name: the layers it was made
-- from, and its writes (its upper dir, deletions as overlayfs whiteouts)
-- as one new layer on top; the image's config goes with it.  A lower that
-- is no layer of the store (--rootfs, the default root, an image of the
-- first format) is copied in as a layer of its own: an image never
-- depends on a directory outside the store.
function M.commit(id, name)
  local ok, msg, en = M.check_name(name)
  if not ok then return nil, msg, en end
  local l
  l, msg, en = M.get_layer(id)
  if not l then return nil, msg, en end
  if M.in_use(id) then return nil, ("container %q is running: stop it first"):format(id), E.EBUSY end
  return locked(function()
    if M.get(name) then
      return nil, ("image %q exists (remove it first: wbl scripts/images.lua rm %s)"):format(name, name),
        E.EEXIST
    end
    local work
    work, msg, en = tmpdir("commit")
    if not work then return nil, msg, en end
    local ids, r = {}, { true }
    for i = #l.lowers, 1, -1 do
      local d = l.lowers[i]
      local lid = d:match("/layers/(%x+)/*$")
      if lid and util.isdir(M.layer_path(lid)) then
        ids[#ids + 1] = lid
      else
        r = table.pack(copy_layer(d, work, false))
        if not r[1] then break end
        ids[#ids + 1] = r[1]
      end
    end
    if r[1] then r = table.pack(copy_layer(l.upper, work, true)) end
    if r[1] then
      ids[#ids + 1] = r[1]
      r = table.pack(publish(name, { from = id, image = l.image, layers = ids, config = l.config or {} }))
    end
    util.rm_rf(work)
    if not r[1] then M.gc_locked() end
    if not r[1] then r[2] = "commit: " .. tostring(r[2]) end
    return table.unpack(r, 1, 3)
  end)
end

return M
