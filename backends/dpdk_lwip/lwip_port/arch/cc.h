/* lwIP's architecture header for the project's own build of lwIP (Linux, glibc, 64-bit or 32-bit).
 * lwIP's types and byte-order functions come from the C library. */
#ifndef DMM_LWIP_ARCH_CC_H
#define DMM_LWIP_ARCH_CC_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/types.h>

#define LWIP_ERRNO_STDINCLUDE 1
#define LWIP_TIMEVAL_PRIVATE 0

/* Ephemeral ports start at a random point (LWIP_RANDOMIZE_INITIAL_LOCAL_PORTS) and DNS/MLD draws: a process
 * that was not seeded would start every run at the same port, so lwip_random() reads the kernel's generator. */
#ifdef __cplusplus
extern "C" uint32_t dmm_lwip_random(void);
#else
uint32_t dmm_lwip_random(void);
#endif
#define LWIP_RAND() dmm_lwip_random()

/* lwIP asserts on broken invariants of its own: print where, then abort (as Debian's build does). */
#define LWIP_PLATFORM_ASSERT(message)                                                        \
  do {                                                                                       \
    fprintf(stderr, "lwIP assertion \"%s\" failed at line %d in %s\n", message, __LINE__, __FILE__); \
    fflush(stderr);                                                                          \
    abort();                                                                                 \
  } while (0)
#define LWIP_PLATFORM_DIAG(x) \
  do {                        \
    printf x;                 \
  } while (0)

typedef unsigned int sys_prot_t;

#endif /* DMM_LWIP_ARCH_CC_H */
