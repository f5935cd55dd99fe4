/*
 * wbl-init: a tiny PID 1 for containers run with --init.
 *
 *   wbl-init [--] COMMAND [ARG...]
 *
 * A program that installs no signal handlers ignores SIGTERM and SIGINT
 * as PID 1 of a PID namespace (the kernel does not give PID 1 the default
 * actions), and nobody reaps the orphans it inherits.  wbl-init runs the
 * command as its child, passes the usual signals on to it, reaps every
 * zombie, and exits with the command's status (128+N when signal N
 * killed it), as tini and docker-init do.  Built statically: it runs in
 * any image.  It is bound into the container read-only, so nothing inside
 * can write it through /proc/1/exe.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const int forwarded[] = {SIGHUP,  SIGINT,  SIGQUIT, SIGTERM, SIGUSR1,
                                SIGUSR2, SIGWINCH, SIGCONT, SIGTSTP, SIGTTIN, SIGTTOU};

int main(int argc, char **argv)
{
  int first = 1;
  if (argc > 1 && strcmp(argv[1], "--") == 0)
    first = 2;
  if (first >= argc) {
    fprintf(stderr, "usage: wbl-init [--] COMMAND [ARG...]\n");
    return 125;
  }
  /* Block what we forward (and SIGCHLD); the child unblocks them. */
  sigset_t set, old;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof forwarded / sizeof *forwarded; i++)
    sigaddset(&set, forwarded[i]);
  sigaddset(&set, SIGCHLD);
  sigprocmask(SIG_BLOCK, &set, &old);

  pid_t child = fork();
  if (child < 0) {
    perror("wbl-init: fork");
    return 125;
  }
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    /* Its own process group in the foreground of the terminal, if any:
     * Ctrl-C from a pty then reaches the command, not us. */
    setpgid(0, 0);
    if (isatty(0)) {
      signal(SIGTTOU, SIG_IGN);
      tcsetpgrp(0, getpid());
      signal(SIGTTOU, SIG_DFL);
    }
    execvp(argv[first], argv + first);
    int en = errno;
    fprintf(stderr, "wbl-init: exec %s: %s\n", argv[first], strerror(en));
    _exit(en == ENOENT ? 127 : 126);
  }

  int status = 0;
  for (;;) {
    siginfo_t si;
    int sig = sigwaitinfo(&set, &si);
    if (sig < 0) {
      if (errno == EINTR)
        continue;
      perror("wbl-init: sigwaitinfo");
      return 125;
    }
    if (sig != SIGCHLD) {
      kill(-child, sig); /* the command's process group */
      kill(child, sig);  /* (if it left the group) */
      continue;
    }
    /* Reap every zombie; the command's status ends us. */
    for (;;) {
      int st;
      pid_t p = waitpid(-1, &st, WNOHANG);
      if (p <= 0)
        break;
      if (p == child) {
        status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        child = 0;
      }
    }
    if (child == 0)
      return status;
  }
}
