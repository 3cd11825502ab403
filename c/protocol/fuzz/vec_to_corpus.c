/*
 * Writes the message bytes of test vectors as raw files, to seed a fuzzing
 * corpus: vec_to_corpus [--conn] OUTDIR (DIR | FILE.vec)...
 * Each vector becomes OUTDIR/<name without .vec>. With --conn, each file is
 * instead a script for c/daemon/fuzz/fuzz_conn.c that sends the message on
 * one connection in 256-byte pieces, then reads, waits for the worker and
 * reads again.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vecfile.h"

static int conn_script;

/* The message as a fuzz_conn script (see the op list there). */
static int write_script(FILE *f, const uint8_t *msg, size_t len)
{
    int ok = fputc(0x00, f) != EOF && fputc(0x00, f) != EOF; /* open A */
    for (size_t off = 0; ok && off < len; off += 256) {
        size_t n = len - off < 256 ? len - off : 256;
        if (off > 0)
            ok = fputc(0x00, f) != EOF; /* send on A */
        ok = ok && fputc((int)(n - 1), f) != EOF && fwrite(msg + off, 1, n, f) == n;
    }
    static const uint8_t tail[] = {6u << 1, 7u << 1, 6u << 1};
    return ok && fwrite(tail, 1, sizeof tail, f) == sizeof tail;
}

static int write_one(const char *outdir, const char *path, const char *name)
{
    struct vec_file v;
    char why[512];
    if (vec_load(path, &v, why, sizeof why) != 0) {
        fprintf(stderr, "vec_to_corpus: %s: %s\n", path, why);
        return -1;
    }
    char out[4096];
    const char *base = strrchr(name, '/');
    base = base != NULL ? base + 1 : name;
    int stem = (int)strlen(base) - 4; /* drop ".vec" */
    snprintf(out, sizeof out, "%s/%.*s", outdir, stem > 0 ? stem : (int)strlen(base), base);
    FILE *f = fopen(out, "wb");
    int rc = -1;
    if (f != NULL && (conn_script ? write_script(f, v.bytes, v.nbytes)
                                  : fwrite(v.bytes, 1, v.nbytes, f) == v.nbytes))
        rc = 0;
    if (f != NULL && fclose(f) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "vec_to_corpus: cannot write %s\n", out);
    vec_free(&v);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--conn") == 0) {
        conn_script = 1;
        argv++;
        argc--;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: vec_to_corpus [--conn] OUTDIR (DIR | FILE.vec)...\n");
        return 2;
    }
    int count = 0, bad = 0;
    for (int i = 2; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            bad += write_one(argv[1], argv[i], argv[i]) != 0;
            count++;
            continue;
        }
        char **names;
        long n = vec_list(argv[i], &names);
        for (long j = 0; j < n; j++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], names[j]);
            bad += write_one(argv[1], path, names[j]) != 0;
            count++;
        }
        if (n > 0)
            vec_names_free(names, n);
    }
    printf("vec_to_corpus: %d vectors, %d failed\n", count, bad);
    return bad == 0 ? 0 : 1;
}
