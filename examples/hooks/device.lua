-- examples/hooks/device.lua: add /dev/fuse to a container (its node, made
-- before pivot_root), the hook way; `--device /dev/fuse` does the same
-- and also allows it in the device cgroup.
--   wbl scripts/run.lua --hook examples/hooks/device.lua --rm ls -l /dev/fuse
return {
  root = function(c, wbl)
    local st = wbl.core.fs.stat("/dev/fuse")
    if not st then return end
    c.spec.linux.devices[#c.spec.linux.devices + 1] =
      { path = "/dev/fuse", type = "c", major = 10, minor = 229, fileMode = 438 }
    assert(wbl.rootfs.devices(c.root, { c.spec.linux.devices[#c.spec.linux.devices] }))
  end,
}
