/* bench/bench_store.c — store throughput on a synthetic GPT-2-124M-shaped checkpoint
 * (weights + adam_m + adam_v, one object per tensor, ~1.5 GB), against baselines
 * measured in the same run on the same bytes and the same file system:
 *   save    = runs_node_commit (hash + write + fsync + rename + commit)
 *             vs one plain write() + fsync() of all the bytes into one file,
 *             BENCH_REPS pairs (default 5): each pair's ratio, their median and range;
 *   restore = runs_node_load_group x3 (read + SHA-256 verify) into reused buffers
 *             vs one plain read() + SHA-256 of that file, single-threaded;
 *   fork    = runs_node_commit of a node reusing every object (time, object bytes).
 * Reads are from the page cache in both cases (the bytes were just written).
 * The load average is printed at the start and the end: on a shared machine a
 * ratio means little without it.
 * Env: BENCH_DIR (default $TMPDIR or /tmp), BENCH_LAYERS (default 12), BENCH_REPS
 * (1..20, default 5). Not a test.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/error.h"
#include "manifests/manifest.h"
#include "store/lineage.h"
#include "store/put_stats.h"
#include "store/object.h"
#include "store/store.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *big(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 2u << 20, n) != 0)
        return NULL;
    madvise(p, n, MADV_HUGEPAGE);
    memset(p, 0, n); /* first touch here, not inside a timed region */
    return p;
}

#define MAX_REPS 20

/* The first line of /proc/loadavg (1, 5, 15 minutes), for the report. */
static const char *loadavg(void)
{
    static char buf[128];
    FILE *f = fopen("/proc/loadavg", "r");
    snprintf(buf, sizeof buf, "?");
    if (f) {
        if (fgets(buf, sizeof buf, f)) {
            char *e = buf;
            for (int sp = 0; *e && sp < 3; e++)
                sp += *e == ' ';
            if (e > buf && e[-1] == ' ')
                e[-1] = '\0';
        }
        fclose(f);
    }
    return buf;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (a sorted copy; v keeps its order). */
static double median(const double *v, int n)
{
    double w[MAX_REPS];
    memcpy(w, v, sizeof *v * (size_t)n);
    qsort(w, (size_t)n, sizeof *w, cmp_double);
    return n % 2 ? w[n / 2] : (w[n / 2 - 1] + w[n / 2]) / 2;
}

/* The baseline: one plain write() + fsync() of the bytes into a new file at path.
 * Seconds, or -1 after a message. */
static double plain_save(const char *path, const void *src, size_t total)
{
    unlink(path);
    double t0 = now();
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    for (size_t o = 0; o < total;) {
        ssize_t w = write(fd, (const char *)src + o, total - o > (1u << 30) ? (1u << 30) : total - o);
        if (w <= 0) {
            perror("write");
            close(fd);
            return -1;
        }
        o += (size_t)w;
    }
    if (fsync(fd) != 0) {
        perror("fsync");
        close(fd);
        return -1;
    }
    close(fd);
    return now() - t0;
}

static cJSON *start_manifest(void)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "schema", "runs.manifest/1");
    cJSON_AddStringToObject(m, "kind", "start");
    cJSON_AddStringToObject(m, "run", "bench");
    cJSON_AddNumberToObject(m, "step", 0);
    cJSON_AddNumberToObject(m, "tokens", 0);
    cJSON_AddNullToObject(m, "parent");
    cJSON_AddObjectToObject(m, "config");
    return m;
}

typedef struct {
    char name[64];
    int ndim;
    int64_t shape[2];
} tdesc;

static size_t add(tdesc *v, size_t n, const char *name, int64_t a, int64_t b)
{
    snprintf(v[n].name, sizeof v[n].name, "%s", name);
    v[n].ndim = b ? 2 : 1;
    v[n].shape[0] = a;
    v[n].shape[1] = b;
    return n + 1;
}

static uint64_t dir_bytes(const char *objects)
{
    uint64_t total = 0;
    for (int d = 0; d < 256; d++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%02x", objects, d);
        DIR *dh = opendir(p);
        struct dirent *e;
        if (!dh)
            continue;
        while ((e = readdir(dh))) {
            struct stat st;
            char f[4400];
            snprintf(f, sizeof f, "%s/%s", p, e->d_name);
            if (e->d_name[0] != '.' && stat(f, &st) == 0)
                total += (uint64_t)st.st_size;
        }
        closedir(dh);
    }
    return total;
}

int main(void)
{
    const char *base = getenv("BENCH_DIR") ? getenv("BENCH_DIR") : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int layers = getenv("BENCH_LAYERS") ? atoi(getenv("BENCH_LAYERS")) : 12;
    int reps = getenv("BENCH_REPS") ? atoi(getenv("BENCH_REPS")) : 5;
    if (reps < 1 || reps > MAX_REPS || layers < 0 || layers > 1000) {
        fprintf(stderr, "bench_store: BENCH_REPS must be 1..%d and BENCH_LAYERS 0..1000\n", MAX_REPS);
        return 1;
    }
    const int C = 768, V = 50257, T = 1024;
    tdesc *td = calloc((size_t)layers * 12 + 8, sizeof *td);
    size_t nt = 0;
    nt = add(td, nt, "wte", V, C);
    nt = add(td, nt, "wpe", T, C);
    for (int l = 0; l < layers; l++) {
        char n[64];
#define L(suffix, a, b) (snprintf(n, sizeof n, "h.%d.%s", l, suffix), nt = add(td, nt, n, a, b))
        L("ln_1.w", C, 0);
        L("ln_1.b", C, 0);
        L("attn.c_attn.w", C, 3 * C);
        L("attn.c_attn.b", 3 * C, 0);
        L("attn.c_proj.w", C, C);
        L("attn.c_proj.b", C, 0);
        L("ln_2.w", C, 0);
        L("ln_2.b", C, 0);
        L("mlp.c_fc.w", C, 4 * C);
        L("mlp.c_fc.b", 4 * C, 0);
        L("mlp.c_proj.w", 4 * C, C);
        L("mlp.c_proj.b", C, 0);
    }
    nt = add(td, nt, "ln_f.w", C, 0);
    nt = add(td, nt, "ln_f.b", C, 0);
    size_t params = 0;
    for (size_t i = 0; i < nt; i++)
        params += (size_t)td[i].shape[0] * (size_t)(td[i].ndim == 2 ? td[i].shape[1] : 1);
    size_t gbytes = params * 4, total = 3 * gbytes;

    float *src = big(total), *dst = big(total);
    unsigned char *rbuf = big(total);
    if (!src || !dst || !rbuf) {
        fprintf(stderr, "bench_store: out of memory (%zu bytes x3)\n", total);
        return 1;
    }
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < total / 4; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        src[i] = (float)(int32_t)x * 1e-10f;
    }
    runs_tensor *t = calloc(3 * nt, sizeof *t);
    size_t off = 0;
    for (int g = 0; g < 3; g++)
        for (size_t i = 0; i < nt; i++) {
            runs_tensor *e = &t[g * nt + i];
            e->name = td[i].name;
            e->group = runs_manifest_groups[g];
            e->ndim = td[i].ndim;
            e->shape[0] = td[i].shape[0];
            e->shape[1] = td[i].shape[1];
            e->bytes = (size_t)td[i].shape[0] * (size_t)(td[i].ndim == 2 ? td[i].shape[1] : 1) * 4;
            e->data = (char *)src + off;
            off += e->bytes;
        }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/runs-bench-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    printf("checkpoint: %zu params x 3 groups = %.3f GB in %zu tensors, store %s, %ld cpus, load %s\n", params,
           total / 1e9, 3 * nt, dir, sysconf(_SC_NPROCESSORS_ONLN), loadavg());

    /* save: REPS pairs of (plain write+fsync, runs_node_commit into a fresh store),
     * the pair's order alternating so a load change hits both sides alike; the ratio
     * of each pair, then their median and range (one pair says little on a shared disk) */
    char plain[4200];
    snprintf(plain, sizeof plain, "%s/plain.bin", dir);
    runs_store *s = NULL;
    char id[41], fid[41];
    cJSON *m = NULL;
    double ratio[MAX_REPS], tsave[MAX_REPS], tbase[MAX_REPS], t0;
    runs__put_stats ph[MAX_REPS];
    for (int rep = 0; rep < reps; rep++) {
        for (int side = 0; side < 2; side++) {
            /* each side starts with nothing of the other's left to flush (the
             * previous side's deletes, say) */
            sync();
            if ((side ^ (rep & 1)) == 0) {
                if ((tbase[rep] = plain_save(plain, src, total)) < 0)
                    return 1;
                unlink(plain);
                continue;
            }
            runs_store_free(s);
            s = NULL;
            char cmd[20000];
            snprintf(cmd, sizeof cmd, "rm -rf '%s/objects' '%s/lineage.git' '%s/tmp' '%s/locks'", dir, dir, dir, dir);
            if (system(cmd) != 0)
                return 1;
            if (runs_store_init(dir) || runs_store_open(&s, dir)) {
                fprintf(stderr, "bench_store: %s\n", runs_error_message());
                return 1;
            }
            sync();
            cJSON_Delete(m);
            m = start_manifest();
            t0 = now();
            if (runs_node_commit(id, s, m, t, 3 * nt)) {
                fprintf(stderr, "bench_store: %s\n", runs_error_message());
                return 1;
            }
            tsave[rep] = now() - t0;
            runs__put_stats_get(&ph[rep]);
        }
        ratio[rep] = tbase[rep] / tsave[rep];
    }

    /* baseline restore: plain read + SHA-256 of the same bytes, single-threaded */
    if (plain_save(plain, src, total) < 0)
        return 1;
    t0 = now();
    int fd = open(plain, O_RDONLY);
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_DigestInit_ex(c, EVP_sha256(), NULL);
    for (size_t o = 0; o < total;) {
        size_t want = total - o > (2u << 20) ? (2u << 20) : total - o;
        ssize_t r = read(fd, rbuf + o, want);
        if (r <= 0) {
            perror("read");
            return 1;
        }
        EVP_DigestUpdate(c, rbuf + o, (size_t)r);
        o += (size_t)r;
    }
    unsigned char md[32];
    unsigned int ml;
    EVP_DigestFinal_ex(c, md, &ml);
    EVP_MD_CTX_free(c);
    close(fd);
    double base_restore = now() - t0;
    unlink(plain);

    /* restore: the three groups into reused buffers, verified */
    cJSON *back = NULL;
    t0 = now();
    int rc = runs_node_manifest(&back, s, id);
    for (int g = 0; g < 3 && rc == 0; g++)
        rc = runs_node_load_group(s, back, runs_manifest_groups[g], (char *)dst + g * gbytes, gbytes);
    double restore = now() - t0;
    if (rc || memcmp(src, dst, total) != 0) {
        fprintf(stderr, "bench_store: restore failed or differs: %s\n", runs_error_message());
        return 1;
    }

    /* fork: a node reusing every object */
    char objects[4200];
    snprintf(objects, sizeof objects, "%s/objects", dir);
    uint64_t before = dir_bytes(objects);
    cJSON *fm = cJSON_CreateObject();
    cJSON_AddStringToObject(fm, "schema", "runs.manifest/1");
    cJSON_AddStringToObject(fm, "kind", "fork");
    cJSON_AddStringToObject(fm, "run", "bench-fork");
    cJSON_AddNumberToObject(fm, "step", 0);
    cJSON_AddNumberToObject(fm, "tokens", 0);
    cJSON_AddStringToObject(fm, "parent", id);
    cJSON_AddObjectToObject(fm, "config");
    cJSON_AddItemToObject(fm, "tensors", cJSON_Duplicate(cJSON_GetObjectItem(back, "tensors"), 1));
    t0 = now();
    if (runs_node_commit(fid, s, fm, NULL, 0)) {
        fprintf(stderr, "bench_store: fork: %s\n", runs_error_message());
        return 1;
    }
    double fork = now() - t0;
    uint64_t after = dir_bytes(objects);

    double gb = total / 1e9;
    for (int rep = 0; rep < reps; rep++)
        printf("save %d/%d  %.3f s  %.2f GB/s   baseline write+fsync %.3f s  %.2f GB/s   ratio %.2f\n", rep + 1, reps,
               tsave[rep], gb / tsave[rep], tbase[rep], gb / tbase[rep], ratio[rep]);
    /* where a save's time went: put_many's marks (seconds from its start), then the
     * manifest commit and refs (the rest); thread-seconds summed over its threads */
    for (int rep = 0; rep < reps; rep++)
        printf("  save %d phases: written %.2f  synced %.2f  dirs %.2f  commit+refs %.2f s | thread-s: hash %.2f "
               "write %.2f fsync %.2f dir-fsync %.2f | %zu objects %zu fsyncs %zu dirs\n",
               rep + 1, ph[rep].written, ph[rep].synced, ph[rep].wall, tsave[rep] - ph[rep].wall, ph[rep].hash_s,
               ph[rep].write_s, ph[rep].fsync_s, ph[rep].dir_s, ph[rep].objects, ph[rep].fsyncs, ph[rep].dirs);
    double lo = ratio[0], hi = ratio[0];
    for (int rep = 1; rep < reps; rep++) {
        lo = ratio[rep] < lo ? ratio[rep] : lo;
        hi = ratio[rep] > hi ? ratio[rep] : hi;
    }
    printf("save     ratio median %.2f  range %.2f-%.2f over %d runs  (target: median >= 0.9)  save median %.2f GB/s\n",
           median(ratio, reps), lo, hi, reps, gb / median(tsave, reps));
    printf("restore  %.3f s  %.2f GB/s   baseline read+SHA-256 %.2f GB/s   ratio %.2f  (target >= 0.8)\n", restore,
           gb / restore, gb / base_restore, base_restore / restore);
    printf("fork     %.2f ms  object bytes written %llu  (target < 20 ms, 0 bytes)\n", fork * 1e3,
           (unsigned long long)(after - before));
    printf("load average at the end: %s\n", loadavg());
    cJSON_Delete(m);
    cJSON_Delete(fm);
    cJSON_Delete(back);
    runs_store_free(s);
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_store: could not remove %s\n", dir);
    free(t);
    free(td);
    free(src);
    free(dst);
    free(rbuf);
    return 0;
}
