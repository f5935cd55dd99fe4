-- scripts/commit.lua: save a stopped container's file system as an image.
--
--   wbl scripts/commit.lua CONTAINER NAME
--
-- CONTAINER is the id (or --name) of a container run without --rm; its
-- write layer is kept in the store.  The new image is the container's
-- root as it last saw it: the layers of its image (shared, not copied)
-- and its writes as one more layer on top, deletions kept as overlayfs
-- whiteouts; the image's config (Cmd, Env, ...) goes with it.
-- Then: wbl scripts/run.lua --image NAME ...
-- Exit status: 0; 125 if the commit failed (the message says why).
local wbl = require "wbl"

if arg[1] == "-h" or arg[1] == "--help" then
  io.stdout:write("usage: wbl scripts/commit.lua CONTAINER NAME\n")
  os.exit(0)
end
if #arg ~= 2 then
  io.stderr:write("usage: wbl scripts/commit.lua CONTAINER NAME\n")
  os.exit(125)
end

local ok, err = pcall(function()
  local img = wbl.step("commit " .. arg[1] .. " as " .. arg[2], wbl.image.commit(arg[1], arg[2]))
  io.stdout:write(img.name, "\n")
end)
if not ok then
  io.stderr:write("wbl: ", wbl.describe(err), "\n")
  os.exit(125)
end
