/*
 * A library with no DT_NEEDED entry at all (linked with -nostdlib; its
 * symbols resolve in the global scope), so the dynamic loader runs its
 * constructor before libsmalloc's: it makes the first malloc of the process,
 * before libsmalloc's own constructor. And it makes it with environ hidden
 * (NULL), as if libc had not set it yet, to check that libsmalloc then
 * reads its options from the initial process stack (lib/init.c).
 * It says so on stderr first, so options.sh can see that libsmalloc's
 * start-up (the SMALLOC_VERBOSE banner) came after this line.
 * Initialised first, it is finalised last: its destructor frees that block
 * and allocates again after libsmalloc's destructors (SMALLOC_STATS) ran.
 */
typedef unsigned long size_t;
extern void *malloc(size_t);
extern void free(void *);
extern long write(int, const void *, size_t);
extern char **environ;

void *early_block;

__attribute__((constructor)) static void early_first_malloc(void)
{
    static const char line[] = "early: first malloc, with environ hidden\n";
    write(2, line, sizeof line - 1);
    /* volatile: the compiler takes malloc for a function that reads no
     * global, and would drop both stores around the call */
    char **volatile *env = &environ;
    char **saved = *env;
    *env = 0;
    early_block = malloc(40);
    *env = saved;
}

__attribute__((destructor)) static void early_last_free(void)
{
    static const char line[] = "early: freed and allocated after libsmalloc's destructors\n";
    free(early_block);
    void *p = malloc(100);
    free(p);
    write(2, line, sizeof line - 1);
}
