/*
 * bpfdump.c - the seccomp filter a program loads, as the kernel runs it.
 *
 *   bpfdump OUT PROG [ARG...]
 *
 * Runs PROG traced; when it exits, the filter it loaded (one, the newest)
 * is read back with PTRACE_SECCOMP_GET_FILTER (the classic BPF program,
 * struct sock_filter[]) and written to OUT.  The bench runs wbl's own core
 * this way on docker's default profile (wbl.core.seccomp.load, libseccomp),
 * so floor -s loads the very program wbl's containers load, without
 * compiling it again.  Needs CAP_SYS_ADMIN (and a kernel with
 * CONFIG_CHECKPOINT_RESTORE).  Exit status 0, or 1 with a message.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

static void die(const char *what)
{
  fprintf(stderr, "bpfdump: %s: %s\n", what, strerror(errno));
  exit(1);
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: bpfdump OUT PROG [ARG...]\n");
    return 1;
  }
  pid_t pid = fork();
  if (pid < 0)
    die("fork");
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
      die("PTRACE_TRACEME");
    raise(SIGSTOP); /* the parent sets its options first */
    execvp(argv[2], argv + 2);
    die(argv[2]);
  }
  int st, dumped = 0;
  if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st))
    die("the child did not stop");
  if (ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)(PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) < 0)
    die("PTRACE_SETOPTIONS");
  int sig = 0;
  for (;;) {
    if (ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig) < 0)
      die("PTRACE_CONT");
    if (waitpid(pid, &st, 0) < 0)
      die("waitpid");
    if (WIFEXITED(st) || WIFSIGNALED(st))
      break;
    sig = 0;
    if (st >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
      /* Exiting, its filter still there: index 0 is the newest. */
      long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)0L, NULL);
      if (n <= 0) {
        if (n == 0 || errno == EINVAL || errno == ENOENT) { /* EINVAL: not in filter mode */
          fprintf(stderr, "bpfdump: %s loaded no seccomp filter\n", argv[2]);
          return 1;
        }
        die("PTRACE_SECCOMP_GET_FILTER");
      }
      if (ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)1L, NULL) >= 0) {
        fprintf(stderr, "bpfdump: the program loaded more than one filter\n");
        return 1;
      }
      struct sock_filter *prog = calloc(n, sizeof *prog);
      if (!prog || ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)0L, prog) != n)
        die("PTRACE_SECCOMP_GET_FILTER");
      int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0 || write(fd, prog, n * sizeof *prog) != (ssize_t)(n * sizeof *prog) || close(fd) < 0)
        die(argv[1]);
      free(prog);
      dumped = 1;
    } else if (WSTOPSIG(st) != SIGTRAP) {
      sig = WSTOPSIG(st); /* a signal for it: passed on */
    }
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "bpfdump: %s failed (status %d)\n", argv[2], WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
    return 1;
  }
  if (!dumped) {
    fprintf(stderr, "bpfdump: %s exited without a stop at its exit\n", argv[2]);
    return 1;
  }
  return 0;
}
