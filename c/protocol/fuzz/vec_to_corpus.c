/*
 * Writes the message bytes of test vectors as raw files, to seed a fuzzing
 * corpus: vec_to_corpus OUTDIR (DIR | FILE.vec)...
 * Each vector becomes OUTDIR/<name without .vec>.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vecfile.h"

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
    if (f != NULL && fwrite(v.bytes, 1, v.nbytes, f) == v.nbytes)
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
    if (argc < 3) {
        fprintf(stderr, "usage: vec_to_corpus OUTDIR (DIR | FILE.vec)...\n");
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
