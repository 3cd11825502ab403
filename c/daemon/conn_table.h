/*
 * The event loop's connections: a table of slots (tag -> connection, O(1)
 * both ways) and the two deadline lists. It knows connections only as
 * entries; what they do is conn.h's and the loop's business. Used by
 * server.c, server_accept.c and server_conn.c, and uses none of them.
 */
#ifndef WEAVE_CONN_TABLE_H
#define WEAVE_CONN_TABLE_H

#include <stdint.h>

#include "daemon/conn.h"

struct weave_conn_table {
    struct weave_conn **slots; /* nslots entries, NULL when free */
    uint32_t *free_slots;      /* stack of the nslots - nconns free slots */
    uint32_t nslots;
    uint32_t nconns;
    uint32_t generation;       /* of the last tag handed out, never 0 */
    struct weave_conn_list reading; /* READ_HEADER/PAYLOAD, by read deadline */
    struct weave_conn_list writing; /* WRITING, or WORKING with messages the
                                       client does not read: by write deadline */
    /* WORKING connections that asked for progress, by when their next
     * heartbeat is due (their own links: c->hb_*). */
    struct weave_conn_list heartbeats;
};

/* An empty table of nslots (>= 1) slots. Returns 0, or -1 (out of memory;
 * the table is then safe to free). */
int weave_conn_table_init(struct weave_conn_table *t, uint32_t nslots);

/* Frees the table itself (not the connections still in it). */
void weave_conn_table_free(struct weave_conn_table *t);

/*
 * Puts c in a free slot (the caller checked nconns < nslots) and returns its
 * tag: slot | generation << 32, generation >= 1, so a tag is never one of
 * the loop's fixed epoll tags, and a stale tag never finds a newer
 * connection in the same slot. c->tag is NOT set: weave_conn_init does it.
 */
uint64_t weave_conn_table_add(struct weave_conn_table *t, struct weave_conn *c);

/* Frees the slot of `tag` (c->tag of a connection in the table). */
void weave_conn_table_remove(struct weave_conn_table *t, uint64_t tag);

/* The live connection with this tag, or NULL (closed, slot reused). */
struct weave_conn *weave_conn_table_find(const struct weave_conn_table *t,
                                         uint64_t tag);

/* Puts c on `list` (t->reading or t->writing) with this deadline, off the
 * list it was on. */
void weave_deadline_set(struct weave_conn_list *list, struct weave_conn *c,
                        uint64_t deadline_ms);

/* Takes c off its deadline list: no deadline (WORKING, or closing). */
void weave_deadline_clear(struct weave_conn *c);

/* Puts c on t->heartbeats, due at due_ms (off its old place there). */
void weave_heartbeat_set(struct weave_conn_table *t, struct weave_conn *c,
                         uint64_t due_ms);

/* Takes c off t->heartbeats (nothing if it is not on it). */
void weave_heartbeat_clear(struct weave_conn_table *t, struct weave_conn *c);

#endif /* WEAVE_CONN_TABLE_H */
