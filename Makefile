# runs — checkpoint-centric run manager for small GPT training runs.
#
#   make          build the library, the `runs` CLI and the tools (CUDA objects too
#                 wherever nvcc is found)
#   make test     install what is missing, build, run every test (CPU only)
#   make demo     install what is missing, build, run the demo (under 5 minutes on 2 idle cores)
#   make demo-long   the same story at full length (2000 steps; about half an hour on 2 cores)
#   make install  [PREFIX=/usr/local] [DESTDIR=]: bin/runs, the tools, lib/runs/libruns-cuda.so
#                 and lib/runs/libruns-mpi.so (each where it was built)
#   make bench    benchmarks (not tests): ratios against baselines measured in the same run
#   make test-emu the CUDA kernels on a CPU emulation of the CUDA runtime (~15 s; in make test too)
#   make test SAN=1  the same suite built with AddressSanitizer + UBSan into build-san/
#                 (CPU only, no nvcc; any sanitizer report aborts the test that hit it)
#   make fuzz     libFuzzer targets (tests/fuzz/fuzz_*.c, clang) into build-fuzz/, each run
#                 for FUZZ_SECONDS (default 60); prints executions per target
#
# Sources are picked up by directory, so adding a file needs no edit here:
#   library   common/ store/ manifests/ cuda/ cuda/cpu/ tools/ runner/ (but runner/main.c
#             runner/cli_*.c and runner/cmd_*.c, which make up the CLI)
#   binaries  runner/ -> build/runs; tools/cli/NAME.c -> tools/NAME
#   tests     tests/unit/test_*.c -> build/tests/test_* (cmocka); tests/cli/t*.sh
#   fuzzing   tests/fuzz/fuzz_NAME.c -> build/fuzz/replay_NAME (replays tests/fuzz/corpus/NAME/
#             and tests/fuzz/regress/NAME/ in make test) and build-fuzz/fuzz/fuzz_NAME (make fuzz)
#   benches   bench/bench_*.c -> build/bench/bench_*

CC      ?= cc
# SAN=1: sanitizer build in its own directory (so build/ stays the plain one), CPU only.
# FUZZ=1 (set by `make fuzz`): clang with libFuzzer's coverage hooks, into build-fuzz/.
SAN     ?=
FUZZ    ?=
ifeq ($(SAN),1)
  OPT     ?= -O1 -march=native
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  NVCC    :=
endif
ifeq ($(FUZZ),1)
  FUZZ_CC ?= clang
  CC      := $(FUZZ_CC)
  OPT     ?= -O1 -march=native
  SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  NVCC    :=
endif
NVCC    ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
CUDA_HOME ?= /usr/local/cuda
PKGS    := libgit2 libcjson libcrypto
OPT     ?= -O3 -march=native
CFLAGS  ?= $(OPT) -g
CFLAGS  += $(SANFLAGS) -DRUNS_VERSION=\"$(VERSION)\" -std=gnu11 -Wall -Wextra -Wno-unused-parameter -fopenmp -I. \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libgit2 (with the 15 libraries it needs) and libcrypto are not linked: the store
# dlopen()s them by soname on first use (common/lazylib.h, store/git_lazy.c,
# store/crypto_lazy.c), so commands that never open a store or hash start without them
# (bench_startup). The sonames are read from the libraries found here; where one is
# not found, that library is linked as before.
LIBDIR_OF = $(shell pkg-config --variable=libdir $(1) 2>/dev/null)
SONAME_OF = $(shell objdump -p $(call LIBDIR_OF,$(1))/$(2) 2>/dev/null | awk '/SONAME/{print $$2}')
GIT2_SONAME   := $(call SONAME_OF,libgit2,libgit2.so)
CRYPTO_SONAME := $(call SONAME_OF,libcrypto,libcrypto.so)
LAZY_OUT :=
ifneq ($(GIT2_SONAME),)
  CFLAGS   += -DRUNS_LIBGIT2_SONAME=\"$(GIT2_SONAME)\"
  LAZY_OUT += libgit2
endif
ifneq ($(CRYPTO_SONAME),)
  CFLAGS   += -DRUNS_LIBCRYPTO_SONAME=\"$(CRYPTO_SONAME)\"
  LAZY_OUT += libcrypto
endif
LDLIBS  += $(shell pkg-config --libs $(filter-out $(LAZY_OUT),$(PKGS)) 2>/dev/null) -lm -lpthread -fopenmp
B       := build
ifeq ($(SAN),1)
  B     := build-san
endif
ifeq ($(FUZZ),1)
  B     := build-fuzz
endif
# The plain build puts tools next to their sources (tools/NAME, as scripts expect);
# sanitizer and fuzz builds keep theirs inside their own build directory.
TOOLDIR := $(if $(filter build,$(B)),tools,$(B)/tools)
FUZZ_SECONDS ?= 60
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

# Data-parallel training over MPI (runner/dp.c) where Open MPI's mpicc is found (make deps);
# without it the build trains on one process and refuses to run under mpirun. Not in the
# sanitizer and fuzz builds. MPI=0 builds without. libmpi is linked into the transport
# $(B)/libruns-mpi.so alone (runner/mpi/), which dp.c dlopen()s only under mpirun/srun:
# linked into every program it cost each command start 16-20 ms (bench_startup).
MPICC   ?= $(shell command -v mpicc 2>/dev/null)
ifneq ($(strip $(MPICC))$(SAN)$(FUZZ)$(filter 0,$(MPI)),$(strip $(MPICC)))
  MPICC :=
endif
ifneq ($(strip $(MPICC)),)
  CFLAGS  += -DRUNS_HAVE_MPI=1
  MPI_SO  := $(B)/libruns-mpi.so
endif

LIB_C   := $(wildcard common/*.c store/*.c manifests/*.c cuda/*.c cuda/cpu/*.c tools/*.c runner/*.c)
LIB_C   := $(filter-out runner/main.c runner/cli_%.c runner/cmd_%.c,$(LIB_C))
CLI_C   := $(wildcard runner/main.c runner/cli_*.c runner/cmd_*.c)
TOOLS   := $(patsubst tools/cli/%.c,$(TOOLDIR)/%,$(wildcard tools/cli/*.c))
TESTS   := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
BENCHES := $(patsubst bench/%.c,$(B)/bench/%,$(wildcard bench/bench_*.c))
FUZZ_TARGETS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
REPLAYS := $(patsubst %,$(B)/fuzz/replay_%,$(FUZZ_TARGETS))
FUZZERS := $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZ_TARGETS))

# The CUDA backend is a shared object of its own, $(B)/libruns-cuda.so, which
# cuda/cuda_loader.c dlopen()s on first use (--backend cuda|auto, a GPU check):
# nothing in libruns.a or the programs links cuBLAS or the CUDA runtime, so commands
# that never ask for CUDA start in milliseconds. -ldl: dlopen is in libdl before glibc 2.34.
LDLIBS  += -ldl
ifneq ($(strip $(NVCC)),)
  CU_SRC   := $(wildcard cuda/*.cu)
  CU_OBJ   := $(patsubst %.cu,$(B)/%.o,$(CU_SRC))
  CUDA_SO  := $(B)/libruns-cuda.so
  NVFLAGS  ?= -O3 -std=c++17 -I. -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=sm_80 \
              -gencode arch=compute_90,code=compute_90 \
              -Xcompiler -fPIC --expt-relaxed-constexpr
  CFLAGS   += -DRUNS_HAVE_CUDA=1
  CUDA_LIBS := -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcublasLt -lcublas -lcudart -lstdc++ -lm
  # NCCL (data-parallel CUDA training, cuda/nccl_dist.cu) wherever nccl.h is found beside
  # the toolkit or the system's; NCCL=0 builds without (then mpirun + --backend cuda is
  # refused with one line). Only the .so links libnccl.
  NCCL_H   := $(if $(filter 0,$(NCCL)),,$(firstword $(wildcard $(CUDA_HOME)/include/nccl.h /usr/include/nccl.h)))
  ifneq ($(NCCL_H),)
    NVFLAGS   += -DRUNS_HAVE_NCCL=1 -I$(dir $(NCCL_H))
    CUDA_LIBS := -lnccl $(CUDA_LIBS)
  endif
all: $(CUDA_SO)
# where the loader looks last: tests, benches and tools/ do not sit next to the .so
$(B)/cuda/cuda_loader.o: CFLAGS += -DRUNS_CUDA_SO_PATH=\"$(abspath $(CUDA_SO))\"
# --no-undefined: the .so must not lean on symbols of the program that loads it;
# the version script exports its one entry (cuda/cuda_plugin.h) and hides the rest.
$(CUDA_SO): $(CU_OBJ) cuda/dl/cuda_plugin.c cuda/dl/cuda_plugin.map cuda/cuda_plugin.h cuda/gpt_backend.h cuda/gpt.h
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -I. -fPIC -shared -Wl,--no-undefined \
	  -Wl,--version-script=cuda/dl/cuda_plugin.map -o $@ cuda/dl/cuda_plugin.c $(CU_OBJ) $(CUDA_LIBS)
endif

ifneq ($(strip $(MPI_SO)),)
all: $(MPI_SO)
# where dp.c looks last: tests, benches and tools/ do not sit next to the .so
$(B)/runner/dp.o: CFLAGS += -DRUNS_MPI_SO_PATH=\"$(abspath $(MPI_SO))\"
# --no-undefined: the .so leans on no symbol of the program that loads it; the version
# script exports its one entry (runner/mpi/dp_mpi_plugin.h) and hides the rest.
$(MPI_SO): runner/mpi/dp_mpi_plugin.c runner/mpi/dp_mpi_plugin.map runner/mpi/dp_mpi_plugin.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -I. $(shell $(MPICC) --showme:compile 2>/dev/null) \
	  -fPIC -shared -Wl,--no-undefined -Wl,--version-script=runner/mpi/dp_mpi_plugin.map \
	  -o $@ runner/mpi/dp_mpi_plugin.c $(shell $(MPICC) --showme:link 2>/dev/null)
endif

LIB_OBJ := $(patsubst %.c,$(B)/%.o,$(LIB_C))
CLI_OBJ := $(patsubst %.c,$(B)/%.o,$(CLI_C))
LIB     := $(B)/libruns.a

.PHONY: all deps test demo demo-long install bench clean corpus tools fuzz fuzz-build
all: $(B)/runs $(TOOLS) $(TESTS) $(BENCHES) $(REPLAYS)
tools: $(TOOLS)

deps:
	@scripts/install-deps.sh

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(B)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/runs: $(CLI_OBJ) $(LIB)
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(LIB) $(LDLIBS)

$(TOOLDIR)/%: tools/cli/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

$(B)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# bench_trainer is two files (bench/trainer_parts.c: the parts of a step).
$(B)/bench/bench_trainer: bench/bench_trainer.c bench/trainer_parts.c bench/trainer_bench.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ bench/bench_trainer.c bench/trainer_parts.c $(LIB) $(LDLIBS)

# A fuzz target without libFuzzer: replay.c's main() feeds it files (make test).
$(B)/fuzz/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz_util.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay.c $(LIB) $(LDLIBS)

# The same target with libFuzzer's main (make fuzz, FUZZ=1 only).
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB) $(LDLIBS)

# SAN=1 runs the suite against build-san/ (B and RUNS tell the scripts; CC and CXX carry
# the sanitizer flags to what a script compiles itself, the CUDA emulator test); the CLI
# scripts that call helper tools use the plain tools/ ones, so those are built too.
test: deps
	@$(MAKE) --no-print-directory all
ifeq ($(SAN),1)
	@$(MAKE) --no-print-directory SAN= tools
	@ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1} \
	 UBSAN_OPTIONS=$${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	 CC="$(CC) $(SANFLAGS)" CXX="$(CXX) $(SANFLAGS)" \
	 B="$(CURDIR)/$(B)" RUNS="$(CURDIR)/$(B)/runs" tests/run-tests.sh
else
	@tests/run-tests.sh
endif

# make fuzz: every target under libFuzzer for FUZZ_SECONDS each (tests/fuzz/run.sh says
# where findings go). Needs clang (scripts/install-deps.sh installs it).
fuzz: deps
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) B=build-fuzz tests/fuzz/run.sh $(FUZZ_TARGETS)

fuzz-build: $(FUZZERS)

demo: deps
	@echo 'building (make -s all) ...'
	@$(MAKE) --no-print-directory -s all
	@scripts/demo.sh

# the seed's story at full length: the 2000-step schedule of configs/demo.json
demo-long: deps
	@echo 'building (make -s all) ...'
	@$(MAKE) --no-print-directory -s all
	@DEMO_LONG=1 scripts/demo.sh

# make install [PREFIX=/usr/local] [DESTDIR=]: the CLI and the tools into PREFIX/bin, the
# CUDA backend (where it was built) into PREFIX/lib/runs/, where cuda/cuda_loader.c looks
# from the installed program (its ../lib/runs/). Only what `all` builds for programs:
# not the tests or benches. Plain build only (SAN=1 and FUZZ=1 binaries are not for use).
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
install: $(B)/runs $(TOOLS) $(CUDA_SO) $(MPI_SO)
	install -d "$(DESTDIR)$(BINDIR)"
	install -m 755 $(B)/runs $(TOOLS) "$(DESTDIR)$(BINDIR)/"
ifneq ($(strip $(MPI_SO)),)
	install -d "$(DESTDIR)$(PREFIX)/lib/runs"
	install -m 755 $(MPI_SO) "$(DESTDIR)$(PREFIX)/lib/runs/"
endif
ifneq ($(strip $(CUDA_SO)),)
	install -d "$(DESTDIR)$(PREFIX)/lib/runs"
	install -m 755 $(CUDA_SO) "$(DESTDIR)$(PREFIX)/lib/runs/"
endif

corpus: deps
	@$(MAKE) --no-print-directory all
	@scripts/build-corpus.sh

# Each benchmark's output is kept in $(B)/bench/out/<name>.txt, and
# scripts/bench-summary.sh ends the run with the four groups' headline lines.
# Where mpicc was found, bench_startup compares `runs` with the same commit built
# without MPI (MPI=0 into $(B)/nompi/; it finds $(B)/nompi/runs next to $(B)/runs).
bench: deps
	@$(MAKE) --no-print-directory all
ifneq ($(strip $(MPICC)),)
	@$(MAKE) --no-print-directory -s B=$(B)/nompi MPI=0 $(B)/nompi/runs
endif
	@mkdir -p $(B)/bench/out
	@for b in $(BENCHES); do n=$$(basename $$b); echo "== $$b"; \
	  { $$b; echo $$? > $(B)/bench/out/$$n.rc; } | tee $(B)/bench/out/$$n.txt; \
	  [ "$$(cat $(B)/bench/out/$$n.rc)" = 0 ] || exit 1; done
	@scripts/bench-summary.sh $(B)/bench/out

# make test-emu: the CUDA backend's kernels on a CPU emulation of the CUDA runtime and
# cuBLAS, judged by the parity test (tests/emu/run.sh says what that does not prove).
# `make test` runs it as tests/cli/t6000-cuda-emu.sh; outputs under $(B)/emu/.
.PHONY: test-emu
test-emu: $(LIB)
	@B="$(B)" CC="$(CC)" CXX="$(CXX)" PKGS="$(PKGS)" tests/emu/run.sh

clean:
	rm -rf $(B) $(TOOLS) build-san build-fuzz

-include $(shell find $(B) -name '*.d' 2>/dev/null)
