-- examples/hooks/motd.lua: write a file into the container's root before
-- it starts (in its write layer: the image is not touched).
--   wbl scripts/run.lua --hook examples/hooks/motd.lua --rm cat /etc/motd
return {
  root = function(c, wbl)
    local fd = assert(wbl.core.inroot.open(c.root, "/etc/motd", "file"))
    fd:close()
    local where = wbl.overlay.resolve(c.root, "/etc/motd")
    assert(wbl.core.fs.write_file(where, ("welcome to %s\n"):format(c.spec.hostname), "trunc"))
  end,
}
