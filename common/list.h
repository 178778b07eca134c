/*
 * list.h - an intrusive, circular, doubly linked list (the Linux kernel's
 * shape): embed a list_node in the struct, get the struct back with
 * list_entry(). No allocation; O(1) push and remove.
 *
 * Ownership: the list never owns its entries. Not thread-safe: a list
 * belongs to whoever embeds its head (in crunchd, always a loop thread).
 */
#ifndef CRUNCHD_LIST_H
#define CRUNCHD_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct list_node {
    struct list_node *prev, *next;
} list_node;

typedef struct list {
    list_node head; /* sentinel: head.next is the first entry */
} list;

static inline void list_init(list *l)
{
    l->head.prev = l->head.next = &l->head;
}

static inline bool list_empty(const list *l)
{
    return l->head.next == &l->head;
}

/* Inserts n first. */
static inline void list_push(list *l, list_node *n)
{
    n->next = l->head.next;
    n->prev = &l->head;
    l->head.next->prev = n;
    l->head.next = n;
}

/* Removes n (which must be in l). */
static inline void list_remove(list *l, list_node *n)
{
    (void)l;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = NULL;
}

/* The first entry, or NULL. */
static inline list_node *list_first(const list *l)
{
    return list_empty(l) ? NULL : l->head.next;
}

#define list_entry(n, type, member) ((type *)(void *)((char *)(n)-offsetof(type, member)))

/* Visits every node; the loop body may remove (and free) the current one. */
#define list_for_each_safe(l, n, nx)                                                               \
    for ((n) = (l)->head.next, (nx) = (n)->next; (n) != &(l)->head; (n) = (nx), (nx) = (n)->next)

#endif
