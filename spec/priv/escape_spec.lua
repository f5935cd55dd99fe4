-- Escapes: what root in a default container must NOT be able to do to the
-- host, each tried for real from inside (docker's default confinement is
-- the bar).  Writes are only probed (an open for append, nothing written).
-- Runs on this hybrid host and in the pure cgroup v2 VM (make test-vm).
local core = require "wbl.core"
local fs = core.fs

-- A static probe, bound into the container: `probe NAME` makes one system
-- call and prints "NAME ok" or "NAME errno=N".
local probe_c = [[
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>
static void say(const char *what, long r) {
  if (r < 0) printf("%s errno=%d\n", what, errno); else printf("%s ok\n", what);
}
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "keyctl")) say(a, syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0));
    else if (!strcmp(a, "add_key")) say(a, syscall(SYS_add_key, "user", "wbl-escape", "x", 1, -3));
    else if (!strcmp(a, "bpf")) { union bpf_attr at; memset(&at, 0, sizeof at);
      at.map_type = BPF_MAP_TYPE_ARRAY; at.key_size = 4; at.value_size = 4; at.max_entries = 1;
      say(a, syscall(SYS_bpf, BPF_MAP_CREATE, &at, sizeof at)); }
    else if (!strcmp(a, "init_module")) say(a, syscall(SYS_init_module, "", 0, ""));
    else if (!strcmp(a, "unshare")) say(a, unshare(CLONE_NEWNS | CLONE_NEWUSER));
  }
  return 0;
}
]]

local work, probe

local function run(...)
  local a = { "--rm", "--network", "none", "-v", probe .. ":/probe:ro" }
  for _, x in ipairs({ ... }) do a[#a + 1] = x end
  return H.run(a)
end

-- The capability mask of a list of names (bit n for spec.all_capabilities[n+1]).
local function mask(names)
  local spec = require "wbl.spec"
  local bit = {}
  for i, n in ipairs(spec.all_capabilities) do bit[n] = i - 1 end
  local m = 0
  for _, n in ipairs(names) do m = m | (1 << bit[n]) end
  return ("%016x"):format(m)
end

describe("escapes from a default container #priv", function()
  setup(function()
    if not H.root then return end
    work = H.tmpdir()
    assert(fs.write_file(work .. "/probe.c", probe_c))
    local _, err, code = H.sh(("cc -static -O -o %s/probe %s/probe.c"):format(H.q(work), H.q(work)))
    assert.equal(0, code, err)
    probe = work .. "/probe"
  end)
  teardown(function() if work then require("wbl.util").rm_rf(work) end end)

  H.it_priv("the host's core_pattern and sysrq-trigger cannot be opened for writing", function()
    local out, err, code = run("sh", "-c",
      "for f in /proc/sys/kernel/core_pattern /proc/sysrq-trigger; do " ..
      "(exec 3>>$f) 2>/dev/null && echo $f OPENED || echo $f refused; done")
    assert.equal(0, code, err)
    assert.equal("/proc/sys/kernel/core_pattern refused\n/proc/sysrq-trigger refused\n", out)
  end)

  H.it_priv("/proc/kcore and /proc/keys show nothing of the host", function()
    local out, err, code = run("sh", "-c",
      "for f in /proc/kcore /proc/keys /proc/timer_list; do " ..
      "if [ -e $f ]; then echo $f $(stat -c %t:%T $f) $(head -c 64 $f | wc -c); else echo $f absent; fi; done")
    assert.equal(0, code, err)
    -- masked: /dev/null (char 1:3) bound over it, or absent in this kernel
    for line in out:gmatch("[^\n]+") do
      assert.truthy(line:match(" absent$") or line:match(" 1:3 0$"), line)
    end
  end)

  H.it_priv("mount(2) of a new proc, sysfs or tmpfs fails", function()
    local out, err, code = run("sh", "-c",
      "mkdir -p /tmp/m; for t in proc sysfs tmpfs; do " ..
      "mount -t $t $t /tmp/m 2>/dev/null && echo $t MOUNTED || echo $t refused; done")
    assert.equal(0, code, err)
    assert.equal("proc refused\nsysfs refused\ntmpfs refused\n", out)
  end)

  H.it_priv("keyctl, add_key, bpf, init_module and unshare fail with EPERM", function()
    local out, err, code = run("/probe", "keyctl", "add_key", "bpf", "init_module", "unshare")
    assert.equal(0, code, err)
    local eperm = core.errno.EPERM
    for _, call in ipairs { "keyctl", "add_key", "bpf", "init_module", "unshare" } do
      assert.matches(call .. " errno=" .. eperm .. "\n", out, 1, true)
    end
  end)

  H.it_priv("the capabilities are docker's 14, in every set but inheritable and ambient", function()
    local out, err, code = run("grep", "^Cap", "/proc/self/status")
    assert.equal(0, code, err)
    local want = mask(require("wbl.spec").default_capabilities)
    assert.matches("CapInh:\t0000000000000000", out, 1, true)
    assert.matches("CapPrm:\t" .. want, out, 1, true)
    assert.matches("CapEff:\t" .. want, out, 1, true)
    assert.matches("CapBnd:\t" .. want, out, 1, true)
    assert.matches("CapAmb:\t0000000000000000", out, 1, true)
  end)

  H.it_priv("a block device of the host, made with mknod, cannot be opened", function()
    -- the first block device the host itself can open (some hosts refuse
    -- even root their disk: then a loop device), so only the rules stop it
    local major, minor = "7", "0"
    for ma, mi, name in (fs.read_file("/proc/partitions") or ""):gmatch("\n%s*(%d+)%s+(%d+)%s+%d+%s+(%S+)") do
      local f = core.fd.open("/dev/" .. name, "rdonly")
      if f then f:close(); major, minor = ma, mi; break end
    end
    local out, err, code = run("sh", "-c", ("mknod /dev/disk-x b %s %s && echo made; " ..
      "head -c 1 /dev/disk-x >/dev/null 2>&1 && echo OPENED || echo refused"):format(major, minor))
    assert.equal(0, code, err)
    assert.equal("made\nrefused\n", out)
  end)

  H.it_priv("the terminal inside is not the caller's; TIOCSTI from inside leaves nothing in it", function()
    local T, pty = require "terminal", core.pty
    local sti = T.sti(work)
    local name = H.name("esctty")
    local job = T.start({ "--rm", "--network", "none", "--name", name, "-v", sti .. ":/sti:ro", "-ti", "sh", "-c",
      "stat -L -c fd0=%d:%i /proc/self/fd/0; echo ready; read x; /sti 'touch /tmp/typed'" })
    finally(function() job:close() end)
    local out = job:expect("ready")
    assert.not_equal(job.caller, out:match("fd0=(%d+:%d+)")) -- another device than the caller's
    assert.same({}, T.holders(assert(H.state(name)).pid, job.path)) -- nobody inside holds the caller's
    job:send("\r")
    job:wait()
    assert.equal("", job:pending()) -- nothing typed into the caller's input
    assert.equal(job.mode, pty.get_mode(job.slave))
  end)

  H.it_priv("PID 1 runs the image's program, not the host's wbl", function()
    local name = H.name("exe")
    local job = H.start { "--name", name, "--network", "none", "sh", "-c", "echo up; exec sleep 30" }
    local st
    finally(function()
      if st then core.proc.kill(st.pid, "SIGKILL") end -- PID 1: the container ends, wbl tears down
      H.wait(job)
    end)
    assert.equal("up", H.read_line(job))
    st = assert(H.state(name))
    local exe = assert(fs.stat("/proc/" .. st.pid .. "/exe"))
    local wbl = assert(fs.stat(H.wbl))
    assert.is_false(exe.dev == wbl.dev and exe.ino == wbl.ino, "PID 1 is the host's wbl binary")
    assert.equal("/bin/busybox", fs.readlink("/proc/" .. st.pid .. "/exe")) -- in its own root
  end)
end)
