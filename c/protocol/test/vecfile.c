/* Reader for the shared test vectors; see vecfile.h and testdata/README.md. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* getline, strdup */
#endif
#include "vecfile.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vec_hex_decode(const char *s, uint8_t **out, size_t *n)
{
    size_t cap = strlen(s) / 2 + 1;
    uint8_t *buf = malloc(cap);
    size_t len = 0;
    int high = -1;

    if (buf == NULL)
        return -1;
    for (; *s != '\0'; s++) {
        if (*s == ' ' || *s == '\t')
            continue;
        int d = hex_digit(*s);
        if (d < 0)
            goto bad;
        if (high < 0) {
            high = d;
        } else {
            buf[len++] = (uint8_t)(high << 4 | d);
            high = -1;
        }
    }
    if (high >= 0)
        goto bad;
    *out = buf;
    *n = len;
    return 0;
bad:
    free(buf);
    return -1;
}

static void say(char *why, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(char *why, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

static int append_hex(struct vec_file *v, const char *value)
{
    uint8_t *chunk;
    size_t n;
    if (vec_hex_decode(value, &chunk, &n) != 0)
        return -1;
    uint8_t *grown = realloc(v->bytes, v->nbytes + n + 1);
    if (grown == NULL) {
        free(chunk);
        return -1;
    }
    memcpy(grown + v->nbytes, chunk, n);
    v->bytes = grown;
    v->nbytes += n;
    free(chunk);
    return 0;
}

static int add_entry(struct vec_file *v, const char *key, const char *value)
{
    struct vec_entry *grown = realloc(v->entries, (v->count + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    v->entries = grown;
    struct vec_entry *e = &v->entries[v->count];
    e->key = strdup(key);
    e->value = strdup(value);
    e->used = 0;
    if (e->key == NULL || e->value == NULL) {
        free(e->key);
        free(e->value);
        return -1;
    }
    v->count++;
    return 0;
}

static int find(const struct vec_file *v, const char *key)
{
    for (size_t i = 0; i < v->count; i++) {
        if (strcmp(v->entries[i].key, key) == 0)
            return (int)i;
    }
    return -1;
}

/* One non-comment line: "key: value" (value may be empty: "key:"). */
static int parse_line(struct vec_file *v, char *line, long lineno, char *why,
                      size_t cap)
{
    char *colon = strchr(line, ':');
    if (colon == NULL) {
        say(why, cap, "line %ld: no ':' in \"%.60s\"", lineno, line);
        return -1;
    }
    *colon = '\0';
    const char *key = line;
    char *value = colon + 1;
    if (*value == ' ')
        value++; /* exactly one: the rest is literal (messages may start with spaces) */
    if (*key == '\0' || strchr(key, ' ') != NULL) {
        say(why, cap, "line %ld: bad key \"%.60s\"", lineno, key);
        return -1;
    }
    if (strcmp(key, "hex") == 0) {
        v->has_hex = 1;
        if (append_hex(v, value) != 0) {
            say(why, cap, "line %ld: bad hex", lineno);
            return -1;
        }
        return 0;
    }
    if (find(v, key) >= 0) {
        say(why, cap, "line %ld: duplicate key \"%s\"", lineno, key);
        return -1;
    }
    if (add_entry(v, key, value) != 0) {
        say(why, cap, "out of memory");
        return -1;
    }
    return 0;
}

int vec_load(const char *path, struct vec_file *v, char *why, size_t cap)
{
    memset(v, 0, sizeof *v);
    v->bytes = malloc(1);
    FILE *f = fopen(path, "r");
    if (f == NULL || v->bytes == NULL) {
        say(why, cap, "cannot open %s: %s", path, strerror(errno));
        if (f != NULL)
            fclose(f);
        return -1;
    }
    char *line = NULL;
    size_t linecap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while (rc == 0 && (n = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if ((size_t)n != strlen(line)) {
            say(why, cap, "line %ld: NUL byte", lineno);
            rc = -1;
        } else if (n > 0 && line[0] != '#') {
            rc = parse_line(v, line, lineno, why, cap);
        }
    }
    free(line);
    fclose(f);
    if (rc == 0 && !v->has_hex) {
        say(why, cap, "missing key \"hex\"");
        rc = -1;
    }
    return rc;
}

void vec_free(struct vec_file *v)
{
    for (size_t i = 0; i < v->count; i++) {
        free(v->entries[i].key);
        free(v->entries[i].value);
    }
    free(v->entries);
    free(v->bytes);
    memset(v, 0, sizeof *v);
}

const char *vec_get(struct vec_file *v, const char *key)
{
    int i = find(v, key);
    if (i < 0)
        return NULL;
    v->entries[i].used = 1;
    return v->entries[i].value;
}

const char *vec_unused_key(const struct vec_file *v)
{
    for (size_t i = 0; i < v->count; i++) {
        if (!v->entries[i].used)
            return v->entries[i].key;
    }
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_vec_name(const char *name)
{
    size_t n = strlen(name);
    return name[0] != '.' && n > 4 && strcmp(name + n - 4, ".vec") == 0;
}

long vec_list(const char *dir, char ***names)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    char **list = NULL;
    long count = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_vec_name(e->d_name))
            continue;
        char **grown = realloc(list, (size_t)(count + 1) * sizeof *grown);
        char *copy = strdup(e->d_name);
        if (grown == NULL || copy == NULL) {
            free(copy);
            list = grown != NULL ? grown : list;
            vec_names_free(list, count);
            closedir(d);
            return -1;
        }
        list = grown;
        list[count++] = copy;
    }
    closedir(d);
    if (count > 0)
        qsort(list, (size_t)count, sizeof *list, by_name);
    *names = list;
    return count;
}

void vec_names_free(char **names, long n)
{
    for (long i = 0; i < n; i++)
        free(names[i]);
    free(names);
}
