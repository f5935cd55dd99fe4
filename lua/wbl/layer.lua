--- A container's layers in the store (wbl.image describes the store):
-- its lower layers (its image's, or the root directory it names) and its
-- write layer, containers/ID/{upper,work,root} and layer.lua.
--
-- Apart from wbl.image because every start needs these few functions and
-- none of the rest (imports, commits, removals): a start loads what it
-- uses (wbl.util.lazy).  wbl.image still offers them under their old
-- names (image.lowers, layer_dir, create_layer, release).
-- Every function returns a value (or true), or nil, message, errno.
local core = require "wbl.core"
local util = require "wbl.util"
local config = require "wbl.config"
local image = util.lazy "wbl.image" -- (images only)
local fs, E = core.fs, core.errno

local M = {}

--- The lower layers (top first) of a spec: its image (s.wbl.image: a
-- store name, or a tarball imported once), whose id, layers and config
-- it then records (s.wbl.image_id, image_layers, image_config); else
-- root.path, a directory used in place.  A container started again gets
-- the layers it was made with, while they are there, even when its
-- image was removed (forced) meanwhile.
-- @return layers
function M.lowers(s)
  local w = s.wbl
  if w.image then
    local again = w.image_layers and #w.image_layers > 0
    for _, d in ipairs(w.image_layers or {}) do again = again and util.isdir(d) end
    if again then return table.move(w.image_layers, 1, #w.image_layers, 1, {}) end
    local img, msg, en = image.resolve(w.image)
    if not img then return nil, msg, en end
    w.image_id, w.image_config = img.id, img.config
    w.image_layers = table.move(img.lowers, 1, #img.lowers, 1, {})
    s.root.path = img.rootfs -- the top layer (OCI's root.path is one directory)
    return table.move(img.lowers, 1, #img.lowers, 1, {})
  end
  local dir = s.root.path
  local st, msg, en = fs.stat(dir)
  if not st then return nil, msg, en end
  if st.type ~= "directory" then return nil, dir .. ": not a directory", E.ENOTDIR end
  return { fs.realpath(dir) }
end

--- A container's layer directory: STORE/containers/ID.
function M.dir(id)
  return util.join(util.join(config.store(), "containers"), id)
end

--- Make the container's write layer: upper, work and root under
-- containers/ID, and record it.  With c.spec.wbl.rm it goes at teardown.
-- Sets c.layer, c.upper, c.work and c.root (the merged root's mount point).
function M.create(c)
  -- an OCI bundle's root is used in place (its caller made it): no layer
  if c.spec.wbl.in_place then c.root = c.lowers[1]; return true end
  local rm = c.spec.wbl.rm or false
  if c.layer and util.isdir(c.layer .. "/upper") then return true end -- started again: the same layer
  local dir = M.dir(c.id)
  local ok, msg, en = fs.mkdir_p(util.dirname(dir), "0700")
  if not ok then return nil, msg, en end
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
  local w = c.spec.wbl
  return fs.write_file(dir .. "/layer.lua", util.serialise {
    id = c.id, lowers = c.lowers, image = w.image or c.spec.root.path, image_id = w.image_id,
    config = w.image_config, rm = rm, created = os.time(),
  }, nil, "0600")
end

--- Remove a container's write layer (M.create's dir): what it is known
-- to hold first, one system call each; anything else (what the container
-- wrote, the overlay's work files) through util.rm_rf.  (rm_rf alone
-- tries unlink, then rmdir, then reads each directory: 17 calls for an
-- empty layer, 6 this way.)  A mount still on root: EBUSY.
function M.remove(dir)
  fs.unlink(dir .. "/layer.lua")
  for _, d in ipairs { "/upper", "/work/work", "/work", "/root" } do
    local ok, msg, en = fs.rmdir(dir .. d)
    if not ok and en ~= E.ENOENT then
      if en ~= E.ENOTEMPTY and en ~= E.EEXIST then return nil, msg, en end
      ok, msg, en = util.rm_rf(dir .. d)
      if not ok then return nil, msg, en end
    end
  end
  local ok, msg, en = fs.rmdir(dir)
  if ok or en == E.ENOENT then return true end
  if en == E.ENOTEMPTY or en == E.EEXIST then return util.rm_rf(dir) end
  return nil, msg, en
end

--- After a container's write layer went: the layers of its image go too
-- if that image was removed (forced) meanwhile and nothing else lists
-- them.  One file read when the image is still there (the usual case).
function M.release(c)
  local w = c.spec and c.spec.wbl or {}
  if not (w.image_id and w.image) or image.is_tarball(w.image) then return true end
  local img = image.get(w.image)
  if img and img.id == w.image_id then return true end
  return image.gc()
end

return M
