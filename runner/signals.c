/* runner/signals.c — see signals.h. */
#include "runner/signals.h"

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t want_checkpoint, want_stop, want_boundary_stop;

static void on_usr1(int sig)
{
    (void)sig;
    want_checkpoint = 1;
}
static void on_stop(int sig)
{
    (void)sig;
    want_stop = 1;
}
static void on_usr2(int sig)
{
    (void)sig;
    want_boundary_stop = 1;
}

void runs_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    want_checkpoint = want_stop = want_boundary_stop = 0;
}

int runs_signals_stop_wanted(void)
{
    return want_stop != 0;
}

int runs_signals_checkpoint_wanted(void)
{
    return want_checkpoint != 0;
}

void runs_signals_checkpoint_taken(void)
{
    want_checkpoint = 0;
}

int runs_signals_boundary_stop_wanted(void)
{
    return want_boundary_stop != 0;
}

int runs_signals_take(void)
{
    int bits = (want_stop ? RUNS_SIG_STOP : 0) | (want_boundary_stop ? RUNS_SIG_BOUNDARY_STOP : 0);
    if (want_checkpoint) {
        want_checkpoint = 0;
        bits |= RUNS_SIG_CHECKPOINT;
    }
    return bits;
}

void runs_signals_raise(int bits)
{
    if (bits & RUNS_SIG_CHECKPOINT)
        want_checkpoint = 1;
    if (bits & RUNS_SIG_STOP)
        want_stop = 1;
    if (bits & RUNS_SIG_BOUNDARY_STOP)
        want_boundary_stop = 1;
}
