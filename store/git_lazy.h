/* store/git_lazy.h — libgit2, loaded on first use (store/git_lazy.c, common/lazylib.h). */
#ifndef RUNS_GIT_LAZY_H
#define RUNS_GIT_LAZY_H

/* Loads libgit2 where the build loads it on first use; 0 where it is loaded (or was
 * linked at build time), else RUNS_EIO with a message saying what to install. Called
 * before the store's first libgit2 call (store.c's git_init_once). */
int runs__git_load(void);

#endif
