--- The default seccomp profile, as data: the effect of docker's (moby's
-- profiles/seccomp/default.json, as of its 2025-2026 updates), in docker's
-- own format, so wbl.seccomp.from_docker turns it into the OCI profile for
-- a process's capabilities, architecture and kernel, as docker does.
-- Read it, copy it, change it: `--security-opt seccomp=FILE.json` takes
-- the same shape as JSON.
--
-- An allow-list: any syscall not named fails with EPERM (the process
-- goes on; nothing is killed).  Never allowed: keyctl, add_key,
-- request_key (the keyring is not namespaced), kexec_*, pivot_root,
-- swapon/swapoff, io_uring_* (its requests get around seccomp),
-- userfaultfd, and the obsolete ones.  Allowed only with the capability
-- the kernel checks anyway (includes.caps): a second wall in front of
-- calls whose own checks have had holes (mount, unshare, bpf, modules).
-- Names this system's libseccomp does not know are skipped when loaded.
local ERRNO, ALLOW = "SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW"
local EPERM, ENOSYS = 1, 38

-- Namespace flags of clone(2): CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC,
-- NEWUSER, NEWPID, NEWNET (0x7e020000).  Without CAP_SYS_ADMIN, clone is
-- allowed only when none of them is set.
local CLONE_NAMESPACES = 0x7e020000

-- Address families socket(2) may not open: AF_ALG (38, the kernel's
-- crypto API) and AF_VSOCK (40, to the hypervisor's host).  On 32-bit x86
-- socketcall(2) cannot be filtered by family (it passes a pointer);
-- docker closes that with AppArmor/SELinux, which wbl does not use.
local AF_ALG, AF_VSOCK = 38, 40

local function allow(names, t)
  t = t or {}
  t.names, t.action = names, t.action or ALLOW
  return t
end

local function caps(...) return { caps = { ... } } end

return {
  defaultAction = ERRNO,
  defaultErrnoRet = EPERM,
  archMap = {
    { architecture = "SCMP_ARCH_X86_64", subArchitectures = { "SCMP_ARCH_X86", "SCMP_ARCH_X32" } },
    { architecture = "SCMP_ARCH_AARCH64", subArchitectures = { "SCMP_ARCH_ARM" } },
    { architecture = "SCMP_ARCH_MIPS64", subArchitectures = { "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32" } },
    { architecture = "SCMP_ARCH_MIPS64N32", subArchitectures = { "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64" } },
    { architecture = "SCMP_ARCH_MIPSEL64", subArchitectures = { "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32" } },
    { architecture = "SCMP_ARCH_MIPSEL64N32", subArchitectures = { "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64" } },
    { architecture = "SCMP_ARCH_S390X", subArchitectures = { "SCMP_ARCH_S390" } },
    { architecture = "SCMP_ARCH_RISCV64" },
  },
  syscalls = {
    -- What any program uses: files, memory, signals, time, processes,
    -- sockets, ids (setuid & co.: the kernel checks CAP_SETUID), SysV and
    -- POSIX IPC, and seccomp/landlock/prctl to confine itself further.
    allow {
      "accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "cachestat", "capget",
      "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64",
      "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
      "clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat", "dup",
      "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait",
      "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat",
      "exit", "exit_group", "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate",
      "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2", "fchown", "fchown32", "fchownat",
      "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr", "flock", "fork", "fremovexattr",
      "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync", "ftruncate",
      "ftruncate64", "futex", "futex_requeue", "futex_time64", "futex_wait", "futex_waitv",
      "futex_wake", "futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid",
      "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32",
      "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority",
      "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
      "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
      "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "getxattrat", "inotify_add_watch",
      "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy",
      "io_getevents", "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set",
      "io_setup", "io_submit", "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset",
      "landlock_restrict_self", "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen",
      "listmount", "listxattr", "listxattrat", "llistxattr", "_llseek", "lremovexattr", "lseek",
      "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack", "membarrier", "memfd_create",
      "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock", "mlock2",
      "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
      "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
      "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
      "munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect", "open",
      "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
      "pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl",
      "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
      "pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
      "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
      "remap_file_pages", "removexattr", "removexattrat", "rename", "renameat", "renameat2",
      "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask",
      "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
      "rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
      "sched_getparam", "sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
      "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
      "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select",
      "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send", "sendfile",
      "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32", "setfsuid",
      "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid",
      "setpriority", "setregid", "setregid32", "setresgid", "setresgid32", "setresuid",
      "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list", "setsid",
      "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32", "setxattr",
      "setxattrat", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
      "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat",
      "stat64", "statfs", "statfs64", "statmount", "statx", "symlink", "symlinkat", "sync",
      "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create",
      "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
      "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
      "timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
      "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "uretprobe", "utime", "utimensat",
      "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
      "writev",
    },
    -- ptrace and reading another process's memory: safe since 4.8, where
    -- ptrace can no longer be used to get around seccomp.
    allow({ "process_vm_readv", "process_vm_writev", "ptrace" }, { includes = { minKernel = "4.8" } }),
    -- socket(2), but not AF_ALG nor AF_VSOCK: three rules, as conditions
    -- of one rule on the same argument would all have to hold.
    allow({ "socket" }, { args = { { index = 0, value = AF_ALG, op = "SCMP_CMP_LT" } } }),
    allow({ "socket" }, { args = { { index = 0, value = AF_ALG + 1, op = "SCMP_CMP_EQ" } } }),
    allow({ "socket" }, { args = { { index = 0, value = AF_VSOCK, op = "SCMP_CMP_GT" } } }),
    -- personality(2): only the harmless personas (Linux, and 32-bit
    -- with or without the address-space layout check off), and the query.
    allow({ "personality" }, { args = { { index = 0, value = 0, op = "SCMP_CMP_EQ" } } }),
    allow({ "personality" }, { args = { { index = 0, value = 8, op = "SCMP_CMP_EQ" } } }),
    allow({ "personality" }, { args = { { index = 0, value = 131072, op = "SCMP_CMP_EQ" } } }),
    allow({ "personality" }, { args = { { index = 0, value = 131080, op = "SCMP_CMP_EQ" } } }),
    allow({ "personality" }, { args = { { index = 0, value = 4294967295, op = "SCMP_CMP_EQ" } } }),
    -- Each architecture's own.
    allow({ "sync_file_range2", "swapcontext" }, { includes = { arches = { "ppc64le" } } }),
    allow({ "arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush",
            "set_tls" }, { includes = { arches = { "arm", "arm64" } } }),
    allow({ "arch_prctl" }, { includes = { arches = { "amd64", "x32" } } }),
    allow({ "modify_ldt" }, { includes = { arches = { "amd64", "x32", "x86" } } }),
    allow({ "s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr" },
          { includes = { arches = { "s390", "s390x" } } }),
    allow({ "riscv_flush_icache", "riscv_hwprobe" }, { includes = { arches = { "riscv64" } } }),
    -- With the capability the kernel checks.
    allow({ "open_by_handle_at" }, { includes = caps "CAP_DAC_READ_SEARCH" }),
    allow({ "bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
            "lookup_dcookie", "lsm_get_self_attr", "lsm_list_modules", "lsm_set_self_attr", "mount",
            "mount_setattr", "move_mount", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
            "setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare" },
          { includes = caps "CAP_SYS_ADMIN" }),
    -- Without CAP_SYS_ADMIN: clone makes no namespace (s390 has its flags
    -- in the second argument), and clone3, whose flags are behind a
    -- pointer seccomp cannot read, says ENOSYS so that libc uses clone.
    allow({ "clone" }, { args = { { index = 0, value = CLONE_NAMESPACES, op = "SCMP_CMP_MASKED_EQ" } },
                         excludes = { caps = { "CAP_SYS_ADMIN" }, arches = { "s390", "s390x" } } }),
    allow({ "clone" }, { args = { { index = 1, value = CLONE_NAMESPACES, op = "SCMP_CMP_MASKED_EQ" } },
                         includes = { arches = { "s390", "s390x" } }, excludes = caps "CAP_SYS_ADMIN" }),
    allow({ "clone3" }, { action = ERRNO, errnoRet = ENOSYS, excludes = caps "CAP_SYS_ADMIN" }),
    allow({ "reboot" }, { includes = caps "CAP_SYS_BOOT" }),
    allow({ "chroot" }, { includes = caps "CAP_SYS_CHROOT" }),
    allow({ "delete_module", "init_module", "finit_module" }, { includes = caps "CAP_SYS_MODULE" }),
    allow({ "acct" }, { includes = caps "CAP_SYS_PACCT" }),
    allow({ "kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace" },
          { includes = caps "CAP_SYS_PTRACE" }),
    allow({ "iopl", "ioperm" }, { includes = caps "CAP_SYS_RAWIO" }),
    allow({ "settimeofday", "stime", "clock_settime", "clock_settime64" }, { includes = caps "CAP_SYS_TIME" }),
    allow({ "vhangup" }, { includes = caps "CAP_SYS_TTY_CONFIG" }),
    allow({ "get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node" },
          { includes = caps "CAP_SYS_NICE" }),
    allow({ "syslog" }, { includes = caps "CAP_SYSLOG" }),
    allow({ "bpf" }, { includes = caps "CAP_BPF" }),
    allow({ "perf_event_open" }, { includes = caps "CAP_PERFMON" }),
  },
}
