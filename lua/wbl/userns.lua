--- User namespaces (--userns=auto): the container's root is root only
-- inside; on the host it is an unprivileged range of ids, from the `wbl`
-- entries of /etc/subuid and /etc/subgid (made when missing).  Each
-- container gets a range of its own (a slot of 65536 ids: 0-65535
-- inside), so two containers are two different sets of users on the host.
--
-- The host side (create.lua): resolve (the range, recorded in the spec as
-- OCI's linux.uidMappings/gidMappings and saved at once: the state is the
-- lease, a range is taken while its container exists, kept ones too),
-- prepare (before the clone: what the container's root could not open
-- itself), clone (the child cloned with CLONE_NEWUSER and the other
-- namespaces, which its user namespace then owns; its uid_map and gid_map
-- written before it is let go).  The container side (init.lua):
-- become_root, then attach (after the mounts are private).
--
-- wbl's store and state are root's alone (0700): the container's root
-- cannot open a path in them.  So the host opens, as detached mounts that
-- the child inherits (wbl.core.inroot.tree), the image's layers and the
-- write layer, idmapped through a user namespace with the container's
-- mappings (a file owned by 0 on disk is the container's root's, and what
-- the container writes is stored with its ids inside: the layer is stored
-- as any container's), the sources of bind mounts (volumes: not idmapped,
-- so the container's root is an unprivileged user there, as with docker's
-- userns-remap), and the /etc files.  In its own mount namespace the
-- child puts a tmpfs over the first directory on the layer's path that it
-- cannot search (/var/lib/wbl), makes the path again in it and attaches
-- the write layer there: the layer's paths (and those of everything
-- mounted in the root) then work as on the host, and the overlay is
-- mounted from the idmapped layers with userxattr (trusted.* xattrs need
-- the host's root).
local core = require "wbl.core"
local util = require "wbl.util"
local config = require "wbl.config"
local state = require "wbl.state"
local spec = require "wbl.spec"
local fs, P, E = core.fs, core.proc, core.errno

local M = {}

--- The entry's name in /etc/subuid and /etc/subgid.
M.owner = "wbl"
--- Ids per container: 0-65535 inside (65534 is nobody).
M.size = 65536
--- The size of an entry made when missing: 1024 containers at once.
M.made_count = 65536 * 1024
--- Where a made entry may start (useradd's SUB_UID_MIN), on a 65536 grid.
M.first = 100000

--- The files: WBL_SUBUID and WBL_SUBGID, default /etc/subuid, /etc/subgid.
function M.files()
  return { uid = os.getenv("WBL_SUBUID") or "/etc/subuid", gid = os.getenv("WBL_SUBGID") or "/etc/subgid" }
end

--- The entries of a subuid file: { { name =, start =, count = } ... }
-- (other lines are skipped).
function M.parse(text)
  local out = {}
  for line in (text or ""):gmatch("[^\n]+") do
    local name, start, count = line:match("^%s*([^:#%s][^:]*):(%d+):(%d+)%s*$")
    if name then out[#out + 1] = { name = name, start = tonumber(start), count = tonumber(count) } end
  end
  return out
end

local function of(entries, name)
  local out = {}
  for _, e in ipairs(entries) do
    if e.name == name and e.count > 0 then out[#out + 1] = e end
  end
  return out
end

local function overlap(a1, n1, a2, n2) return a1 < a2 + n2 and a2 < a1 + n1 end

--- Where count ids can start: the first M.first + k * 65536 that
-- overlaps none of the entries (a list of lists), below 2^32 - 1 (which
-- is (uid_t) -1); nil if there is no such place.
function M.free_start(lists, count)
  local start = M.first
  while start + count <= 0xFFFFFFFF do
    local clash
    for _, list in ipairs(lists) do
      for _, e in ipairs(list) do
        if overlap(start, count, e.start, e.count) then clash = e end
      end
    end
    if not clash then return start end
    start = start + M.size * math.max(1, -((start - clash.start - clash.count) // M.size))
  end
end

--- The slots of ranges: each cut into M.size ids ({ start =, size = });
-- a range smaller than that is one smaller slot.
function M.slots(ranges)
  local out = {}
  for _, r in ipairs(ranges) do
    if r.count < M.size then
      out[#out + 1] = { start = r.start, size = r.count }
    else
      for k = 0, r.count // M.size - 1 do out[#out + 1] = { start = r.start + k * M.size, size = M.size } end
    end
  end
  return out
end

local function read_entries(path)
  local text, msg, en = fs.read_file(path)
  if not text then
    if en == E.ENOENT then return {}, "" end
    return nil, msg, en
  end
  return M.parse(text), text
end

--- The wbl entries of both files, an entry appended where one is missing
-- (M.made_count ids, the same start in both where it is free in both:
-- clear of every entry of the file, and of the other file's but wbl's).
-- @return { uid = ranges, gid = ranges, made = { files appended to } }
function M.ensure()
  local files, have, texts = M.files(), {}, {}
  for _, k in ipairs { "uid", "gid" } do
    local list, text, en = read_entries(files[k])
    if not list then return nil, text, en end
    have[k], texts[k] = list, text
  end
  local out = { made = {} }
  for _, k in ipairs { "uid", "gid" } do
    local r = of(have[k], M.owner)
    if #r == 0 then
      local other = {}
      for _, e in ipairs(have[k == "uid" and "gid" or "uid"]) do
        if e.name ~= M.owner then other[#other + 1] = e end
      end
      local start = M.free_start({ have[k], other }, M.made_count)
      if not start then
        return nil, ("%s: no room for a %s entry of %d ids"):format(files[k], M.owner, M.made_count), E.ENOSPC
      end
      local line = ("%s:%d:%d\n"):format(M.owner, start, M.made_count)
      if texts[k] ~= "" and texts[k]:sub(-1) ~= "\n" then line = "\n" .. line end
      local ok, msg, en = fs.write_file(files[k], line, "creat,append", "0644")
      if not ok then
        return nil, ("%s has no %s entry, and it cannot be added: %s"):format(files[k], M.owner, msg), en
      end
      r = { { name = M.owner, start = start, count = M.made_count } }
      have[k][#have[k] + 1] = r[1]
      out.made[#out.made + 1] = files[k]
    end
    out[k] = r
  end
  return out
end

local function lockfile() return util.join(config.root(), "userns.lock") end

-- The host ranges other containers hold: { uid = { {start, size} }, gid = ... }.
local function held(id)
  local out = { uid = {}, gid = {} }
  for _, st in ipairs(state.list()) do
    local l = st.id ~= id and type(st.spec) == "table" and st.spec.linux
    for k, field in pairs(l and { uid = "uidMappings", gid = "gidMappings" } or {}) do
      for _, m in ipairs(l[field] or {}) do
        out[k][#out[k] + 1] = { start = m.hostID, size = m.size }
      end
    end
  end
  return out
end

local function free(slot, list)
  for _, h in ipairs(list) do
    if overlap(slot.start, slot.size, h.start, h.size) then return false end
  end
  return true
end

--- A range for c (--userns=auto): the first slot of the wbl entries that
-- no other container holds, as c's spec's linux.uidMappings and
-- gidMappings (container 0 -> the slot), saved at once under a lock.
function M.allocate(c)
  return util.locked(lockfile(), function()
    local r, msg, en = M.ensure()
    if not r then return nil, msg, en end
    local us, gs, taken = M.slots(r.uid), M.slots(r.gid), held(c.id)
    for i = 1, math.min(#us, #gs) do
      if free(us[i], taken.uid) and free(gs[i], taken.gid) then
        local n = math.min(us[i].size, gs[i].size)
        c.spec.linux.uidMappings = { { containerID = 0, hostID = us[i].start, size = n } }
        c.spec.linux.gidMappings = { { containerID = 0, hostID = gs[i].start, size = n } }
        state.spec_changed(c)
        return state.save(c)
      end
    end
    local files = M.files()
    return nil, ("every range of the %s entries of %s and %s is held by a container (%d): " ..
      "remove stopped ones (wbl rm), or give %s more ids"):format(M.owner, files.uid, files.gid,
      math.min(#us, #gs), M.owner), E.EBUSY
  end)
end

--- Check a spec's mappings (OCI: { containerID, hostID, size }, at least
-- one, container 0 mapped).
function M.check(s)
  for _, k in ipairs { "uidMappings", "gidMappings" } do
    local list, root = s.linux[k], false
    if type(list) ~= "table" or #list == 0 then
      return nil, ("linux.%s: a user namespace needs at least one mapping"):format(k), E.EINVAL
    end
    for i, m in ipairs(list) do
      for _, f in ipairs { "containerID", "hostID", "size" } do
        if math.type(m[f]) ~= "integer" or m[f] < 0 or m[f] > 0xFFFFFFFE then
          return nil, ("linux.%s[%d].%s: expected an id"):format(k, i, f), E.EINVAL
        end
      end
      if m.size < 1 then return nil, ("linux.%s[%d].size: at least 1"):format(k, i), E.EINVAL end
      root = root or m.containerID == 0
    end
    if not root then return nil, ("linux.%s: container id 0 (root) is not mapped"):format(k), E.EINVAL end
  end
  return true
end

--- Host side, once the state exists: a --userns=auto container gets its
-- range (kept when it is started again: its spec has it); the mappings
-- are checked.  Nothing without a user namespace.
function M.resolve(c)
  local s = c.spec
  if not spec.has_namespace(s, "user") then return true end
  if s.wbl and s.wbl.userns == "auto" and not (s.linux.uidMappings and s.linux.uidMappings[1]) then
    local ok, msg, en = M.allocate(c)
    if not ok then return nil, msg, en end
  end
  return M.check(s)
end

--- The host's ids of the container's root: { uid =, gid = }, or nil
-- without a user namespace.
function M.root_ids(s)
  if not spec.has_namespace(s, "user") then return nil end
  local function host(list)
    for _, m in ipairs(list or {}) do
      if m.containerID == 0 then return m.hostID end
    end
  end
  local uid, gid = host(s.linux.uidMappings), host(s.linux.gidMappings)
  if uid and gid then return { uid = uid, gid = gid } end
end

local function map_text(list)
  local lines = {}
  for _, m in ipairs(list) do lines[#lines + 1] = ("%d %d %d"):format(m.containerID, m.hostID, m.size) end
  return table.concat(lines, "\n") .. "\n"
end

--- Write the spec's mappings as pid's uid_map and gid_map (once, from
-- the parent user namespace).  setgroups stays "allow": root of the
-- parent writes gid_map, so the kernel allows it (deny is for maps an
-- unprivileged process writes), and the container needs it to drop the
-- host's supplementary groups and for -u/--group-add.
function M.write_maps(pid, s)
  local ok, msg, en = fs.write_file("/proc/" .. pid .. "/uid_map", map_text(s.linux.uidMappings), "")
  if not ok then return nil, "uid_map: " .. msg, en end
  ok, msg, en = fs.write_file("/proc/" .. pid .. "/gid_map", map_text(s.linux.gidMappings), "")
  if not ok then return nil, "gid_map: " .. msg, en end
  return true
end

--- A user namespace with the spec's mappings, as an fd (to idmap mounts
-- through): made by a short-lived child, which is gone on return.
function M.mapping_ns(s)
  io.stdout:flush()
  io.stderr:flush()
  local r, w, en0 = core.fd.pipe()
  if not r then return nil, w, en0 end
  local pid, msg, en = P.clone("user")
  if not pid then r:close(); w:close(); return nil, msg, en end
  if pid == 0 then
    w:close()
    r:read(1) -- until the parent is done (or gone)
    P._exit(0)
  end
  r:close()
  local fd
  local ok = table.pack(M.write_maps(pid, s))
  if ok[1] then ok = table.pack(core.fd.open("/proc/" .. pid .. "/ns/user", "rdonly")) end
  fd, msg, en = ok[1], ok[2], ok[3]
  w:close()
  P.waitpid(pid)
  if not fd then return nil, msg, en end
  return fd
end

-- A detached mount of path, idmapped through ns; or, where its file
-- system cannot be idmapped (EINVAL: tmpfs before Linux 6.3, 9p, ...), a
-- plain one, false and why.
local function idmapped(path, flags, ns)
  local fd, msg, en = core.inroot.tree(path, flags, ns)
  if fd then return fd, true end
  if en ~= E.EINVAL then return nil, msg, en end
  local plain, m2, e2 = core.inroot.tree(path, flags)
  if not plain then return nil, m2, e2 end
  return plain, false, msg
end

local function warn(path, what)
  io.stderr:write(("wbl: warning: %s: its file system cannot be idmapped here: %s\n"):format(path, what))
end

--- Host side, before the clone: the detached mounts the child attaches
-- (see the top), in c._userns = { layer_path, hide, layer, lowers,
-- binds = { [m] = { fd, type } }, etc = { [name] = fd } }.  A container
-- without a user namespace: nothing.
--
-- Where a file system cannot be idmapped (the kernel says EINVAL: tmpfs
-- before Linux 6.3, for one), the fallback: an image layer is attached
-- as it is (its root's files are then nobody's inside: readable where
-- their mode lets others read, not changeable), and the write layer is
-- the container root's on the host (its directories chowned to it,
-- c.layer_shifted: what it writes is stored with the host's ids).
function M.prepare(c)
  local s = c.spec
  if not spec.has_namespace(s, "user") then return true end
  -- an OCI bundle's root, used in place: its caller gave it the container's
  -- ids (podman chowns it), nothing of wbl's store is in it to idmap
  if s.wbl.in_place then c._userns = { in_place = true, lowers = {}, binds = {}, etc = {} }; return true end
  if not c.layer then return nil, "a user namespace needs a write layer (its layers are idmapped)", E.EINVAL end
  local inroot, split = core.inroot, require("wbl.rootfs").split_options
  local ids = M.root_ids(s)
  local ns <close>, msg, en = M.mapping_ns(s)
  if not ns then return nil, msg, en end
  local layer, hide
  layer, msg, en = fs.realpath(c.layer)
  if not layer then return nil, msg, en end
  hide, msg, en = M.unreachable(layer, ids)
  if hide == nil then return nil, msg, en end
  local t = { layer_path = layer, hide = hide or nil, lowers = {}, binds = {}, etc = {} }
  -- (what was opened before a failure closes itself when collected)
  local ok, why
  for i, dir in ipairs(c.lowers or {}) do
    t.lowers[i], ok, why = idmapped(dir, nil, ns)
    if not t.lowers[i] then return nil, ok, why end
    if not ok then warn(dir, "its root's files are nobody's in the container, and cannot be changed") end
  end
  if not c.layer_shifted then
    t.layer, ok, why = idmapped(c.layer, nil, ns)
    if not t.layer then return nil, ok, why end
    if not ok then
      warn(c.layer, "the write layer is stored with the host's ids of the container's")
      t.layer:close()
      c.layer_shifted = true
    end
  end
  if c.layer_shifted then
    for _, d in ipairs { c.layer, c.upper, c.work, c.root } do
      ok, msg, en = fs.lchown(d, ids.uid, ids.gid)
      if not ok then return nil, msg, en end
    end
    t.layer, msg, en = inroot.tree(c.layer)
    if not t.layer then return nil, msg, en end
  end
  for _, m in ipairs(s.mounts) do
    if m.type == "bind" then
      local st
      st, msg, en = fs.stat(m.source)
      if not st then return nil, msg, en end
      local fd
      fd, msg, en = inroot.tree(m.source, (split(m.options)))
      if not fd then return nil, msg, en end
      t.binds[m] = { fd = fd, type = st.type }
    end
  end
  -- the /etc files: root's inside, where they can be idmapped (read-only
  -- with the root, as wbl.net.bind_etc binds them)
  for _, name in ipairs(c.net and require("wbl.net").etc_names or {}) do
    local p = util.join(c.state_dir, name)
    if util.exists(p) then
      t.etc[name], msg, en = idmapped(p, s.root.readonly and "ro" or nil, ns)
      if not t.etc[name] then return nil, msg, en end
    end
  end
  c._userns = t
  return true
end

--- The first directory above path (from /) that ids = { uid, gid }
-- cannot search, or false (all can be), or nil, message.
function M.unreachable(path, ids)
  local at = ""
  for part in path:gmatch("[^/]+") do
    if at .. "/" .. part == path then break end
    at = at .. "/" .. part
    local st, msg, en = fs.stat(at)
    if not st then return nil, msg, en end
    local x = (st.uid == ids.uid and 64) or (st.gid == ids.gid and 8) or 1
    if st.mode & x == 0 then return at end
  end
  return false
end

local function close_all(t)
  for _, fd in ipairs(t.lowers) do fd:close() end
  if t.layer then t.layer:close() end
  for _, b in pairs(t.binds) do b.fd:close() end
  for _, fd in pairs(t.etc) do fd:close() end
end

--- Clone c's PID 1 (wbl.container.clone), then write its maps; the
-- host's copies of the detached mounts are closed (the child has its own).
function M.clone(c, fn)
  c._parent = require("wbl.proc").identity()
  local r = table.pack(require("wbl.container").clone(c, fn))
  close_all(c._userns)
  if not r[1] then return table.unpack(r, 1, 3) end
  return M.write_maps(c.pid, c.spec)
end

-- Container side (init.lua) -----------------------------------------------

--- First: become root of the user namespace (uid and gid 0 in it, no
-- supplementary groups).  The child starts with wbl's own ids, the host's
-- root: unmapped in the namespace, no capability outside it, but with
-- the owner's bits of the host root's files and root's groups.  A change
-- of ids clears the parent-death signal: it is set again (wbl killed, the
-- container goes too).
function M.become_root(c)
  local ok, msg, en = P.setgroups({})
  if ok then ok, msg, en = P.setgid(0) end
  if ok then ok, msg, en = P.setuid(0) end
  if not ok then return nil, msg, en end
  if c._spawn and c._spawn.survive then return true end
  ok, msg, en = P.prctl("pdeathsig", "SIGKILL")
  if not ok then return nil, msg, en end
  -- (gone before that, it would not kill us: the host's /proc is still here)
  if c._parent and not require("wbl.proc").alive(c._parent) then return nil, "wbl is gone", E.ESRCH end
  return true
end

--- After the mounts are made private: a tmpfs over the directory on the
-- layer's path we cannot search, the path made again in it, and the
-- layers attached there (see the top): the image's under the write
-- layer, c.lowers then paths through them (the overlay's options).
function M.attach(c)
  local t, inroot = c._userns, core.inroot
  if t.in_place then return true end -- (an OCI bundle's root: nothing to attach)
  local ok, msg, en
  if t.hide then
    ok, msg, en = core.mount.mount("tmpfs", t.hide, "tmpfs", "nosuid,nodev,noexec", "mode=0755,size=64k")
    if ok then ok, msg, en = fs.mkdir_p(t.layer_path, "0755") end
    if not ok then return nil, msg, en end
  end
  local lowers = {}
  for i, fd in ipairs(t.lowers) do
    ok, msg, en = inroot.attach(fd, t.layer_path)
    if not ok then return nil, msg, en end
    lowers[i] = "/proc/self/fd/" .. fd:fileno()
  end
  ok, msg, en = inroot.attach(t.layer, t.layer_path)
  if not ok then return nil, msg, en end
  c.lowers = lowers
  -- (the layer's real path: the tmpfs holds no symlink of the host's)
  local old = c.layer
  for _, k in ipairs { "upper", "work", "root", "layer" } do
    if c[k] and c[k]:sub(1, #old) == old then c[k] = t.layer_path .. c[k]:sub(#old + 1) end
  end
  return true
end

return M
