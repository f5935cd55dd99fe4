-- Seccomp in a container: the filter the kernel applies (/proc/self/status
-- Seccomp: 2), and what it refuses, tried for real from inside by a static
-- probe; --security-opt seccomp=unconfined and --privileged take it away,
-- seccomp=FILE.json (docker's format) replaces it, --cap-add widens it.
local core = require "wbl.core"
local fs, E = core.fs, core.errno

-- `probe NAME...`: each system call in a child of its own (so that one
-- that succeeds, unshare say, changes nothing for the next), printing
-- "NAME 0" when it worked, "NAME N" for errno N, "NAME killed S" if the
-- child died of signal S (a filter that kills instead of refusing).
local probe_c = [[
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static long call(const char *a)
{
  if (!strcmp(a, "keyctl")) return syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 1);
  if (!strcmp(a, "add_key")) return syscall(SYS_add_key, "user", "wbl-seccomp", "x", 1, -2 /* process */);
  if (!strcmp(a, "request_key")) return syscall(SYS_request_key, "user", "wbl-no-such-key", NULL, 0);
  if (!strcmp(a, "bpf")) { /* an unknown command: EINVAL from the kernel, whatever the capabilities */
    union bpf_attr at; memset(&at, 0, sizeof at); return syscall(SYS_bpf, 9999, &at, sizeof at); }
  if (!strcmp(a, "init_module")) return syscall(SYS_init_module, NULL, 0, "");
  if (!strcmp(a, "finit_module")) return syscall(SYS_finit_module, -1, "", 0);
  if (!strcmp(a, "kexec_load")) /* bad flags: EINVAL if it got that far, never an unload */
    return syscall(SYS_kexec_load, 0, 0, NULL, 0xdead0000UL);
  if (!strcmp(a, "open_by_handle_at")) return syscall(SYS_open_by_handle_at, -1, NULL, 0);
  if (!strcmp(a, "unshare")) return unshare(CLONE_NEWUSER | CLONE_NEWNS);
  if (!strcmp(a, "mount")) { /* on a directory of its own, and undone */
    mkdir("/tmp/wbl-seccomp-mnt", 0700);
    long r = mount("none", "/tmp/wbl-seccomp-mnt", "tmpfs", 0, NULL);
    if (r == 0) umount("/tmp/wbl-seccomp-mnt");
    return r; }
  if (!strcmp(a, "clone_newuts")) { /* the raw syscall: libc's wrapper may prefer clone3 */
    long r = syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    if (r > 0) waitpid((pid_t)r, NULL, 0);
    return r; }
  if (!strcmp(a, "clone3")) {
    struct clone_args ca; memset(&ca, 0, sizeof ca); ca.exit_signal = SIGCHLD;
    long r = syscall(SYS_clone3, &ca, sizeof ca);
    if (r == 0) _exit(0);
    if (r > 0) waitpid((pid_t)r, NULL, 0);
    return r; }
  if (!strcmp(a, "ptrace")) return ptrace(PTRACE_TRACEME, 0, 0, 0);
  if (!strcmp(a, "socket_alg")) return socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0);
  if (!strcmp(a, "socket_inet")) return socket(AF_INET, SOCK_DGRAM, 0);
  if (!strcmp(a, "personality")) return personality(ADDR_NO_RANDOMIZE);
  if (!strcmp(a, "getpid")) return syscall(SYS_getpid);
  if (!strcmp(a, "mkdir")) return mkdir("/tmp/wbl-seccomp-dir", 0700);
  if (!strcmp(a, "chmod")) return chmod("/tmp", 01777);
  if (!strcmp(a, "keyctl32")) { /* the i386 keyctl (288) by int 0x80: the filter's x86 part */
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(288L), "b"(0L), "c"(-3L), "d"(1L)
                     : "memory", "r8", "r9", "r10", "r11");
    if (r < 0 && r > -4096) { errno = (int)-r; return -1; }
    return r; }
  fprintf(stderr, "probe: unknown call %s\n", a);
  _exit(2);
}

int main(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(call(argv[i]) < 0 ? (errno & 0xff) : 0);
    int st;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) printf("%s killed %d\n", argv[i], WTERMSIG(st));
    else printf("%s %d\n", argv[i], WEXITSTATUS(st));
  }
  return 0;
}
]]

-- `filters PID`: the seccomp filters of a process as the kernel holds
-- them (PTRACE_SECCOMP_GET_FILTER, which needs the process stopped under
-- ptrace), one line of hex per filter, the newest first.
local filters_c = [[
#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

int main(int argc, char **argv)
{
  if (argc != 2) return 2;
  pid_t pid = atoi(argv[1]);
  if (ptrace(PTRACE_ATTACH, pid, 0, 0) < 0) { perror("PTRACE_ATTACH"); return 1; }
  int st;
  if (waitpid(pid, &st, __WALL) < 0) { perror("waitpid"); return 1; }
  int rc = 0;
  for (long i = 0;; i++) {
    static struct sock_filter insns[BPF_MAXINSNS];
    long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)i, insns);
    if (n < 0) {
      if (errno != ENOENT && errno != EINVAL) { perror("PTRACE_SECCOMP_GET_FILTER"); rc = 1; }
      break;
    }
    const unsigned char *b = (const unsigned char *)insns;
    for (long k = 0; k < n * (long)sizeof *insns; k++) printf("%02x", b[k]);
    printf("\n");
  }
  ptrace(PTRACE_DETACH, pid, 0, 0);
  return rc;
}
]]

local work
local ENOKEY = 126 -- Linux's errno for "Required key not available"

-- Hex of bytes (as filters prints them).
local function hex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end

-- The seccomp filters of process pid, as the kernel holds them: a list
-- of programs in hex, the newest first.
local function filters_of(pid)
  local out, err, code = H.sh(("%s/filters %d"):format(H.q(work), pid))
  assert.equal(0, code, err)
  local list = {}
  for line in out:gmatch("[^\n]+") do list[#list + 1] = line end
  return list
end

-- A child of this process that runs fn (which loads a filter), then
-- waits, filtered, until done(); { pid =, done = }.
local function filtered_child(fn)
  local r1, w1 = assert(core.fd.pipe())
  local r2, w2 = assert(core.fd.pipe())
  local pid = assert(core.proc.fork())
  if pid == 0 then
    r1:close(); w2:close()
    local ok, why = pcall(fn)
    w1:write(ok and "ok\n" or tostring(why) .. "\n")
    r2:read(1)
    core.proc._exit(0)
  end
  w1:close(); r2:close()
  local said = r1:read(4096)
  r1:close()
  assert.equal("ok\n", said)
  local done = false
  return { pid = pid, done = function()
    if not done then done = true; w2:close(); core.proc.waitpid(pid) end
  end }
end

-- The pids of the processes in pid's pid namespace but pid itself.
local function others_in_pidns(pid)
  local ns, out = core.ns.id(pid, "pid"), {}
  for _, name in ipairs(fs.readdir("/proc") or {}) do
    local n = tonumber(name)
    if n and n ~= pid and core.ns.id(n, "pid") == ns then out[#out + 1] = n end
  end
  return out
end

-- Run the probe in a container (options first, then "--", then calls):
-- { call = errno (0: it worked) or "killed N" }, and the raw output.
local function probe_in(opts, calls)
  local a = { "--rm", "--network", "none", "-v", work .. ":/probe:ro" }
  for _, x in ipairs(opts) do a[#a + 1] = x end
  a[#a + 1] = "/probe/probe"
  for _, x in ipairs(calls) do a[#a + 1] = x end
  local out, err, code = H.run(a)
  assert.equal(0, code, err)
  local r = {}
  for name, v in out:gmatch("(%S+) ([^\n]+)\n") do r[name] = tonumber(v) or v end
  for _, c in ipairs(calls) do assert.is_not_nil(r[c], "no result for " .. c .. " in:\n" .. out) end
  return r, out
end

-- The seccomp line of /proc/self/status in a container.
local function mode_in(...)
  local a = { ... }
  for _, x in ipairs { "grep", "^Seccomp:", "/proc/self/status" } do a[#a + 1] = x end
  local out, err, code = H.run(a)
  assert.equal(0, code, err)
  return out
end

local refused = { "keyctl", "add_key", "request_key", "bpf", "init_module", "finit_module", "kexec_load",
                  "open_by_handle_at", "unshare", "mount", "clone_newuts", "socket_alg", "personality",
                  "keyctl32" }

describe("seccomp in a container #priv", function()
  setup(function()
    if not H.root then return end
    work = H.tmpdir()
    assert(fs.write_file(work .. "/probe.c", probe_c))
    local _, err, code = H.sh(("cc -static -O -o %s/probe %s/probe.c"):format(H.q(work), H.q(work)))
    assert.equal(0, code, err)
    assert(fs.write_file(work .. "/filters.c", filters_c))
    _, err, code = H.sh(("cc -O -o %s/filters %s/filters.c"):format(H.q(work), H.q(work)))
    assert.equal(0, code, err)
    assert(fs.chmod(work, "0755"))
  end)
  teardown(function() if work then require("wbl.util").rm_rf(work) end end)

  H.it_priv("by default the process has a filter: Seccomp 2, and 0 on the host side", function()
    assert.equal("Seccomp:\t2\n", mode_in())
    assert.equal(0, core.seccomp.mode()) -- not the spec's own process: wbl loads it in the container only
  end)

  H.it_priv("by default the dangerous calls fail with EPERM, and the process goes on", function()
    local r, out = probe_in({}, refused)
    for _, c in ipairs(refused) do
      assert.equal(E.EPERM, r[c], c .. " in:\n" .. out)
    end
  end)

  H.it_priv("by default clone3 says ENOSYS (libc falls back to clone), fork and sockets work, ptrace too", function()
    local r, out = probe_in({}, { "clone3", "socket_inet", "ptrace", "getpid", "mkdir" })
    assert.equal(E.ENOSYS, r.clone3, out)
    assert.same({ 0, 0, 0, 0 }, { r.socket_inet, r.ptrace, r.getpid, r.mkdir }, out)
    -- and a shell forks, pipes and execs as ever
    local o, err, code = H.run { "--rm", "--network", "none", "sh", "-c", "echo a | (cat; ls /bin/sh)" }
    assert.equal(0, code, err)
    assert.equal("a\n/bin/sh\n", o)
  end)

  H.it_priv("seccomp=unconfined: Seccomp 0, and the calls the filter refused get to the kernel", function()
    assert.equal("Seccomp:\t0\n", mode_in("--security-opt", "seccomp=unconfined"))
    local calls = { "keyctl", "add_key", "request_key", "bpf", "unshare", "clone3", "socket_alg" }
    local r, out = probe_in({ "--security-opt", "seccomp=unconfined" }, calls)
    -- what the kernel itself says, with the default capabilities
    assert.equal(0, r.keyctl, out)
    assert.equal(0, r.add_key, out)
    assert.equal(ENOKEY, r.request_key, out)          -- no such key (the filter: EPERM)
    assert.equal(E.EINVAL, r.bpf, out)
    assert.equal(0, r.unshare, out)                    -- a user namespace needs no capability
    assert.equal(0, r.clone3, out)
    assert.not_equal(E.EPERM, r.socket_alg, out)       -- 0, or EAFNOSUPPORT without AF_ALG
  end)

  H.it_priv("--privileged: Seccomp 0", function()
    assert.equal("Seccomp:\t0\n", mode_in("--privileged"))
  end)

  H.it_priv("no-new-privileges: the filter is loaded after no_new_privs, and holds", function()
    local out = mode_in("--security-opt", "no-new-privileges")
    assert.equal("Seccomp:\t2\n", out)
    local r, o = probe_in({ "--security-opt", "no-new-privileges", "-u", "1000" }, { "keyctl", "unshare" })
    assert.same({ E.EPERM, E.EPERM }, { r.keyctl, r.unshare }, o)
  end)

  H.it_priv("--cap-add SYS_ADMIN lets unshare, mount and namespace clones through the filter", function()
    local r, out = probe_in({ "--cap-add", "SYS_ADMIN" }, { "unshare", "mount", "clone_newuts", "clone3", "keyctl" })
    assert.same({ 0, 0, 0, 0 }, { r.unshare, r.mount, r.clone_newuts, r.clone3 }, out)
    assert.equal(E.EPERM, r.keyctl, out) -- never allowed, whatever the capabilities
  end)

  H.it_priv("seccomp=FILE.json in docker's format replaces the default", function()
    local f = work .. "/profile.json"
    assert(fs.write_file(f, [[{
      "defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [
        { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 },
        { "name": "getpid", "action": "SCMP_ACT_ERRNO", "errnoRet": 95 },
        { "names": ["unshare"], "action": "SCMP_ACT_ERRNO", "includes": { "caps": ["CAP_SYS_ADMIN"] } },
        { "names": ["no_such_syscall_at_all"], "action": "SCMP_ACT_ERRNO" }
      ]
    }]]))
    local opts = { "--security-opt", "seccomp=" .. f }
    assert.equal("Seccomp:\t2\n", mode_in(table.unpack(opts)))
    local r, out = probe_in(opts, { "mkdir", "getpid", "keyctl", "unshare" })
    assert.equal(E.EACCES, r.mkdir, out)
    assert.equal(E.EOPNOTSUPP, r.getpid, out)
    assert.equal(0, r.keyctl, out)  -- allowed by this profile's default
    assert.equal(0, r.unshare, out) -- its rule needs CAP_SYS_ADMIN, which the process lacks
    -- busybox's mkdir says why
    local _, err, code = H.run { "--rm", "--network", "none", "--security-opt", "seccomp=" .. f, "mkdir", "/tmp/d" }
    assert.equal(1, code)
    assert.matches("Permission denied", err)
  end)

  H.it_priv("a bad profile file exits 125 naming the file, before anything is made", function()
    local bad_json, bad_action = work .. "/bad.json", work .. "/bad-action.json"
    assert(fs.write_file(bad_json, "{ not json"))
    assert(fs.write_file(bad_action, [[{"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_PAUSE"}]}]]))
    local before = #H.containers()
    for _, case in ipairs { { work .. "/missing.json", "ENOENT" }, { bad_json, "not JSON" },
                            { bad_action, "syscalls%[1%]%.action: unknown action SCMP_ACT_PAUSE" } } do
      local name = H.name("sc")
      local _, err, code = H.run { "--name", name, "--security-opt", "seccomp=" .. case[1], "true" }
      assert.equal(125, code, err)
      assert.matches("seccomp profile " .. case[1]:gsub("%p", "%%%0"), err)
      assert.matches(case[2], err)
      assert.is_nil(H.state(name))
    end
    assert.equal(before, #H.containers())
  end)

  H.it_priv("loading the default filter costs little (WBL_TRACE marks around the step)", function()
    local trace = work .. "/trace"
    local _, err, code = H.sh(("WBL_TRACE=%s %s %s --rm --network none true"):format(
      H.q(trace), H.q(H.wbl), H.q(H.top .. "/scripts/run.lua")))
    assert.equal(0, code, err)
    -- the container's marks: the step before seccomp's, and seccomp's
    local t, prev = nil, {}
    for line in assert(fs.read_file(trace)):gmatch("[^\n]+") do
      local pid, ns, label = line:match("^(%d+)\t(%d+)\t(.*)$")
      if label == "seccomp" then t = tonumber(ns) - prev[pid] end
      prev[pid] = tonumber(ns)
    end
    assert.is_not_nil(t, "no seccomp step in the trace")
    print(("seccomp: loading the default filter took %.2f ms"):format(t / 1e6))
    assert.is_true(t < 200e6)
  end)

  -- The program compiled on the host (wbl.seccomp.compile, cached by
  -- content) and loaded by the container's process (load: seccomp(2)).

  H.it_priv("the kernel holds libseccomp's own program, byte for byte, compiled cold or served warm", function()
    local seccomp, spec = require "wbl.seccomp", require "wbl.spec"
    local p = seccomp.default(spec.default_capabilities)
    local file = seccomp.cache_dir() .. "/" .. seccomp.key(p)
    os.remove(file)
    -- libseccomp's seccomp_load (what the container's process did before)
    local a = filtered_child(function() assert(core.seccomp.load(p)) end)
    H.finally(a.done)
    local want = filters_of(a.pid)
    assert.equal(1, #want)
    assert.truthy(#want[1] > 1000 * 16, #want[1]) -- docker's profile: some 1000 instructions
    -- compiled with no cache entry: the same bytes, kept in the cache
    assert.is_nil(fs.stat(file))
    local bpf = assert(seccomp.compile(p))
    assert.equal(want[1], hex(bpf))
    assert.equal(bpf, fs.read_file(file))
    local b = filtered_child(function() assert(seccomp.load(p)) end)
    H.finally(b.done)
    assert.same(want, filters_of(b.pid))
    -- an equal profile, served from the cache
    local q = seccomp.default(spec.default_capabilities)
    assert(seccomp.compile(q))
    local c = filtered_child(function() assert(seccomp.load(q)) end)
    H.finally(c.done)
    assert.same(want, filters_of(c.pid))
  end)

  -- A profile in docker's format that refuses mkdir (EACCES) and chmod
  -- (EROFS); the file, its profile and the cache entry it gets.
  local function deny_file()
    local seccomp = require "wbl.seccomp"
    local f = work .. "/deny.json"
    assert(fs.write_file(f, [[{ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 },
      { "names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 30 } ] }]]))
    local p = assert(seccomp.read(f, {})) -- (no rule names a capability: the same for any)
    return f, p, seccomp.cache_dir() .. "/" .. seccomp.key(p)
  end

  H.it_priv("seccomp=FILE.json: the same filter from a cold cache and a warm one, the cache's in the kernel", function()
    local seccomp = require "wbl.seccomp"
    local f, p, file = deny_file()
    os.remove(file)
    H.finally(function() os.remove(file) end)
    local want = assert(core.seccomp.compile(p))
    local opts = { "--security-opt", "seccomp=" .. f }
    local function run()
      local r, out = probe_in(opts, { "mkdir", "chmod", "getpid" })
      return { r.mkdir, r.chmod, r.getpid }, out
    end
    -- cold: no entry; the run makes it
    assert.is_nil(fs.stat(file))
    local got, out = run()
    assert.same({ E.EACCES, E.EROFS, 0 }, got, out)
    assert.equal(want, fs.read_file(file))
    local made = fs.stat(file).ino
    -- warm: the same in the kernel; the entry was read, not made again
    got, out = run()
    assert.same({ E.EACCES, E.EROFS, 0 }, got, out)
    assert.equal("Seccomp:\t2\n", mode_in(table.unpack(opts)))
    assert.equal(made, fs.stat(file).ino)
    -- what the container loads is what the cache holds: another valid
    -- program planted there (mkdir EPERM, chmod allowed) is the one applied
    local planted = assert(core.seccomp.compile(assert(seccomp.from_docker({ defaultAction = "SCMP_ACT_ALLOW",
      syscalls = { { names = { "mkdir", "mkdirat" }, action = "SCMP_ACT_ERRNO", errnoRet = E.EPERM } } }, {}))))
    assert(fs.write_file(file, planted, nil, "0600"))
    got, out = run()
    assert.same({ E.EPERM, 0, 0 }, got, out)
  end)

  H.it_priv("wbl exec into the running container gets exactly its filter: Seccomp 2, the denied calls fail", function()
    local f, p = deny_file()
    local want = hex(assert(core.seccomp.compile(p)))
    local name = H.name("scx")
    local _, err, code = H.run { "-d", "--name", name, "--network", "none", "-v", work .. ":/probe:ro",
                                 "--security-opt", "seccomp=" .. f, "sleep", "1000" }
    H.finally(function() H.wbl_run { H.top .. "/scripts/rm.lua", "-f", name } end)
    assert.equal(0, code, err)
    local function exec(...) return H.wbl_run { H.top .. "/scripts/exec.lua", name, ... } end
    local out
    out, err, code = exec("/probe/probe", "mkdir", "chmod", "getpid")
    assert.equal(0, code, err)
    assert.equal(("mkdir %d\nchmod %d\ngetpid 0\n"):format(E.EACCES, E.EROFS), out)
    out, err, code = exec("grep", "-E", "^(Seccomp|NoNewPrivs):", "/proc/self/status")
    assert.equal(0, code, err)
    assert.equal("NoNewPrivs:\t0\nSeccomp:\t2\n", out)
    _, err, code = exec("chmod", "700", "/tmp")
    assert.equal(1, code)
    assert.matches("Read%-only file system", err)
    -- in the kernel: one filter each, PID 1's and an exec'd process's, the program itself
    local pid1 = H.state(name).pid
    assert.same({ want }, filters_of(pid1))
    _, err, code = H.wbl_run { H.top .. "/scripts/exec.lua", "-d", name, "sleep", "1000" }
    assert.equal(0, code, err)
    local others = others_in_pidns(pid1)
    assert.equal(1, #others)
    assert.same({ want }, filters_of(others[1]))
  end)

  H.it_priv("the profile's flags reach the kernel: SECCOMP_FILTER_FLAG_LOG has refused calls logged", function()
    local seccomp, util = require "wbl.seccomp", require "wbl.util"
    for _, pid in ipairs(fs.readdir("/proc") or {}) do
      if (fs.read_file("/proc/" .. pid .. "/comm") or "") == "auditd\n" then
        return pending("auditd runs: the audit lines go to it, not the kernel log")
      end
    end
    -- a child refused mkdir by a filter (action, flags), under a name of
    -- its own (the audit line's comm)
    local function refused_with(action, flags)
      local name = "wblsc" .. util.random_hex(4)
      local p = { defaultAction = "SCMP_ACT_ALLOW", flags = flags,
                  syscalls = { { names = { "mkdir" }, action = action, errnoRet = E.EACCES } } }
      assert(seccomp.compile(p))
      local c = filtered_child(function()
        assert(fs.write_file("/proc/self/comm", name))
        assert(seccomp.load(p))
        fs.mkdir(work .. "/refused", "0700")
      end)
      c.done()
      return 'comm="' .. name .. '"'
    end
    -- the kernel log, once it has tag's line (or after 5 s, without)
    local function log_with(tag)
      local text
      for _ = 1, 100 do
        text = H.sh("dmesg")
        if text:find(tag, 1, true) then break end
        util.sleep_ms(50)
      end
      return text
    end
    local quiet = refused_with("SCMP_ACT_ERRNO")
    local logged = refused_with("SCMP_ACT_ERRNO", { "SECCOMP_FILTER_FLAG_LOG" })
    local text = log_with(logged)
    if not text:find(logged, 1, true) then
      -- is audit logging at all?  SCMP_ACT_LOG is logged without the flag
      local control = refused_with("SCMP_ACT_LOG")
      if not log_with(control):find(control, 1, true) then
        return pending("audit does not log seccomp actions here (audit off)")
      end
    end
    -- audit's lines come in order: the flagged child's came after the other's
    assert.truthy(text:find("type=1326 [^\n]*" .. logged .. "[^\n]* syscall=83 "), text:sub(-2000))
    assert.is_nil(text:find(quiet, 1, true), text:sub(-2000))
  end)
end)
