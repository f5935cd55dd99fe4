-- wbl.core.caps as root: each binding proven by what the kernel then
-- shows in /proc/self/status and by what it then refuses.  Every case runs
-- in a child, so the spec process keeps its capabilities.
local core = require "wbl.core"
local C, P, fs, E = core.caps, core.proc, core.fs, core.errno

local function status(field)
  local s = assert(fs.read_file("/proc/self/status"))
  return tonumber(s:match(field .. ":%s*(%x+)"), 16)
end

local function bit(name)
  for i, n in ipairs(C.names) do if n == name then return 1 << (i - 1) end end
end

-- assert that a call failed with errno en.
local function fails(en, ok, msg, got)
  assert(ok == nil, "expected a failure, got " .. tostring(ok))
  assert(got == en, ("expected errno %d, got %s (%s)"):format(en, tostring(got), tostring(msg)))
  return msg
end

-- Run fn in a child that asserts freely; the spec sees it exit 0.
local function child(fn)
  local how, code = H.in_child(function() fn() return 0 end)
  assert.same({ "exited", 0 }, { how, code })
end

-- In a child: exec argv (the host's programs); its stdout.
local function exec_out(prepare, argv)
  local r, w = assert(core.fd.pipe())
  local pid = assert(P.fork())
  if pid == 0 then
    local ok, err = pcall(function()
      r:close()
      prepare()
      w:dup2(1)
      w:close()
      P.execve(argv[1], argv)
    end)
    io.stderr:write(tostring(err or ok), "\n")
    P._exit(99)
  end
  w:close()
  local out = ""
  repeat
    local s = assert(r:read())
    out = out .. s
  until s == ""
  r:close()
  assert.same({ pid, "exited", 0 }, { P.waitpid(pid) })
  return out
end

local function cap_eff_after_exec(prepare)
  local out = exec_out(prepare, { "/bin/sh", "-c", "grep CapEff /proc/self/status" })
  return tonumber(out:match("CapEff:%s*(%x+)"), 16)
end

describe("wbl.core.caps #priv", function()
  local dir
  before_each(function() if H.root then dir = H.tmpdir() end end)
  after_each(function()
    if dir then H.sh("rm -rf " .. H.q(dir)) end
    dir = nil
  end)

  H.it_priv("bounding_drop takes a capability out of CapBnd, for exec'd programs too", function()
    local f = dir .. "/f"
    assert(fs.write_file(f, ""))
    child(function()
      assert(C.bounding_has("CAP_CHOWN"))
      assert(C.bounding_drop("CHOWN"))
      assert(not C.bounding_has("CAP_CHOWN"))
      assert(status("CapBnd") & bit("CAP_CHOWN") == 0)
      -- Dropping it again is no error (it is just not there).
      assert(C.bounding_drop("CAP_CHOWN"))
    end)
    -- Root's exec fills permitted from the bounding set: no CAP_CHOWN.
    local out = exec_out(function() assert(C.bounding_drop("CAP_CHOWN")) end,
      { "/bin/sh", "-c", "chown 1 " .. H.q(f) .. " 2>&1; echo rc=$?" })
    assert.matches("Operation not permitted", out)
    assert.matches("rc=1", out)
    out = exec_out(function() end, { "/bin/sh", "-c", "chown 1 " .. H.q(f) .. " 2>&1; echo rc=$?" })
    assert.equal("rc=0\n", out)
  end)

  H.it_priv("bounding_drop without CAP_SETPCAP fails with EPERM", function()
    child(function()
      local all = C.get().permitted
      local without = {}
      for _, n in ipairs(all) do if n ~= "CAP_SETPCAP" then without[#without + 1] = n end end
      assert(C.set { permitted = all, effective = without })
      local msg = fails(E.EPERM, C.bounding_drop("CAP_SYS_MODULE"))
      assert(msg:find("bounding_drop CAP_SYS_MODULE", 1, true), msg)
      assert(C.bounding_has("CAP_SYS_MODULE"))
    end)
  end)

  H.it_priv("set gives the three sets exactly; the kernel enforces effective", function()
    local f = dir .. "/f"
    assert(fs.write_file(f, ""))
    child(function()
      assert(C.set { permitted = { "CAP_CHOWN", "CAP_KILL" }, effective = { "CAP_CHOWN" },
                     inheritable = { "CAP_KILL" } })
      assert(status("CapPrm") == bit("CAP_CHOWN") | bit("CAP_KILL"))
      assert(status("CapEff") == bit("CAP_CHOWN"))
      assert(status("CapInh") == bit("CAP_KILL"))
      local got = C.get()
      assert(#got.permitted == 2 and got.effective[1] == "CAP_CHOWN" and got.inheritable[1] == "CAP_KILL")
      assert(fs.lchown(f, 1, 1))
      -- Permitted but not effective: refused.
      assert(C.set { permitted = { "CAP_CHOWN" } })
      fails(E.EPERM, fs.lchown(f, 2, 2))
      -- And back: effective may take what is permitted.
      assert(C.set { permitted = { "CAP_CHOWN" }, effective = { "CAP_CHOWN" } })
      assert(fs.lchown(f, 2, 2))
    end)
  end)

  H.it_priv("set fails with EPERM beyond permitted or the bounding set", function()
    child(function()
      assert(C.set { permitted = { "CAP_CHOWN", "CAP_SETPCAP" }, effective = { "CAP_SETPCAP" } })
      -- Permitted can only shrink; effective only within permitted.
      local msg = fails(E.EPERM, C.set { permitted = { "CAP_CHOWN", "CAP_KILL" } })
      assert(msg:find("capset", 1, true), msg)
      fails(E.EPERM, C.set { permitted = { "CAP_CHOWN" }, effective = { "CAP_KILL" } })
      assert(status("CapPrm") == bit("CAP_CHOWN") | bit("CAP_SETPCAP"))
    end)
    child(function()
      -- Inheritable: never beyond the bounding set, even with CAP_SETPCAP.
      assert(C.bounding_drop("CAP_SYS_MODULE"))
      local all = C.get().permitted
      fails(E.EPERM, C.set { permitted = all, effective = all, inheritable = { "CAP_SYS_MODULE" } })
      assert(C.set { permitted = all, effective = all, inheritable = { "CAP_KILL" } })
    end)
  end)

  H.it_priv("ambient_raise needs permitted and inheritable; ambient_has and ambient_clear", function()
    child(function()
      assert(C.ambient_clear())
      local msg = fails(E.EPERM, C.ambient_raise("CAP_KILL"))
      assert(msg:find("ambient_raise CAP_KILL", 1, true), msg)
      local all = C.get().permitted
      assert(C.set { permitted = all, effective = all, inheritable = { "CAP_KILL" } })
      assert(C.ambient_raise("KILL"))
      assert(C.ambient_has("CAP_KILL") == true)
      assert(C.ambient_has("CAP_CHOWN") == false)
      assert(status("CapAmb") == bit("CAP_KILL"))
      assert(C.ambient_clear())
      assert(C.ambient_has("CAP_KILL") == false)
      assert(status("CapAmb") == 0)
      fails(E.EINVAL, C.ambient_has(63))
    end)
  end)

  H.it_priv("keep_caps keeps permitted across setuid; ambient gives a non-root exec its capabilities", function()
    child(function()
      -- Without keep_caps, setuid from root to 1000 clears permitted.
      assert(C.keep_caps() == false)
      assert(P.setuid(1000))
      local got = C.get()
      assert(#got.permitted == 0 and #got.effective == 0, "setuid left capabilities")
    end)
    child(function()
      assert(C.keep_caps(true))
      assert(C.keep_caps() == true)
      assert(P.setuid(1000))
      local got = C.get()
      assert(#got.effective == 0, "effective is cleared all the same")
      assert(#got.permitted > 0, "keep_caps kept permitted")
    end)
    local function as_user(ambient)
      return function()
        assert(C.keep_caps(true))
        assert(P.setuid(1000))
        assert(C.set { permitted = { "CAP_CHOWN" }, effective = { "CAP_CHOWN" },
                       inheritable = { "CAP_CHOWN" } })
        if ambient then assert(C.ambient_raise("CAP_CHOWN")) end
      end
    end
    assert.equal(0, cap_eff_after_exec(as_user(false)))
    assert.equal(bit("CAP_CHOWN"), cap_eff_after_exec(as_user(true)))
  end)

  H.it_priv("securebits: read and set by name; the kernel follows them", function()
    child(function()
      assert(#C.securebits() == 0)
      assert(C.securebits { "keep_caps" })
      assert(C.securebits()[1] == "keep_caps")
      assert(C.keep_caps() == true) -- the same bit
      assert(C.securebits("no_setuid_fixup,keep_caps"))
      local bits = C.securebits()
      assert(#bits == 2, table.concat(bits, ","))
      -- no_setuid_fixup: setuid clears nothing, not even effective.
      local eff = status("CapEff")
      assert(P.setuid(1000))
      assert(status("CapEff") == eff)
    end)
    -- noroot: root's exec no longer fills permitted from the bounding set.
    assert.equal(0, cap_eff_after_exec(function()
      assert(C.securebits { "noroot" })
    end))
    assert.is_true(cap_eff_after_exec(function() end) ~= 0)
    child(function()
      -- A locked bit cannot change; without CAP_SETPCAP none can.
      assert(C.securebits { "keep_caps_locked" })
      assert(C.securebits()[1] == "keep_caps_locked")
      fails(E.EPERM, C.keep_caps(true))
      fails(E.EPERM, C.securebits { "keep_caps" })
    end)
    child(function()
      assert(C.set { permitted = { "CAP_CHOWN" }, effective = { "CAP_CHOWN" } })
      local msg = fails(E.EPERM, C.securebits { "noroot" })
      assert(msg:find("securebits", 1, true), msg)
    end)
  end)
end)
