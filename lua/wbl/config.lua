--- Where wbl keeps things.  Every path comes from here.
--
--   state root   WBL_ROOT, or /run/wbl (a tmpfs: state does not outlive a
--                reboot, nor do the containers it describes); a front end
--                may set it (M.set_root, e.g. from a --root option)
--     containers/ID/   a container's state (state.lua, /etc files)
--     networks/NAME/   a network's description, its leases, its lock
--     cache/seccomp/   compiled seccomp filters, by content, and the default profile's conversions (wbl.seccomp)
--   store        WBL_STORE, or /var/lib/wbl: images and write layers,
--                data that outlives a reboot (wbl.image)
--   home         where this library is installed (the project root, or
--                PREFIX/share/wbl): the scripts and the default root
local M = {}

local src = debug.getinfo(1, "S").source:gsub("^@", "")
M.home = src:match("^(.*)/lua/wbl/config%.lua$") or "."
if M.home:sub(1, 1) ~= "/" then -- loaded by a relative path: from here
  local cwd = require("wbl.core").fs.getcwd()
  M.home = cwd .. (M.home == "." and "" or "/" .. M.home)
end

local root = os.getenv("WBL_ROOT")
if root == "" then root = nil end

--- The state root.
function M.root() return root or "/run/wbl" end

--- Use dir as the state root from now on (in this process).
function M.set_root(dir) root = dir end

--- The state of containers, and of networks.
function M.containers() return M.root() .. "/containers" end
function M.networks() return M.root() .. "/networks" end

--- What is made again from its inputs when missing (root's own: 0700).
function M.cache() return M.root() .. "/cache" end

--- The image store.
function M.store() return os.getenv("WBL_STORE") or "/var/lib/wbl" end

--- The default root file system: WBL_ROOTFS, or the busybox root made
-- by `make rootfs`.
function M.default_rootfs()
  return os.getenv("WBL_ROOTFS") or (M.home .. "/rootfs/busybox")
end

--- --init's PID 1: WBL_INIT, or the one built next to wbl (build/), or
-- the installed one (PREFIX/libexec/wbl, home being PREFIX/share/wbl).
function M.init_binary()
  local env = os.getenv("WBL_INIT")
  if env and env ~= "" then return env end
  local fs = require("wbl.core").fs
  for _, p in ipairs { M.home .. "/build/wbl-init", M.home .. "/../../libexec/wbl/wbl-init" } do
    if fs.stat(p) then return p end
  end
  return M.home .. "/build/wbl-init"
end

return M
