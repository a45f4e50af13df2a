/*
 * dlopen() of libsmalloc.so (RTLD_LOCAL), a thread that allocates through
 * it, dlclose(), then the thread exits: its thread-exit destructor (a
 * pthread key of libsmalloc) must still be there to run. libsmalloc is
 * linked -z nodelete, so dlclose() leaves it mapped. Exit 0 on success.
 *   dlclose LIBSMALLOC.so
 */
#include <dlfcn.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>

static void *(*lib_malloc)(size_t);
static void (*lib_free)(void *);
static sem_t allocated, closed;

static void *worker(void *arg)
{
    (void)arg;
    void *keep[64];
    for (int i = 0; i < 64; i++)
        keep[i] = lib_malloc((size_t)i * 8 + 8);
    for (int i = 0; i < 64; i += 2)
        lib_free(keep[i]); /* some blocks cached by this thread */
    sem_post(&allocated);
    sem_wait(&closed);
    return NULL; /* libsmalloc's key destructor runs here */
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dlclose LIBSMALLOC.so\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    lib_malloc = (void *(*)(size_t))dlsym(lib, "smalloc_malloc");
    lib_free = (void (*)(void *))dlsym(lib, "smalloc_free");
    if (lib_malloc == NULL || lib_free == NULL) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 1;
    }
    sem_init(&allocated, 0, 0);
    sem_init(&closed, 0, 0);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0)
        return 1;
    sem_wait(&allocated);
    if (dlclose(lib) != 0) {
        fprintf(stderr, "dlclose: %s\n", dlerror());
        return 1;
    }
    sem_post(&closed);
    pthread_join(t, NULL);
    printf("dlclose: thread exited after dlclose\n");
    return 0;
}
