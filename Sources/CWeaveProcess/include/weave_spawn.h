// Starting child processes without fork: a CLONE_VM | CLONE_VFORK child on a stack of its
// own (what glibc's posix_spawn does), which sets up its descriptors, signals, directory and
// parent-death signal with raw system calls only and then execs. The calling thread is held
// only until the child has called exec (no page tables are copied), and any thread may call
// it: the process layer calls it from a spawner thread so that no hub waits even for that.
#ifndef WEAVE_SPAWN_H
#define WEAVE_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

/// Which step failed (`weave_spawn_request.step`), for the error message.
enum {
    WEAVE_SPAWN_STEP_NONE = 0,
    WEAVE_SPAWN_STEP_CLONE = 1,
    WEAVE_SPAWN_STEP_DESCRIPTORS = 2,
    WEAVE_SPAWN_STEP_DIRECTORY = 3,
    WEAVE_SPAWN_STEP_DEATH_SIGNAL = 4,
    WEAVE_SPAWN_STEP_EXEC = 5,
    WEAVE_SPAWN_STEP_PIDFD = 6,
};

/// One spawn. Every pointer must stay valid until `weave_spawn` returns; the child copies
/// nothing (it shares the caller's memory until its exec).
typedef struct weave_spawn_request {
    const char *path;
    char *const *argv;
    /// NULL: this process's `environ` at the time of the call.
    char *const *envp;
    /// NULL: the caller's current directory.
    const char *directory;
    /// The child's descriptor `i` is a copy of `descriptors[i]` (-1: `/dev/null`, opened in
    /// the child). Every other descriptor is closed in the child, close-on-exec or not.
    const int *descriptors;
    /// `descriptor_count` ints the child may scribble on (it must not allocate).
    int *scratch;
    int descriptor_count;
    /// Sent to the child when the thread that spawned it exits (`PR_SET_PDEATHSIG`); 0: none.
    int death_signal;

    // Results.
    pid_t pid;
    /// A pidfd for the child (close-on-exec), readable once it has exited.
    int pidfd;
    /// errno of the failed step; 0 on success.
    int error;
    int step;
} weave_spawn_request;

/// Starts the child. Returns 0 with `pid` and `pidfd` set, or the errno of the step that
/// failed (`error`, `step`); a child that failed before its exec has been reaped. `stack`
/// (16-byte aligned, at least 16 KiB) is the child's stack until its exec: the calling
/// thread must not use it concurrently. Blocks every signal on the calling thread for the
/// duration (the child must not run a handler of this process), then restores the mask.
int weave_spawn(weave_spawn_request *request, void *stack, size_t stack_size);

/// Reaps `pid`: 1 when it has ended (`exit_status` or `term_signal` set, the other 0),
/// 0 when it is still running (`block` 0), or a negative errno (ECHILD: not our child, or
/// already reaped).
int weave_spawn_reap(pid_t pid, int block, int *exit_status, int *term_signal);

/// Sends `signal` to the process `pidfd` refers to (`pidfd_send_signal`: never another
/// process that reused its pid). 0 or an errno (ESRCH once it has been reaped).
int weave_spawn_signal(int pidfd, int signal);

/// Grows this process's descriptor table to hold at least `count` descriptors (capped by
/// RLIMIT_NOFILE) in one step. A multithreaded process pays an RCU grace period (milliseconds
/// on a busy machine) for every doubling of its table, holding whichever thread opens the
/// descriptor that needs it (and any other opening one meanwhile): a burst of children
/// (pipes and pidfds) would pay several on the hub's thread.
void weave_spawn_reserve_descriptors(int count);

/// `pipe2(fds, O_CLOEXEC)` (Swift's Glibc module does not import `pipe2`): 0 or an errno.
int weave_spawn_pipe(int fds[2]);

#endif
