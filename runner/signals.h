/* runner/signals.h — the signals a training run answers: SIGUSR1 asks for a
 * checkpoint (at the next checkpoint.boundary), SIGUSR2 for a checkpoint at the
 * next boundary and then a clean stop (`runs stop`: the seed's pivot, "checkpoint
 * at the next 100-step boundary, then stop"), SIGINT/SIGTERM for a checkpoint now
 * and a clean stop. The handlers only set flags; the loop reads them each step. */
#ifndef RUNS_RUNNER_SIGNALS_H
#define RUNS_RUNNER_SIGNALS_H

/* Installs the handlers and clears both flags. */
void runs_signals_install(void);

/* 1 once SIGINT or SIGTERM arrived. */
int runs_signals_stop_wanted(void);

/* 1 once SIGUSR1 arrived, until runs_signals_checkpoint_taken. */
int runs_signals_checkpoint_wanted(void);
void runs_signals_checkpoint_taken(void);

/* 1 once SIGUSR2 arrived: stop after the checkpoint at the next boundary. Never
 * cleared within a session (the run stops at that boundary). */
int runs_signals_boundary_stop_wanted(void);

/* The flags as bits, for passing them between the ranks of a data-parallel job
 * (runner/dp_loop.h): a rank's take reads its flags and clears the checkpoint one
 * (it is passed on once); rank 0's raise sets the ones another rank caught. */
enum { RUNS_SIG_CHECKPOINT = 1, RUNS_SIG_STOP = 2, RUNS_SIG_BOUNDARY_STOP = 4 };
int runs_signals_take(void);
void runs_signals_raise(int bits);

#endif
