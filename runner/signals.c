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
