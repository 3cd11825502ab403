/*
 * Reader for the shared test vectors (proto_spec/testdata/README.md).
 * Test-only code: it allocates freely and reports the first problem it
 * finds as text.
 */
#ifndef WEAVE_VECFILE_H
#define WEAVE_VECFILE_H

#include <stddef.h>
#include <stdint.h>

struct vec_entry {
    char *key;
    char *value; /* rest of the line after "key: ", literal */
    int used;    /* set by vec_get: keys nobody read are unknown keys */
};

struct vec_file {
    struct vec_entry *entries;
    size_t count;
    uint8_t *bytes; /* every `hex` line, concatenated */
    size_t nbytes;
    int has_hex;
};

/* Loads `path`. Returns 0, or -1 with a reason in why[0..cap). */
int vec_load(const char *path, struct vec_file *v, char *why, size_t cap);
void vec_free(struct vec_file *v);

/* The value of `key` (marking it used), or NULL when absent. */
const char *vec_get(struct vec_file *v, const char *key);

/* First key nobody asked for with vec_get, or NULL. `hex` counts as used. */
const char *vec_unused_key(const struct vec_file *v);

/*
 * Hex digits, spaces allowed between digits, into a new buffer (*out, which
 * the caller frees; non-NULL even when empty). Returns 0 or -1 on a bad digit
 * or an odd count.
 */
int vec_hex_decode(const char *s, uint8_t **out, size_t *n);

/*
 * Names (not paths) of the *.vec files in `dir`, sorted. Returns the count,
 * or -1 when the directory cannot be read. Free with vec_names_free.
 */
long vec_list(const char *dir, char ***names);
void vec_names_free(char **names, long n);

#endif /* WEAVE_VECFILE_H */
