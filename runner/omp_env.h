/* runner/omp_env.h — how OpenMP's threads wait, for the commands that train.
 *
 * libgomp spins about 3 ms (GOMP_SPINCOUNT 300000) at every barrier before it
 * sleeps. On a quiet machine that saves a wake-up; on a busy one (other jobs
 * on the cores) the spinning thread burns the time slice its partner needs,
 * and two threads ran 4-5x slower than one (issue 16). libgomp reads
 * OMP_WAIT_POLICY and GOMP_SPINCOUNT once, in its constructor, before main(),
 * so a setenv() in the program is too late: the training commands re-execute
 * the program once, at start, with a short spin (RUNS_OMP_SPINCOUNT) in the
 * environment. A user who set OMP_WAIT_POLICY or GOMP_SPINCOUNT keeps their
 * choice (no re-exec), and so does OMP_NUM_THREADS=1 (one thread never
 * waits at a barrier); RUNS_OMP_ENV, set by the re-exec itself and inherited
 * by child processes, stops a second one (set it to anything to keep
 * libgomp's defaults). A user's binding (OMP_PROC_BIND, OMP_PLACES,
 * GOMP_CPU_AFFINITY) is kept too: libgomp binds the initial thread to the first
 * place at start-up, and exec keeps that mask, so the re-exec first gives the
 * process back the CPUs of all its places (or does not happen). */
#ifndef RUNS_RUNNER_OMP_ENV_H
#define RUNS_RUNNER_OMP_ENV_H

/* The spin count the training commands run with (iterations of libgomp's
 * wait loop, each a `pause`: tens of microseconds before a thread sleeps).
 * Chosen by bench_contention; docs/NOTES.md has the figures. */
#define RUNS_OMP_SPINCOUNT "1000"
#define RUNS_OMP_ENV_MARK "RUNS_OMP_ENV"

/* 1 when COMMAND (a `runs` command name) runs the trainer for long enough that
 * its waiting matters: start, resume, fork, restart, eval, sharpness. */
int runs_omp_env_trains(const char *command);

/* 1 when COMMAND trains and the environment names no wait policy, spin count
 * or marker, and does not say OMP_NUM_THREADS=1: the case runs_omp_env_reexec
 * re-executes. */
int runs_omp_env_wanted(const char *command);

/* When runs_omp_env_wanted(command), sets GOMP_SPINCOUNT=RUNS_OMP_SPINCOUNT and
 * RUNS_OMP_ENV=1 and executes /proc/self/exe with argv (argv[0] and the rest of
 * the environment unchanged; argv is the caller's, NULL-terminated, untouched
 * so far). Returns only when it did not re-execute: 0 when nothing was wanted,
 * RUNS_EIO when exec failed (the two variables are removed again, and the
 * caller carries on with libgomp's defaults). Never prints. */
int runs_omp_env_reexec(char **argv, const char *command);

#endif
