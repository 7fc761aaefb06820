/* SPDX-License-Identifier: MIT */
/*
 * Processes a case starts for itself (example servers, the daemon), found in
 * PATH, with every wait bounded. Children die with the case (PDEATHSIG), so a
 * case killed by the suite's timeout leaves nothing running behind it.
 */
#ifndef VUC_E2E_PROCS_H
#define VUC_E2E_PROCS_H

#include <sys/types.h>

#define PROCS_MAX 80

struct procs {
	char dir[64]; /* fresh directory for this case's sockets */
	int n;
	pid_t pid[PROCS_MAX];
};

int procs_init(struct procs *p);
/* Kill (SIGKILL) and reap whatever still runs; remove the directory. */
void procs_fini(struct procs *p);

/* fork(), the child kept to be reaped by procs_fini: 0 in the child, its
 * pid in the parent, or -errno. */
pid_t procs_fork(struct procs *p);

/* Start ARGV (NULL-terminated; argv[0] looked up in PATH). Returns the pid or -errno. */
pid_t procs_start(struct procs *p, char *const argv[]);
/* The same, running SETUP(ARG) in the child just before the exec (it may
 * _exit if it cannot do what it must). */
pid_t procs_spawn(struct procs *p, char *const argv[], void (*setup)(const void *arg),
                  const void *arg);

/*
 * Start the example server on p->dir/NAME.sock with the given extra options
 * (NULL-terminated, may be NULL) and wait for its socket. The socket's path
 * goes to SOCK (PATH_MAX bytes).
 */
pid_t procs_server(struct procs *p, const char *name, const char *const opts[], char *sock);

/* Wait until PATH exists with file type TYPE (S_IFSOCK, S_IFCHR), and with
 * the permission bits of TYPE if it has any (S_IFCHR | 0666: a node the
 * daemon has given its --mode, which it does only after the kernel made the
 * node, root's alone); -ETIMEDOUT after MS, -ECHILD at once if WATCH (when
 * > 0) has exited meanwhile. */
int procs_wait_path(const char *path, unsigned int type, int ms, pid_t watch);
/* Wait until PATH no longer exists; -ETIMEDOUT after MS. */
int procs_wait_gone(const char *path, int ms);

/* Send SIG (0: none) to PID and reap it within MS: its wait status in *status. */
int procs_stop(struct procs *p, pid_t pid, int sig, int ms, int *status);
/* Reap PID within MS once it exits by itself: its exit code, or -1 (not
 * in time, or killed by a signal). */
int procs_exit_code(struct procs *p, pid_t pid, int ms);

/* Milliseconds on the monotonic clock, for waits and the figures cases print. */
long long procs_now_ms(void);

#endif
