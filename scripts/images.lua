-- scripts/images.lua: the image store (WBL_STORE, default /var/lib/wbl).
--
--   wbl scripts/images.lua list                   images: name, origin
--   wbl scripts/images.lua import FILE.tar [NAME] import a tarball (once)
--   wbl scripts/images.lua rm [-f] NAME...        remove images (-f: even if containers use them)
--   wbl scripts/images.lua layers                 kept write layers of containers
--   wbl scripts/images.lua rm-layer ID...         remove kept layers (not running ones)
--   wbl scripts/images.lua prune                  remove every layer not in use
--
-- A FILE.tar is a root file system (docker export), a `docker save`
-- archive or an OCI image layout (wbl.image says how each is read).
-- Exit status: 0, or 125 if anything failed (each failure is reported).
local wbl = require "wbl"
local image = wbl.image

local usage = [[
usage: wbl scripts/images.lua COMMAND [ARG...]
  list                    the images in the store
  import FILE.tar [NAME]  import a root file system (docker export), a docker save
                          archive or an OCI image layout (default NAME: the file's)
  rm [-f] NAME...         remove images; -f: even those containers were made from
                          (their layers stay until no container uses them)
  layers                  the write layers kept by containers run without --rm
  rm-layer ID...          remove kept layers
  prune                   remove every kept layer whose container is not running,
                          and every image layer no image or container lists
The store is $WBL_STORE (default /var/lib/wbl).
]]

local cmd = arg[1]
local failed = false
local function report(what, ok, msg, errno)
  if not ok then
    failed = true
    local name = errno and wbl.errno_name(errno)
    io.stderr:write(("wbl images: %s%s%s\n"):format(what and (what .. ": ") or "", tostring(msg),
      name and (" (" .. name .. ")") or ""))
  end
  return ok
end

if cmd == nil or cmd == "-h" or cmd == "--help" or cmd == "help" then
  io.stdout:write(usage)
  os.exit(cmd == nil and 2 or 0)
elseif cmd == "list" or cmd == "ls" then
  for _, img in ipairs(image.list()) do
    io.stdout:write(("%s\t%s\t%s\n"):format(img.name, os.date("!%Y-%m-%dT%H:%M:%SZ", img.created),
      img.source or ("commit of " .. tostring(img.from))))
  end
elseif cmd == "import" then
  if not arg[2] then io.stderr:write(usage); os.exit(2) end
  local img, msg, en = image.import(arg[2], arg[3])
  if report(nil, img, msg, en) then io.stdout:write(img.name, "\n") end
elseif cmd == "rm" or cmd == "remove" then
  local force, first = false, 2
  if arg[2] == "-f" or arg[2] == "--force" then force, first = true, 3 end
  if not arg[first] then io.stderr:write(usage); os.exit(2) end
  for i = first, #arg do
    if report("rm " .. arg[i], image.remove(arg[i], force)) then io.stdout:write(arg[i], "\n") end
  end
elseif cmd == "layers" then
  for _, l in ipairs(image.layers()) do
    io.stdout:write(("%s\t%s\t%s\t%s\n"):format(l.id, l.running and "running" or "stopped",
      tostring(l.image), l.dir))
  end
elseif cmd == "rm-layer" then
  for i = 2, #arg do
    if report("rm-layer " .. arg[i], image.remove_layer(arg[i])) then io.stdout:write(arg[i], "\n") end
  end
elseif cmd == "prune" then
  for _, l in ipairs(image.layers()) do
    if not l.running and report("rm-layer " .. l.id, image.remove_layer(l.id)) then
      io.stdout:write(l.id, "\n")
    end
  end
  report("prune", image.gc())
else
  io.stderr:write("wbl images: unknown command ", cmd, "\n", usage)
  os.exit(2)
end
os.exit(failed and 125 or 0)
