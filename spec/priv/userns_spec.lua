-- --userns=auto (wbl.userns): the container's root is root only inside;
-- on the host it is an unprivileged range of ids from /etc/subuid's and
-- /etc/subgid's wbl entries, a range per container.  Proven by what the
-- host sees (the ids of PID 1 and of the files it makes), by what the
-- kernel refuses it on the host's resources while the same capability
-- works on its own namespaces, and by a default container doing what it
-- cannot.  The root, volumes, /dev, cgroups, /proc, /sys, seccomp and the
-- network (none, the bridge, -p) still work.
local core = require "wbl.core"
local util = require "wbl.util"
local userns = require "wbl.userns"
local fs, P = core.fs, core.proc

-- Where the wbl entries are: /etc's (made if missing), or, where /etc
-- cannot take one (a VM with the host's /etc read-only), files of the
-- run's own, named to wbl by WBL_SUBUID and WBL_SUBGID.
local env, ranges = "", nil

-- `wbl scripts/run.lua ARGS...` with env; stdout, stderr, status.
local function cmdline(args, extra)
  local parts = { (extra or "") .. env .. H.q(H.wbl), H.q(H.top .. "/scripts/run.lua") }
  for _, a in ipairs(args) do parts[#parts + 1] = H.q(a) end
  return table.concat(parts, " ")
end
local function run(args, extra) return H.sh(cmdline(args, extra)) end

local function eventually(f)
  for _ = 1, 2000 do
    if f() then return true end
    util.sleep_ms(10)
  end
  return f()
end

-- A container in the background, stdin a pipe (-i): the commands end
-- with `read x`, so it runs until :stop() writes a line.
local function start(args, extra)
  local out = os.tmpname()
  local a = { "-i" }
  for _, x in ipairs(args) do a[#a + 1] = x end
  local p = assert(io.popen(cmdline(a, extra) .. " >" .. out .. " 2>&1", "w"))
  local h = {}
  function h.wait_for(pat)
    local s
    eventually(function()
      s = fs.read_file(out) or ""
      return s:match(pat) ~= nil or s:gsub("wbl: warning:[^\n]*\n", ""):match("wbl: ") ~= nil
    end)
    assert(s:match(pat), "container output: " .. s)
    return (s:gsub("wbl: warning:[^\n]*\n", "")) -- (a file system that cannot be idmapped)
  end
  function h.stop()
    if not p then return end
    P.signal("SIGPIPE", "ignore")
    p:write("\n")
    p:flush()
    P.signal("SIGPIPE", "default")
    local _, _, code = p:close()
    p = nil
    os.remove(out)
    return code
  end
  return h
end

-- "Uid:" and "Gid:" of /proc/PID/status: the four ids of each, as read
-- by the host.
local function ids_of(pid)
  local s = assert(fs.read_file("/proc/" .. pid .. "/status"))
  return s:match("\nUid:%s+([%d%s]-)\n"):gsub("%s+", " "), s:match("\nGid:%s+([%d%s]-)\n"):gsub("%s+", " ")
end

-- Is [first, first+n) inside the wbl entries?
local function in_entry(list, first, n)
  for _, r in ipairs(list) do
    if first >= r.start and first + n <= r.start + r.count then return true end
  end
  return false
end

local function name() return H.name("userns") end

-- Can the file system at path be idmapped here (a tree of it, through a
-- user namespace)?  tmpfs: from Linux 6.3.
local function idmappable(path)
  local m = { { containerID = 0, hostID = 100000, size = 65536 } }
  local ns <close> = assert(userns.mapping_ns { linux = { uidMappings = m, gidMappings = m } })
  local fd, msg, en = core.inroot.tree(path, nil, ns)
  if fd then fd:close(); return true end
  assert(en == core.errno.EINVAL, msg)
  return false
end

describe("user namespaces #priv", function()
  local tmp
  setup(function()
    if not H.root then return end
    tmp = H.tmpdir()
    assert(fs.chmod(tmp, "0755"))
    local r, msg, en = userns.ensure()
    if not r and (en == core.errno.EROFS or en == core.errno.EACCES) then
      local u, g = tmp .. "/subuid", tmp .. "/subgid"
      env = ("WBL_SUBUID=%s WBL_SUBGID=%s "):format(H.q(u), H.q(g))
      assert(fs.write_file(u, "wbl:100000:67108864\n"))
      assert(fs.write_file(g, "wbl:100000:67108864\n"))
      r = { uid = userns.parse(fs.read_file(u)), gid = userns.parse(fs.read_file(g)) }
    end
    assert(r, msg)
    ranges = r
  end)
  teardown(function()
    if tmp then util.rm_rf(tmp) end
    if H.root then assert.same({}, H.containers()) end
  end)

  H.it_priv("--userns is listed in --help; a bad value exits 125 naming it, before anything is made", function()
    local out, _, code = run { "--help" }
    assert.equal(0, code)
    assert.matches("--userns host|auto", out, 1, true)
    local store = require("wbl.config").store() .. "/containers"
    local before, layers = H.containers(), fs.readdir(store) or {}
    local err
    for _, v in ipairs { "bad", "", "Auto", "auto:size=10" } do
      _, err, code = run { "--userns", v, "true" }
      assert.equal(125, code, v)
      assert.matches("--userns " .. v .. ": expected host", err, 1, true)
    end
    assert.same(before, H.containers())
    assert.same(layers, fs.readdir(store) or {})
    -- host is today's default: no user namespace
    out, err, code = run { "--rm", "--network", "none", "--userns", "host", "cat", "/proc/self/uid_map" }
    assert.equal(0, code, err)
    assert.equal("0 0 4294967295", (out:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")))
  end)

  H.it_priv("its root is an unprivileged range on the host: uid_map, PID 1, files it makes; a range each", function()
    local n1 = name()
    local vol = tmp .. "/vol-" .. n1 -- missing: made, and its root's (as docker's userns-remap does)
    local c1 = start { "--rm", "--name", n1, "--network", "none", "--userns=auto", "-m", "64m", "-v", vol .. ":/vol",
      "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id; touch /vol/made; echo ready; read x" }
    finally(function() c1.stop() end)
    local out = c1.wait_for("ready")
    local st = assert(H.state(n1))
    local u, g = st.spec.linux.uidMappings[1], st.spec.linux.gidMappings[1]
    assert.same({ containerID = 0, size = 65536 }, { containerID = u.containerID, size = u.size })
    assert.truthy(u.hostID >= 100000, u.hostID)
    assert.truthy(in_entry(ranges.uid, u.hostID, 65536) and in_entry(ranges.gid, g.hostID, 65536))
    -- inside: root, its maps
    local maps = out:match("^(.-)uid="):gsub("%s+", " ")
    assert.equal((" 0 %d 65536 0 %d 65536 "):format(u.hostID, g.hostID), maps)
    assert.matches("uid=0%(root%) gid=0%(root%)", out)
    -- the host: PID 1 is uid/gid hostID (real, effective, saved, fs)
    local uid, gid = ids_of(st.pid)
    assert.equal(("%d %d %d %d"):format(u.hostID, u.hostID, u.hostID, u.hostID), uid)
    assert.equal(("%d %d %d %d"):format(g.hostID, g.hostID, g.hostID, g.hostID), gid)
    -- the file it made in the volume, and the volume wbl made
    local f = assert(fs.stat(vol .. "/made"))
    assert.same({ u.hostID, g.hostID }, { f.uid, f.gid })
    local d = assert(fs.stat(vol))
    assert.same({ u.hostID, g.hostID }, { d.uid, d.gid })
    -- cgroups: the host placed PID 1 in them (it may not write cgroup.procs itself)
    for _, dir in ipairs(st.cgroup.dirs) do
      assert.matches("%f[%d]" .. st.pid .. "%f[%D]", fs.read_file(dir.path .. "/cgroup.procs"), nil, dir.path)
    end
    -- another container at the same time: another range; -u 1000 is hostID + 1000
    local err, code
    out, err, code = run { "--rm", "--network", "none", "--userns=auto", "cat", "/proc/self/uid_map" }
    assert.equal(0, code, err)
    local h2 = tonumber(out:match("^%s*0%s+(%d+)%s+65536"))
    assert.truthy(h2, out)
    assert.are_not.equal(u.hostID, h2)
    assert.truthy(in_entry(ranges.uid, h2, 65536))
    local vol2 = tmp .. "/vol2-" .. n1 -- (there: the host's dir, mode 1777)
    assert(fs.mkdir(vol2, "0755") and fs.chmod(vol2, "1777"))
    out, err, code = run { "--rm", "--network", "none", "--userns=auto", "-u", "1000:1000", "-v", vol2 .. ":/vol",
      "sh", "-c", "touch /vol/by1000; id -u; cat /proc/self/uid_map" }
    assert.equal(0, code, err)
    local h3 = tonumber(out:match("1000\n%s*0%s+(%d+)%s+65536"))
    assert.truthy(h3, out)
    local by = assert(fs.stat(vol2 .. "/by1000"))
    assert.same({ h3 + 1000, h3 + 1000 }, { by.uid, by.gid })
    assert.equal(0, c1.stop())
    -- its range is free again once it is gone (--rm: no state)
    assert.is_nil(H.state(n1))
  end)

  H.it_priv("a 0600 file of the host root, bound in: a default container reads and chowns it, its root not", function()
    local secret = tmp .. "/secret"
    assert(fs.write_file(secret, "s3cret\n", nil, "0600"))
    assert(fs.lchown(secret, 0, 0))
    local script = "cat /secret; echo cat=$?; chown 1:1 /secret; echo chown=$?"
    local out, err, code = run { "--rm", "--network", "none", "--userns=auto", "-v", secret .. ":/secret", "sh", "-c",
      script }
    assert.equal(0, code, err)
    assert.equal("cat=1\nchown=1\n", out)
    assert.matches("can't open '/secret': Permission denied", err, 1, true)
    assert.matches("/secret: Operation not permitted", err, 1, true)
    local st = assert(fs.stat(secret))
    assert.same({ 0, 0 }, { st.uid, st.gid })
    -- without a user namespace, root is the host's root (CAP_DAC_OVERRIDE, CAP_CHOWN)
    out, err, code = run { "--rm", "--network", "none", "-v", secret .. ":/secret", "sh", "-c", script }
    assert.equal(0, code, err)
    assert.equal("s3cret\ncat=0\nchown=0\n", out)
    st = assert(fs.stat(secret))
    assert.same({ 1, 1 }, { st.uid, st.gid })
  end)

  H.it_priv("capabilities count in its own namespaces only: NET_ADMIN, SYS_TIME, MKNOD on the host's fail", function()
    local function lo_mtu() return tonumber((H.sh("ip -o link show lo")):match("mtu (%d+)")) end
    local mtu = lo_mtu()
    finally(function() H.sh("ip link set lo mtu " .. mtu) end)
    -- its own network: NET_ADMIN works, and it sees none of the host's links
    local out, err, code = run { "--rm", "--network", "none", "--userns=auto", "--cap-add", "NET_ADMIN", "sh", "-c",
      "ip link set lo mtu 1300 && cat /sys/class/net/lo/mtu && ip -o link | wc -l" }
    assert.equal(0, code, err)
    assert.equal("1300\n1\n", out)
    assert.equal(mtu, lo_mtu())
    -- the host's network: it sees the links, the kernel refuses the change
    out, err, code = run { "--rm", "--network", "host", "--userns=auto", "--cap-add", "NET_ADMIN", "sh", "-c",
      "ls /sys/class/net | grep -c '^lo$'; ip link set lo mtu 1300; echo ip=$?" }
    assert.equal(0, code, err)
    assert.equal("1\nip=2\n", out)
    assert.matches("Operation not permitted", err, 1, true)
    assert.equal(mtu, lo_mtu())
    -- a default container with NET_ADMIN on the host's network can
    local _
    _, err, code = run { "--rm", "--network", "host", "--cap-add", "NET_ADMIN", "ip", "link", "set", "lo", "mtu",
      "1300" }
    assert.equal(0, code, err)
    assert.equal(1300, lo_mtu())
    assert.equal(0, (select(3, H.sh("ip link set lo mtu " .. mtu))))
    -- SYS_TIME and MKNOD: in its effective set, refused on the host's clock and devices
    out, err, code = run { "--rm", "--network", "none", "--userns=auto", "--cap-add", "SYS_TIME", "sh", "-c",
      "grep CapEff /proc/self/status; date -s @$(date +%s) >/dev/null; mknod /tmp/sda b 8 0; echo mknod=$?" }
    assert.equal(0, code, err)
    local eff = tonumber(out:match("CapEff:%s+(%x+)"), 16)
    assert.equal(1 << 25, eff & (1 << 25)) -- CAP_SYS_TIME
    assert.equal(1 << 27, eff & (1 << 27)) -- CAP_MKNOD
    assert.matches("mknod=1\n", out, 1, true)
    assert.matches("date: can't set date: Operation not permitted", err, 1, true)
    assert.matches("mknod: /tmp/sda: Operation not permitted", err, 1, true)
    -- a default container makes the node (opening it is the device rules' to refuse)
    out, err, code = run { "--rm", "--network", "none", "sh", "-c", "mknod /tmp/sda b 8 0 && stat -c %t:%T /tmp/sda" }
    assert.equal(0, code, err)
    assert.equal("8:0\n", out)
  end)

  H.it_priv("its root and /dev work: image files are its root's, copy-up, whiteouts, the layer in its ids", function()
    local n = name()
    local img = "img-" .. n
    finally(function()
      H.wbl_run { "rm", "-f", n }
      H.wbl_run { H.top .. "/scripts/images.lua", "rm", img }
    end)
    -- Idmapped layers where the file systems allow (tmpfs: Linux 6.3), else the fallback
    local lower_ok, layer_ok = idmappable(H.rootfs), idmappable(require("wbl.config").store())
    local script = lower_ok and
      "stat -c %u:%g /bin/busybox /etc/passwd /root; echo x >> /etc/passwd && tail -n 1 /etc/passwd; " ..
      "rm /bin/ls; ls /bin/ls 2>/dev/null; rm -r /var && mkdir /var && ls -A /var | wc -l; touch /var/made; "
      or -- the image's files are nobody's: readable, not changeable; new files are its root's
      "stat -c %u:%g /bin/busybox /etc/passwd /root; (echo x >> /etc/passwd) 2>&1 | grep -o 'Permission denied'; " ..
      "cat /etc/passwd >/dev/null && echo readable; mkdir /made && stat -c %U /made; "
    local out, err, code = run { "--name", n, "--network", "none", "--userns=auto", "sh", "-c", script ..
      "stat -c %t:%T:%U /dev/null /dev/zero /dev/pts/ptmx; echo > /dev/null && head -c 4 /dev/zero | wc -c; " ..
      "stat -c %U /dev /tmp /dev/shm /dev/pts; touch /tmp/t /dev/shm/s" }
    assert.equal(0, code, err)
    assert.equal((lower_ok and "0:0\n0:0\n0:0\nx\n0\n" or
      "65534:65534\n65534:65534\n65534:65534\nPermission denied\nreadable\nroot\n") ..
      "1:3:nobody\n1:5:nobody\n5:2:root\n4\nroot\nroot\nroot\nroot\n", out)
    -- on disk, the write layer holds ids as the container saw them (idmapped),
    -- or the host's of its root (the fallback)
    local st = assert(H.state(n))
    local h = st.spec.linux.uidMappings[1].hostID
    local want = layer_ok and 0 or h
    local layer = require("wbl.image").layer_dir(n)
    local made = lower_ok and { "/upper/var/made", "/upper/etc/passwd", "/upper/bin/ls" } or { "/upper/made" }
    for _, f in ipairs(made) do
      local f_st = assert(fs.stat(layer .. f))
      assert.same({ want, want }, { f_st.uid, f_st.gid }, f)
    end
    if lower_ok then assert.equal("char", fs.stat(layer .. "/upper/bin/ls").type) end -- a whiteout
    -- started again, on the same layer and range
    local _
    _, err, code = H.wbl_run { "start", n }
    assert.equal(0, code, err)
    assert.is_true(eventually(function() local s = H.state(n); return s and s.status == "exited" end))
    st = H.state(n)
    assert.equal(0, st.exit_code) -- (its second run: stat, copy-up, ... on the same layer)
    assert.equal(h, st.spec.linux.uidMappings[1].hostID)
    if lower_ok and layer_ok then
      -- its writes as an image's layer (commit): /var, opaque, hides the image's for either overlay
      _, err, code = H.wbl_run { H.top .. "/scripts/commit.lua", n, img }
      assert.equal(0, code, err)
      for _, u in ipairs { "host", "auto" } do
        out, err, code = run { "--rm", "--network", "none", "--userns", u, "--image", img, "busybox", "ls", "-A",
          "/var" }
        assert.equal(0, code, err)
        assert.equal("made\n", out, u)
      end
    end
  end)

  H.it_priv("/proc, /sys, its cgroups, seccomp and capabilities as in any container", function()
    local out, err, code = run { "--rm", "--userns=auto", "-m", "64m", "sh", "-c",
      "ps -o pid= | wc -l; ls /sys/class/net | tr '\\n' ' '; echo; cut -d: -f3 /proc/self/cgroup | sort -u; " ..
      "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes; " ..
      "grep -E '^(Seccomp|CapEff|CapBnd):' /proc/self/status" }
    assert.equal(0, code, err)
    -- (3 processes: sh, ps and wc)
    assert.equal("3\neth0 lo \n/\n67108864\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n" ..
      "Seccomp:\t2\n", out)
    -- its IPC namespace's mqueue, mounted by its root (SYS_ADMIN in its own
    -- namespace), a queue made in it
    out, err, code = run { "--rm", "--network", "none", "--userns=auto", "--cap-add", "SYS_ADMIN", "sh", "-c",
      "mkdir /tmp/mq && mount -t mqueue mqueue /tmp/mq && touch /tmp/mq/q && stat -c %U /tmp/mq/q && " ..
      "grep ' /tmp/mq ' /proc/self/mountinfo | cut -d' ' -f9" }
    assert.equal(0, code, err)
    assert.equal("root\nmqueue\n", out)
  end)

  H.it_priv("--network none and the default bridge; -p reaches its server from the host", function()
    local out, err, code = run { "--rm", "--network", "none", "--userns=auto", "sh", "-c", "ip -o link | wc -l" }
    assert.equal(0, code, err)
    assert.equal("1\n", out)
    local c = start { "--rm", "--userns=auto", "-p", "18137:80", "sh", "-c",
      "echo hello from $(id -u) > /tmp/index.html; stat -c %U /etc/hosts; httpd -p 80 -h /tmp && echo ready; read x" }
    finally(function() c.stop() end)
    -- the /etc files are root's inside where /run/wbl can be idmapped (tmpfs: Linux 6.3)
    assert.matches((idmappable(require("wbl.config").root()) and "root" or "nobody") .. "\nready", c.wait_for("ready"))
    local body, cerr, ccode = H.sh("curl -sS --max-time 5 http://127.0.0.1:18137/index.html")
    assert.equal(0, ccode, cerr)
    assert.equal("hello from 0\n", body)
    assert.equal(0, c.stop())
  end)

  H.it_priv("the wbl entries are made when missing, clear of others; a full entry is refused, nothing made", function()
    local u, g = tmp .. "/u-subuid", tmp .. "/u-subgid"
    assert(fs.write_file(u, "alice:100000:65536\nbob:165536:65536")) -- no newline at the end
    assert(fs.write_file(g, "alice:100000:65536\n"))
    local extra = ("WBL_SUBUID=%s WBL_SUBGID=%s "):format(H.q(u), H.q(g))
    local out, err, code = run({ "--rm", "--network", "none", "--userns=auto", "cat", "/proc/self/uid_map",
      "/proc/self/gid_map" }, extra)
    assert.equal(0, code, err)
    -- the first free place on the 65536 grid above 100000 clear of both files
    assert.equal("alice:100000:65536\nbob:165536:65536\nwbl:231072:67108864\n", fs.read_file(u))
    assert.equal("alice:100000:65536\nwbl:231072:67108864\n", fs.read_file(g))
    assert.equal("0 231072 65536 0 231072 65536", (out:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")))
    -- an entry of one range: held by a running container, the next is refused
    assert(fs.write_file(u, "wbl:300000:65536\n"))
    assert(fs.write_file(g, "wbl:300000:65536\n"))
    local n = name()
    local c = start({ "--rm", "--name", n, "--network", "none", "--userns=auto", "sh", "-c",
      "echo ready; read x" }, extra)
    finally(function() c.stop() end)
    c.wait_for("ready")
    local before = H.containers()
    out, err, code = run({ "--rm", "--network", "none", "--userns=auto", "true" }, extra)
    assert.equal(125, code, out)
    assert.matches("wbl: user namespace: every range of the wbl entries of .* is held by a container %(1%)", err)
    assert.same(before, H.containers())
    assert.equal(0, c.stop())
  end)
end)
