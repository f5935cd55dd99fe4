-- wbl exec: a command in a running container, in all its namespaces, its
-- cgroups and root, confined as its PID 1 (the same process tail), with
-- the command's status; and never a way for the container to reach the
-- host's wbl binary (CVE-2019-5736), tried for real by a probe inside.
local core = require "wbl.core"
local util = require "wbl.util"
local fs, P = core.fs, core.proc

-- `wbl COMMAND ARGS...`: stdout, stderr, status (input: stdin's text).
local function wblcmd(cmd, args, input)
  local a = { H.top .. "/scripts/" .. cmd .. ".lua" }
  for _, x in ipairs(args) do a[#a + 1] = x end
  return H.wbl_run(a, input)
end
local function exec(...) return wblcmd("exec", { ... }) end

-- `wbl exec ARGS...` in the background, stdin /dev/null, stdout on a pipe
-- (H.read_line, H.wait).
local function start_exec(args)
  local r, w = assert(core.fd.pipe())
  local argv = { H.wbl, H.top .. "/scripts/exec.lua" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local pid = assert(P.fork())
  if pid == 0 then
    pcall(function()
      w:dup2(1)
      core.fd.open("/dev/null", "rdonly"):dup2(0)
      P.execve(H.wbl, argv)
    end)
    P._exit(127)
  end
  w:close()
  return { pid = pid, out = r }
end

-- `wbl exec ARGS...` with stdio the null device; its status.
local function quiet(args)
  local argv = { H.wbl, H.top .. "/scripts/exec.lua" }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local pid = assert(P.fork())
  if pid == 0 then
    pcall(function()
      local null = core.fd.open("/dev/null", "rdwr")
      for i = 0, 2 do null:dup2(i) end
      P.execve(H.wbl, argv)
    end)
    P._exit(127)
  end
  local _, how, code = P.waitpid(pid)
  return how == "exited" and code or 128 + code
end

-- A detached container; its name.  Removed by rm_all() (after each case).
local made = {}
local function detached(prefix, ...)
  local name = H.name(prefix)
  local a = { "-d", "--name", name }
  for _, x in ipairs({ ... }) do a[#a + 1] = x end
  local _, err, code = H.run(a)
  assert.equal(0, code, err)
  made[#made + 1] = name
  return name
end
local function rm_all()
  for _, n in ipairs(made) do wblcmd("rm", { "-f", n }) end
  made = {}
end

-- "dev:ino" of a path (followed).
local function id(path)
  local st = fs.stat(path)
  return st and (st.dev .. ":" .. st.ino)
end

-- The fields of /proc/PID/status text that say how a process is confined.
local function confinement(status)
  local out = {}
  for _, k in ipairs { "Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                       "Seccomp" } do
    out[k] = status:match("\n" .. k .. ":[ \t]*([^\n]*)")
  end
  return out
end

-- The static probe (see the CVE-2019-5736 case).
local probe_c = [[
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* exe OUT STOP: until the file STOP exists, go over every process this one
 * sees (its /proc) and open /proc/PID/exe for writing (O_WRONLY), and with
 * O_PATH, then for writing again through /proc/self/fd/N (the CVE-2019-5736
 * way), never writing a byte; of those named "wbl" (a joining process
 * before its exec) also open each of /proc/PID/fd/0..15 and /proc/PID/root.
 * Then write to OUT its counts and each distinct file reached:
 * "KIND dev:ino comm" (W, P, R: exe; F: an fd other than the null device
 * and the container's ptys, what commands get as stdio; D: a root other
 * than this container's).  A joining process is seen as "wbl" until its
 * exec has begun, and some time after: each exec'd command's stdio must
 * be those. */
#define MAX 256
static struct { char kind; unsigned long long dev, ino; char comm[20]; } hit[MAX];
static int nhit;
static long rounds, seen, wbl_seen, refused[4];
static struct stat root, pts;

static void record(char kind, int fd, const char *comm) {
  struct stat st;
  if (fstat(fd, &st) < 0) return;
  if (kind == 'F' && S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3) return;
  if (kind == 'F' && st.st_dev == pts.st_dev) return; /* a -t command's terminal: the container's */
  if (kind == 'D' && st.st_dev == root.st_dev && st.st_ino == root.st_ino) return;
  for (int i = 0; i < nhit; i++)
    if (hit[i].kind == kind && hit[i].dev == st.st_dev && hit[i].ino == st.st_ino && !strcmp(hit[i].comm, comm))
      return;
  if (nhit == MAX) return;
  hit[nhit].kind = kind; hit[nhit].dev = st.st_dev; hit[nhit].ino = st.st_ino;
  snprintf(hit[nhit].comm, sizeof hit[nhit].comm, "%s", comm);
  nhit++;
}

int main(int argc, char **argv) {
  if (argc < 3) return 2;
  pid_t self = getpid();
  char path[64], comm[20], link[64];
  if (stat("/", &root) < 0 || stat("/dev/pts/ptmx", &pts) < 0) return 3;
  while (access(argv[2], F_OK) != 0) {
    DIR *d = opendir("/proc");
    if (!d) return 3;
    struct dirent *e;
    while ((e = readdir(d))) {
      int pid = atoi(e->d_name);
      if (pid <= 0 || pid == self) continue;
      seen++;
      snprintf(path, sizeof path, "/proc/%d/comm", pid);
      int cf = open(path, O_RDONLY | O_CLOEXEC);
      ssize_t n = cf >= 0 ? read(cf, comm, sizeof comm - 1) : -1;
      if (cf >= 0) close(cf);
      if (n <= 0) continue;
      comm[n] = 0;
      comm[strcspn(comm, "\n")] = 0;
      int wbl = strcmp(comm, "wbl") == 0;
      wbl_seen += wbl;
      snprintf(path, sizeof path, "/proc/%d/exe", pid);
      int fd = open(path, O_WRONLY | O_CLOEXEC);
      if (fd >= 0) { record('W', fd, comm); close(fd); }
      else if (wbl) refused[0]++;
      fd = open(path, O_PATH | O_CLOEXEC);
      if (fd >= 0) {
        record('P', fd, comm);
        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
        int w = open(link, O_WRONLY | O_CLOEXEC);
        if (w >= 0) { record('R', w, comm); close(w); }
        close(fd);
      } else if (wbl) refused[1]++;
      if (wbl) {
        for (int i = 0; i < 16; i++) {
          snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, i);
          fd = open(path, O_PATH | O_CLOEXEC);
          if (fd >= 0) { record('F', fd, comm); close(fd); } else if (errno != ENOENT) refused[2]++;
        }
        snprintf(path, sizeof path, "/proc/%d/root", pid);
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) { record('D', fd, comm); close(fd); } else refused[3]++;
      }
    }
    closedir(d);
    rounds++;
  }
  FILE *out = fopen(argv[1], "w");
  if (!out) return 4;
  fprintf(out, "rounds %ld seen %ld wbl %ld refused %ld %ld %ld %ld\n", rounds, seen, wbl_seen,
          refused[0], refused[1], refused[2], refused[3]);
  for (int i = 0; i < nhit; i++)
    fprintf(out, "%c %llu:%llu %s\n", hit[i].kind, hit[i].dev, hit[i].ino, hit[i].comm);
  return fclose(out) == 0 ? 0 : 5;
}
]]

describe("wbl exec #priv", function()
  after_each(rm_all)

  H.it_priv("joins every namespace of PID 1: its PID namespace, root, mounts, hostname and network", function()
    local name = detached("exns", "--hostname", "boxy", "sh", "-c", "echo m1 > /tmp/marker; exec sleep 1000")
    local out, err, code = exec(name, "sh", "-c",
      "for t in pid mnt net uts ipc cgroup; do " ..
      "[ \"$(readlink /proc/self/ns/$t)\" = \"$(readlink /proc/1/ns/$t)\" ] && echo $t same || echo $t OTHER; done; " ..
      "[ \"$(stat -c %d:%i /)\" = \"$(stat -L -c %d:%i /proc/1/root)\" ] && echo root same; " ..
      "cmp -s /proc/self/mountinfo /proc/1/mountinfo && echo mounts same; " ..
      "cat /tmp/marker; hostname; ip -4 -o addr show eth0; echo ---; ps -o pid,args")
    assert.equal(0, code, err)
    for _, t in ipairs { "pid", "mnt", "net", "uts", "ipc", "cgroup" } do
      assert.truthy(out:find(t .. " same\n", 1, true), out)
    end
    assert.truthy(out:find("root same\nmounts same\nm1\nboxy\n", 1, true), out)
    local ip = assert(H.state(name)).net.ip
    assert.truthy(out:find("inet " .. ip .. "/", 1, true), out) -- its address
    -- ps: the container's processes only, its PID 1 as 1
    local ps = out:match("%-%-%-\n(.*)$")
    assert.truthy(ps:find("\n%s*1 sleep 1000\n"), ps)
    for pid in ps:gmatch("\n%s*(%d+) ") do assert.truthy(tonumber(pid) < 10, ps) end -- nothing of the host's
  end)

  H.it_priv("is confined as PID 1: capabilities, seccomp, no_new_privs, user, groups, limits", function()
    local name = detached("exconf", "--network", "none", "-u", "1000:1000", "--group-add", "100",
      "--security-opt", "no-new-privileges", "--cap-drop", "NET_RAW", "--ulimit", "nofile=512:1024", "sleep", "1000")
    local out, err, code = exec(name, "sh", "-c", "cat /proc/self/status; echo ---; cat /proc/1/status; " ..
      "echo ---; ulimit -n")
    assert.equal(0, code, err)
    local mine, pid1, nofile = out:match("^(.-)\n%-%-%-\n(.-)\n%-%-%-\n(.*)$")
    local c, c1 = confinement("\n" .. mine), confinement("\n" .. pid1)
    assert.same(c1, c)
    assert.equal("2", c.Seccomp)
    assert.equal("1", c.NoNewPrivs)
    assert.truthy(c.Uid:match("^1000%s"), c.Uid)
    assert.equal("0000000000000000", c.CapEff) -- uid 1000: none, as PID 1
    assert.equal("512\n", nofile)
    -- -u 0: root, with the container's capabilities (its bounding set:
    -- docker's 14 but NET_RAW), still under its seccomp filter and no_new_privs
    out, err, code = exec("-u", "0", name, "cat", "/proc/self/status")
    assert.equal(0, code, err)
    c = confinement("\n" .. out)
    assert.truthy(c.Uid:match("^0%s"), c.Uid)
    assert.equal(c1.CapBnd, c.CapBnd)
    assert.equal(c1.CapBnd, c.CapEff)
    assert.equal("2", c.Seccomp)
    assert.equal("1", c.NoNewPrivs)
    -- a default container's root: docker's 14 in effect, seccomp, no no_new_privs
    local def = detached("exdef", "--network", "none", "sleep", "1000")
    out, err, code = exec(def, "sh", "-c", "cat /proc/self/status; echo ---; cat /proc/1/status")
    assert.equal(0, code, err)
    mine, pid1 = out:match("^(.-)\n%-%-%-\n(.*)$")
    c, c1 = confinement("\n" .. mine), confinement("\n" .. pid1)
    assert.same(c1, c)
    assert.equal("00000000a80425fb", c.CapEff)
    assert.equal("2", c.Seccomp)
    assert.equal("0", c.NoNewPrivs)
    -- and the kernel refuses what the filter and the capabilities do
    local _
    _, err, code = exec(def, "unshare", "-n", "true")
    assert.equal(1, code)
    assert.truthy(err:find("Operation not permitted", 1, true), err)
  end)

  H.it_priv("is in the container's cgroups (its cgroup namespace shows /); the pids limit counts it", function()
    local _
    local name = detached("excg", "--network", "none", "--pids-limit", "3", "sleep", "1000")
    local out, err, code = exec(name, "sh", "-c", "cat /proc/self/cgroup; echo ---; cat /proc/1/cgroup")
    assert.equal(0, code, err)
    local mine, pid1 = out:match("^(.-\n)%-%-%-\n(.*)$")
    assert.equal(pid1, mine)
    for line in mine:gmatch("[^\n]+") do assert.truthy(line:match(":/$"), line) end
    -- from the host: the exec'd process in the same cgroups as PID 1;
    -- wbl exec itself stays outside
    local job = start_exec { name, "sh", "-c", "echo $$; exec sleep 30" }
    assert.truthy(H.read_line(job))
    local st = assert(H.state(name))
    local exec_pid
    for _ = 1, 100 do
      for _, p in ipairs(fs.readdir("/proc") or {}) do
        if p:match("^%d+$") and fs.readlink("/proc/" .. p .. "/ns/pid") == fs.readlink("/proc/" .. st.pid .. "/ns/pid")
            and (fs.read_file("/proc/" .. p .. "/comm") or "") == "sleep\n" and tonumber(p) ~= st.pid then
          exec_pid = p
        end
      end
      if exec_pid then break end
      util.sleep_ms(50)
    end
    assert.truthy(exec_pid)
    assert.equal(fs.read_file("/proc/" .. st.pid .. "/cgroup"), fs.read_file("/proc/" .. exec_pid .. "/cgroup"))
    assert.not_equal(fs.read_file("/proc/" .. st.pid .. "/cgroup"), fs.read_file("/proc/" .. job.pid .. "/cgroup"))
    P.kill(job.pid, "SIGTERM")
    assert.equal(143, H.wait(job)) -- SIGTERM went on to the command
    -- pids.max 3: PID 1, the shell, one sleep; the next fork fails
    _, err, code = exec(name, "sh", "-c", "for i in 1 2 3 4; do sleep 5 & done; wait")
    assert.not_equal(0, code)
    assert.truthy(err:find("can't fork", 1, true), err)
  end)

  H.it_priv("exit status, stdin and stdout, -e, -w, -u; unknown, stopped and starting containers", function()
    local name = detached("exst", "--network", "none", "-e", "KEEP=1", "sleep", "1000")
    local _, _, code = exec(name, "sh", "-c", "exit 7")
    assert.equal(7, code)
    local _, err
    _, err, code = exec(name, "no-such-command")
    assert.equal(127, code)
    assert.truthy(err:find("no-such-command", 1, true), err)
    _, _, code = exec(name, "/etc")
    assert.equal(126, code)
    _, err, code = exec("-d", name, "no-such-command")
    assert.equal(127, code)
    assert.truthy(err:find("no-such-command", 1, true), err)
    -- pipes through; stdin only with -i; stderr apart
    local out
    out, err, code = wblcmd("exec", { "-i", name, "sh", "-c", "cat; echo oops >&2" }, "hi\n")
    assert.equal(0, code, err)
    assert.equal("hi\n", out)
    assert.equal("oops\n", err)
    out, _, code = wblcmd("exec", { name, "cat" }, "not read\n")
    assert.equal(0, code)
    assert.equal("", out)
    -- the container's environment, then -e; -w; -u from its passwd (HOME too)
    out, err, code = H.sh(("FROM_CALLER=c %s %s -e A=1 -e KEEP=2 -e FROM_CALLER -e UNSET_X -w /tmp/wd %s sh -c %s")
      :format(H.q(H.wbl), H.q(H.top .. "/scripts/exec.lua"), H.q(name),
        H.q("echo $A $KEEP $FROM_CALLER ${UNSET_X-unset} $HOSTNAME $HOME; pwd; id -un")))
    assert.equal(0, code, err)
    assert.equal("1 2 c unset " .. name .. " /root\n/tmp/wd\nroot\n", out)
    out, err, code = exec("-u", "nobody", name, "sh", "-c", "id -un; echo $HOME")
    assert.equal(0, code, err)
    assert.equal("nobody\n/nonexistent\n", out)
    _, err, code = exec("-u", "no-such-user", name, "true")
    assert.equal(125, code)
    assert.truthy(err:find("no-such-user", 1, true), err)
    -- -d: back at once; the command runs on in the container
    local t0 = core.monotonic_ns()
    _, err, code = exec("-d", name, "sh", "-c", "sleep 1; echo done > /tmp/bg")
    assert.equal(0, code, err)
    assert.truthy(core.monotonic_ns() - t0 < 900e6)
    assert.truthy(require("terminal").until_(function() return (exec(name, "cat", "/tmp/bg")) == "done\n" end))
    -- no such container; a stopped one
    _, err, code = exec("no-such-container-x", "true")
    assert.equal(125, code)
    assert.truthy(err:find("no such container: no-such-container-x", 1, true), err)
    local stopped = H.name("exstop")
    made[#made + 1] = stopped
    _, err, code = H.run { "--name", stopped, "--network", "none", "true" }
    assert.equal(0, code, err)
    _, err, code = exec(stopped, "true")
    assert.equal(125, code)
    assert.truthy(err:find("container " .. stopped .. " is not running", 1, true), err)
    -- a PID 1 before its pivot_root (its root still the host's) is not joined
    local pid = assert(P.fork())
    if pid == 0 then P.execve("/bin/sleep", { "sleep", "5" }) P._exit(127) end
    H.finally(function() P.kill(pid, "SIGKILL"); P.waitpid(pid) end)
    local ok, msg = require("wbl.exec").check({ id = "fake", pid = pid, init = require("wbl.proc").identity(pid) }, 100)
    assert.falsy(ok)
    assert.equal("container fake is still starting (its root is not in place)", msg)
  end)

  H.it_priv("signals go to the command; the command ends with the container", function()
    local name = detached("exsig", "--network", "none", "sleep", "1000")
    local job = start_exec { name, "sh", "-c", "trap 'echo got TERM; exit 3' TERM; echo ready; " ..
      "while :; do sleep 0.1; done" }
    assert.equal("ready", H.read_line(job))
    P.kill(job.pid, "SIGTERM")
    assert.equal("got TERM", H.read_line(job))
    assert.equal(3, H.wait(job))
    job = start_exec { name, "sh", "-c", "echo ready; exec sleep 100" }
    assert.equal("ready", H.read_line(job))
    local _, err, code = wblcmd("stop", { "-t", "1", name })
    assert.equal(0, code, err)
    assert.equal(137, H.wait(job)) -- its PID namespace ended
  end)

  H.it_priv("-t: a terminal made in the container, never the caller's; TIOCSTI reaches none of the caller's", function()
    local T, pty = require "terminal", core.pty
    local work = H.tmpdir()
    H.finally(function() util.rm_rf(work) end)
    local sti = T.sti(work)
    local name = detached("extty", "--network", "none", "-v", sti .. ":/sti:ro", "sleep", "1000")
    local pid1 = assert(H.state(name)).pid
    local job = T.start({ "-ti", name, "sh", "-c", "tty; stty size; stat -L -c fd0=%d:%i /proc/self/fd/0; " ..
      "echo ready; read x; /sti 'echo typed'; read y; echo got=$y" }, { script = "exec", rows = 33, cols = 101 })
    H.finally(function() job:close() end)
    local out = job:expect("ready")
    assert.truthy(out:find("/dev/pts/%d+\r\n33 101\r\n"), out)
    assert.not_equal(job.caller, out:match("fd0=(%d+:%d+)"))
    assert.same({}, T.holders(pid1, job.path)) -- nothing in the container holds the caller's terminal
    job:send("go\r")
    assert.truthy(job:expect("got=echo typed"):find("got=echo typed", 1, true))
    assert.equal(0, job:wait())
    assert.equal("", job:pending())
    assert.equal(job.mode, pty.get_mode(job.slave)) -- the caller's mode back
    -- without -t, from a terminal: a session of its own, no controlling
    -- terminal, so TIOCSTI on the caller's (its stdio) is refused
    job = T.start({ "-i", name, "sh", "-c", "awk '{print \"tty_nr=\" $7}' /proc/self/stat; /sti 'echo pwned'" },
      { script = "exec" })
    H.finally(function() job:close() end)
    assert.equal(1, job:wait())
    assert.truthy(job.out:find("tty_nr=0", 1, true), job.out)
    assert.truthy(job.out:find("sti errno=", 1, true), job.out)
    assert.equal("", job:pending())
  end)

  H.it_priv("joins by /proc/PID/ns/* where setns takes no pidfd, as by the pidfd", function()
    local x = require "wbl.exec"
    local name = detached("exjoin", "--network", "none", "sleep", "1000")
    local pid = assert(H.state(name)).pid
    local types = x.namespaces(pid)
    assert.same({ "cgroup", "ipc", "uts", "net", "mnt" }, types)
    local want = {}
    for _, t in ipairs(types) do want[t] = table.concat({ core.ns.id(pid, t) }, ":") end
    local root = id("/proc/" .. pid .. "/root")
    for _, by in ipairs { "path", "pidfd" } do
      local how = by == "path" and assert(x.open_namespaces(pid, types)) or assert(P.pidfd_open(pid))
      -- a child joins, then waits while we look at it from here
      local r1, w1 = assert(core.fd.pipe())
      local r2, w2 = assert(core.fd.pipe())
      local child = assert(P.fork())
      if child == 0 then
        local ok = x.join(how, types)
        w1:write(ok and "j" or "x")
        r2:read(1)
        P._exit(0)
      end
      w1:close()
      r2:close()
      assert.equal("j", r1:read(1), by)
      for _, t in ipairs(types) do
        assert.equal(want[t], table.concat({ core.ns.id(child, t) }, ":"), by .. " " .. t)
      end
      assert.equal(root, id("/proc/" .. child .. "/root"), by)
      assert.equal(root, id("/proc/" .. child .. "/cwd"), by)
      w2:write("d")
      assert.same({ child, "exited", 0 }, { P.waitpid(child) })
    end
  end)

  H.it_priv("CVE-2019-5736: no process in the container ever reaches the host's wbl binary", function()
    local work = H.tmpdir()
    H.finally(function() util.rm_rf(work) end)
    assert(fs.write_file(work .. "/exe.c", probe_c))
    local _, err, code = H.sh(("cc -static -O -o %s/exe %s/exe.c"):format(H.q(work), H.q(work)))
    assert.equal(0, code, err)
    local name = detached("excve", "--network", "none", "-v", work .. ":/x", "/x/exe", "/x/out", "/x/stop")
    -- wbl exec again and again while the probe runs: foreground, -d, -u,
    -- -t (stdio: the null device), each a joining wbl process for a while
    for i = 1, 12 do
      local a = ({ { name, "true" }, { "-d", name, "sleep", "0.05" }, { "-u", "nobody", name, "true" },
                   { "-e", "X=" .. i, "-w", "/tmp", name, "sh", "-c", "sleep 0.05" } })[i % 4 + 1]
      assert.equal(0, quiet(a))
    end
    local job = require("terminal").start({ "-ti", name, "true" }, { script = "exec" })
    assert.equal(0, job:wait())
    job:close()
    assert(fs.write_file(work .. "/stop", ""))
    assert.truthy(require("terminal").until_(function() return not require("wbl.state").running(H.state(name)) end))
    local report = assert(fs.read_file(work .. "/out"))
    local wbl_seen, r_exe, r_path, r_fd, r_root = report:match("wbl (%d+) refused (%d+) (%d+) (%d+) (%d+)")
    -- the probe saw joining processes, while they were still wbl, and was refused
    assert.truthy(tonumber(wbl_seen) > 0, report)
    assert.truthy(tonumber(r_exe) > 0 and tonumber(r_path) > 0 and tonumber(r_fd) > 0 and tonumber(r_root) > 0,
      report)
    -- what it reached: never the host's wbl binary (W, P, R), nor a
    -- joining process's fd (F) or a root other than the container's (D)
    local host_wbl = id(H.wbl)
    for kind, devino in report:gmatch("\n(%u) (%d+:%d+)") do
      assert.not_equal(host_wbl, devino, report)
      assert.truthy(kind == "W" or kind == "P" or kind == "R", report)
    end
  end)
end)
