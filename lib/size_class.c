/*
 * The two request-to-class tables, indexed by n for n in 0..512. See
 * size_class.h for the policy; both tables are checked entry by entry
 * against the rule by tests/unit/test_size_class.c.
 */
#include "size_class.h"

/* Class cls holds the requests from (cls - 1) * 8 + 1 to cls * 8 bytes. */
#define API(cls) [((cls) - 1) * SM_QUANTUM + 1 ... (cls) * SM_QUANTUM] = (cls)
/* Even class cls >= 4 (a multiple of 16 bytes) holds those from
 * (cls - 2) * 8 + 1. */
#define ABI(cls) [((cls) - 2) * SM_QUANTUM + 1 ... (cls) * SM_QUANTUM] = (cls)

/* smalloc_* API: 8-byte steps; malloc(0) takes class 1. */
const uint8_t sm_size_class_api[SM_SIZE_TABLE_LEN] = {
    [0] = 1,
    API(1), API(2), API(3), API(4), API(5), API(6), API(7), API(8),
    API(9), API(10), API(11), API(12), API(13), API(14), API(15), API(16),
    API(17), API(18), API(19), API(20), API(21), API(22), API(23), API(24),
    API(25), API(26), API(27), API(28), API(29), API(30), API(31), API(32),
    API(33), API(34), API(35), API(36), API(37), API(38), API(39), API(40),
    API(41), API(42), API(43), API(44), API(45), API(46), API(47), API(48),
    API(49), API(50), API(51), API(52), API(53), API(54), API(55), API(56),
    API(57), API(58), API(59), API(60), API(61), API(62), API(63), API(64),
};

/* Replaced malloc family: only classes that are multiples of 16, so every
 * block is 16-aligned, as glibc's are (programs keep tags in the low four
 * bits of malloc'ed pointers), and every block has room for the freed mark
 * after its link (freelist.h), so the default build catches the double
 * frees glibc's tcache catches, at every size. pymalloc's smallest block is
 * 16 bytes too. Writable: SMALLOC_ALIGNMENT=8 copies the API table over it
 * at start-up (init.c), so the fast path keeps one constant address. */
uint8_t sm_size_class_abi[SM_SIZE_TABLE_LEN] = {
    [0 ... 2 * SM_QUANTUM] = 2,
    ABI(4), ABI(6), ABI(8), ABI(10), ABI(12), ABI(14), ABI(16),
    ABI(18), ABI(20), ABI(22), ABI(24), ABI(26), ABI(28), ABI(30), ABI(32),
    ABI(34), ABI(36), ABI(38), ABI(40), ABI(42), ABI(44), ABI(46), ABI(48),
    ABI(50), ABI(52), ABI(54), ABI(56), ABI(58), ABI(60), ABI(62), ABI(64),
};
