/* The loop's connection table and deadline lists; see conn_table.h. */
#include "daemon/conn_table.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

int weave_conn_table_init(struct weave_conn_table *t, uint32_t nslots)
{
    memset(t, 0, sizeof *t);
    t->nslots = nslots;
    t->slots = calloc(nslots, sizeof *t->slots);
    t->free_slots = calloc(nslots, sizeof *t->free_slots);
    if (t->slots == NULL || t->free_slots == NULL)
        return -1;
    /* Slot 0 on top; from then on the slot freed last is reused first. */
    for (uint32_t i = 0; i < nslots; i++)
        t->free_slots[i] = nslots - 1 - i;
    return 0;
}

void weave_conn_table_free(struct weave_conn_table *t)
{
    free(t->slots);
    free(t->free_slots);
    t->slots = NULL;
    t->free_slots = NULL;
    t->nslots = t->nconns = 0;
}

/* The free slots are a stack in t->free_slots[0 .. nslots - nconns). */
uint64_t weave_conn_table_add(struct weave_conn_table *t, struct weave_conn *c)
{
    assert(t->nconns < t->nslots);
    if (++t->generation == 0)
        t->generation = 1;
    uint32_t slot = t->free_slots[t->nslots - t->nconns - 1];
    assert(t->slots[slot] == NULL);
    t->slots[slot] = c;
    t->nconns++;
    return (uint64_t)t->generation << 32 | slot;
}

void weave_conn_table_remove(struct weave_conn_table *t, uint64_t tag)
{
    uint32_t slot = (uint32_t)tag;

    assert(slot < t->nslots && t->slots[slot] != NULL && t->nconns > 0);
    t->slots[slot] = NULL;
    t->nconns--;
    t->free_slots[t->nslots - t->nconns - 1] = slot;
}

struct weave_conn *weave_conn_table_find(const struct weave_conn_table *t,
                                         uint64_t tag)
{
    uint32_t slot = (uint32_t)tag;
    if ((tag >> 32) == 0 || slot >= t->nslots)
        return NULL;
    struct weave_conn *c = t->slots[slot];
    return (c != NULL && c->tag == tag) ? c : NULL;
}

/*
 * Deadlines are kept in two intrusive lists, each in deadline order, so the
 * loop never scans the max_connections slots (up to 65536): the nearest
 * deadline is a list head, O(1), and setting or clearing one is O(1).
 *
 * Why lists and not a heap: every read deadline is accept time + the same
 * read timeout, and every write deadline is the time the reply was ready +
 * the same write timeout. Appending at the tail with a monotonic clock
 * therefore keeps each list sorted by construction (FIFO = deadline order);
 * a single list would not be, since the two timeouts differ. Connections
 * that are WORKING have no deadline and are on no list.
 *
 * Insertion still walks back from the tail past later deadlines: with the
 * clock and timeouts as they are it never moves (O(1)), and should a caller
 * ever pass an earlier deadline the list stays sorted instead of a timeout
 * being missed.
 */

static void list_unlink(struct weave_conn *c)
{
    struct weave_conn_list *l = c->dl_list;

    if (l == NULL)
        return;
    if (c->dl_prev != NULL)
        c->dl_prev->dl_next = c->dl_next;
    else
        l->head = c->dl_next;
    if (c->dl_next != NULL)
        c->dl_next->dl_prev = c->dl_prev;
    else
        l->tail = c->dl_prev;
    c->dl_list = NULL;
    c->dl_prev = c->dl_next = NULL;
}

/* Inserts c after the last entry whose deadline is not later than c's. */
static void list_insert_sorted(struct weave_conn_list *l, struct weave_conn *c)
{
    struct weave_conn *after = l->tail;

    while (after != NULL && after->deadline_ms > c->deadline_ms)
        after = after->dl_prev;
    c->dl_list = l;
    c->dl_prev = after;
    c->dl_next = after != NULL ? after->dl_next : l->head;
    if (c->dl_next != NULL)
        c->dl_next->dl_prev = c;
    else
        l->tail = c;
    if (after != NULL)
        after->dl_next = c;
    else
        l->head = c;
}

void weave_deadline_set(struct weave_conn_list *list, struct weave_conn *c,
                        uint64_t deadline_ms)
{
    list_unlink(c);
    c->deadline_ms = deadline_ms;
    list_insert_sorted(list, c);
    assert(c->dl_prev == NULL || c->dl_prev->deadline_ms <= c->deadline_ms);
}

void weave_deadline_clear(struct weave_conn *c)
{
    list_unlink(c);
    c->deadline_ms = 0;
}

/*
 * The heartbeat list: the same idea with the connection's hb_* links, so a
 * connection can be on it and on a deadline list at once. Every due time
 * is "now + the heartbeat interval", set whenever a message is queued for
 * the connection, so appending keeps the list sorted: the loop's next
 * heartbeat is the head, and no tick scans the slots.
 */
void weave_heartbeat_clear(struct weave_conn_table *t, struct weave_conn *c)
{
    struct weave_conn_list *l = &t->heartbeats;

    if (!c->hb_on)
        return;
    if (c->hb_prev != NULL)
        c->hb_prev->hb_next = c->hb_next;
    else
        l->head = c->hb_next;
    if (c->hb_next != NULL)
        c->hb_next->hb_prev = c->hb_prev;
    else
        l->tail = c->hb_prev;
    c->hb_on = 0;
    c->hb_prev = c->hb_next = NULL;
}

void weave_heartbeat_set(struct weave_conn_table *t, struct weave_conn *c,
                         uint64_t due_ms)
{
    struct weave_conn_list *l = &t->heartbeats;

    weave_heartbeat_clear(t, c);
    c->hb_due_ms = due_ms;
    struct weave_conn *after = l->tail;
    while (after != NULL && after->hb_due_ms > due_ms)
        after = after->hb_prev;
    c->hb_on = 1;
    c->hb_prev = after;
    c->hb_next = after != NULL ? after->hb_next : l->head;
    if (c->hb_next != NULL)
        c->hb_next->hb_prev = c;
    else
        l->tail = c;
    if (after != NULL)
        after->hb_next = c;
    else
        l->head = c;
}
