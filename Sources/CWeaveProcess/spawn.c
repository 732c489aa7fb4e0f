// See weave_spawn.h. The child runs between clone and exec in the caller's address space:
// it may touch only its own stack and the request, and calls nothing but syscall(2) (bound
// by the parent before the clone, so no lazy PLT resolution runs in the child).
#define _GNU_SOURCE
#include "weave_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

extern char **environ;

/// The kernel's `struct sigaction`; all zeros is SIG_DFL with an empty mask on every
/// architecture (the optional restorer field is covered by the extra word).
struct weave_kernel_sigaction {
    unsigned long words[4];
};

static int weave_spawn_child_fail(weave_spawn_request *request, int step) {
    request->error = errno ? errno : EINVAL;
    request->step = step;
    syscall(SYS_exit_group, 127);
    return 127;
}

static int weave_spawn_child(void *argument) {
    weave_spawn_request *request = argument;
    const int count = request->descriptor_count;

    // 1. Default dispositions while every signal is still blocked: no handler of the
    //    parent may run here, and what the parent ignores (SIGPIPE) the child must not.
    struct weave_kernel_sigaction default_action = {{0, 0, 0, 0}};
    for (int signal_number = 1; signal_number < 65; signal_number++) {
        if (signal_number == SIGKILL || signal_number == SIGSTOP) continue;
        syscall(SYS_rt_sigaction, signal_number, &default_action, NULL, 8);
    }

    // 2. Descriptors: first every source below `count` moves above it (so that no
    //    placement overwrites a source still to be placed), then each is placed, then
    //    everything from `count` on is closed: the child holds exactly what it was given.
    for (int index = 0; index < count; index++) {
        long source = request->descriptors[index];
        if (source < 0) {
            source = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDWR | O_CLOEXEC);
            if (source < 0) return weave_spawn_child_fail(request, WEAVE_SPAWN_STEP_DESCRIPTORS);
        }
        if (source < count) {
            source = syscall(SYS_fcntl, (int)source, F_DUPFD_CLOEXEC, count);
            if (source < 0) return weave_spawn_child_fail(request, WEAVE_SPAWN_STEP_DESCRIPTORS);
        }
        request->scratch[index] = (int)source;
    }
    for (int index = 0; index < count; index++) {
        // dup3 leaves the copy without close-on-exec: it survives the exec.
        if (syscall(SYS_dup3, request->scratch[index], index, 0) < 0) {
            return weave_spawn_child_fail(request, WEAVE_SPAWN_STEP_DESCRIPTORS);
        }
    }
    if (syscall(SYS_close_range, (unsigned)count, ~0U, 0) < 0) {
        // Before Linux 5.9: one by one, up to the descriptor limit.
        struct rlimit limit = {65536, 65536};
        syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &limit);
        for (unsigned long fd = (unsigned long)count; fd < limit.rlim_cur && fd < (1UL << 20); fd++) syscall(SYS_close, fd);
    }

    // 3. Directory.
    if (request->directory != NULL && syscall(SYS_chdir, request->directory) < 0) {
        return weave_spawn_child_fail(request, WEAVE_SPAWN_STEP_DIRECTORY);
    }

    // 4. Parent-death signal. It fires when the *thread* that cloned us exits; a parent
    //    that died before the prctl took effect would never send it: check, and die now.
    if (request->death_signal != 0) {
        pid_t parent = (pid_t)syscall(SYS_getppid);
        if (syscall(SYS_prctl, PR_SET_PDEATHSIG, (unsigned long)request->death_signal, 0UL, 0UL, 0UL) < 0) {
            return weave_spawn_child_fail(request, WEAVE_SPAWN_STEP_DEATH_SIGNAL);
        }
        if ((pid_t)syscall(SYS_getppid) != parent) {
            syscall(SYS_kill, (pid_t)syscall(SYS_getpid), request->death_signal);
        }
    }

    // 5. Unblock everything (the mask survives exec), then exec.
    unsigned long empty_mask = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty_mask, NULL, 8);
    syscall(SYS_execve, request->path, request->argv, request->envp);
    return weave_spawn_child_fail(request, WEAVE_SPAWN_STEP_EXEC);
}

int weave_spawn(weave_spawn_request *request, void *stack, size_t stack_size) {
    request->pid = -1;
    request->pidfd = -1;
    request->error = 0;
    request->step = WEAVE_SPAWN_STEP_NONE;
    if (request->envp == NULL) request->envp = environ;

    // Bind syscall and errno in this process before the child could be the first caller.
    errno = 0;
    (void)syscall(SYS_getppid);

    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);

    uintptr_t top = ((uintptr_t)stack + stack_size) & ~(uintptr_t)15;
    int pidfd = -1;
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD;
    pid_t pid = clone(weave_spawn_child, (void *)top, flags | CLONE_PIDFD, request, &pidfd);
    if (pid < 0 && errno == EINVAL) {
        // A kernel without CLONE_PIDFD (before 5.2): ask for the pidfd afterwards.
        pidfd = -1;
        pid = clone(weave_spawn_child, (void *)top, flags, request, NULL);
    }
    int clone_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);

    if (pid < 0) {
        request->error = clone_error;
        request->step = WEAVE_SPAWN_STEP_CLONE;
        return request->error;
    }
    if (request->error != 0) {
        // The child failed before its exec and has exited: reap it.
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (pidfd >= 0) close(pidfd);
        return request->error;
    }
    if (pidfd < 0) {
        pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (pidfd < 0) {
            request->error = errno;
            request->step = WEAVE_SPAWN_STEP_PIDFD;
            kill(pid, SIGKILL);
            int status;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            return request->error;
        }
    }
    request->pid = pid;
    request->pidfd = pidfd;
    return 0;
}

int weave_spawn_reap(pid_t pid, int block, int *exit_status, int *term_signal) {
    int status = 0;
    pid_t reaped;
    do {
        reaped = waitpid(pid, &status, block ? 0 : WNOHANG);
    } while (reaped < 0 && errno == EINTR);
    if (reaped < 0) return -errno;
    if (reaped == 0) return 0;
    if (WIFSIGNALED(status)) {
        *exit_status = 0;
        *term_signal = WTERMSIG(status);
    } else {
        *exit_status = WEXITSTATUS(status);
        *term_signal = 0;
    }
    return 1;
}

int weave_spawn_pipe(int fds[2]) {
    return pipe2(fds, O_CLOEXEC) == 0 ? 0 : errno;
}

void weave_spawn_reserve_descriptors(int count) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur != RLIM_INFINITY && (rlim_t)count > limit.rlim_cur) count = (int)limit.rlim_cur;
    if (count < 2) return;
    int probe = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (probe < 0) return;
    // The lowest free descriptor at or above count - 1: the table grows to cover it.
    int high = fcntl(probe, F_DUPFD_CLOEXEC, count - 1);
    if (high >= 0) close(high);
    close(probe);
}

int weave_spawn_signal(int pidfd, int signal) {
    return syscall(SYS_pidfd_send_signal, pidfd, signal, NULL, 0) == 0 ? 0 : errno;
}
