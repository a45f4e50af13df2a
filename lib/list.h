/*
 * Intrusive doubly linked lists: the arenas of a bucket, of a shard and of
 * its dirty list (arena.c), the used pools of a class (pool.c). A node
 * carries its own prev and next fields, named at each use, so one node can
 * sit in several lists; a list is a pointer to its first node (NULL when
 * empty). Macros only because the field names vary; each is one statement.
 */
#ifndef SM_LIST_H
#define SM_LIST_H

/* Put node first in the list starting at head (an lvalue). */
#define SM_LIST_PUSH(head, node, prev, next) \
    do {                                     \
        (node)->prev = NULL;                 \
        (node)->next = (head);               \
        if ((node)->next != NULL)            \
            (node)->next->prev = (node);     \
        (head) = (node);                     \
    } while (0)

/* Take node out of the list starting at head; its own links are left. */
#define SM_LIST_UNLINK(head, node, prev, next) \
    do {                                       \
        if ((node)->prev != NULL)              \
            (node)->prev->next = (node)->next; \
        else                                   \
            (head) = (node)->next;             \
        if ((node)->next != NULL)              \
            (node)->next->prev = (node)->prev; \
    } while (0)

#endif
