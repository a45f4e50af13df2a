/*
 * The two request-to-class tables, indexed by (n + 7) / 8 for n in 0..512.
 * See size_class.h for the policy; both tables are checked entry by entry
 * against the rule by tests/unit/test_size_class.c.
 */
#include "size_class.h"

/* smalloc_* API: the card's 8-byte classes; malloc(0) takes class 0. */
const uint8_t sm_size_class_api[SM_SIZE_TABLE_LEN] = {
     0,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
    31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46,
    47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
    63,
};

/* Replaced malloc family: 8-byte class up to 8 bytes, then only classes that
 * are multiples of 16. Writable: SMALLOC_ALIGNMENT=8 copies the API table
 * over it at start-up (init.c), so the fast path keeps one constant address. */
uint8_t sm_size_class_abi[SM_SIZE_TABLE_LEN] = {
     0,  0,  1,  3,  3,  5,  5,  7,  7,  9,  9, 11, 11, 13, 13, 15,
    15, 17, 17, 19, 19, 21, 21, 23, 23, 25, 25, 27, 27, 29, 29, 31,
    31, 33, 33, 35, 35, 37, 37, 39, 39, 41, 41, 43, 43, 45, 45, 47,
    47, 49, 49, 51, 51, 53, 53, 55, 55, 57, 57, 59, 59, 61, 61, 63,
    63,
};

sm_class_info_t sm_class_info[SM_NCLASSES + 1];

void sm_size_class_init(void)
{
    for (unsigned cls = 0; cls < SM_NCLASSES; cls++) {
        uint32_t size = (uint32_t)sm_class_size(cls);
        uint32_t shift = (uint32_t)__builtin_ctz(size);
        uint32_t odd = size >> shift;
        /* Newton's iteration for the inverse of odd mod 2^32: x = odd is
         * right to 3 bits, each step doubles the correct bits. */
        uint32_t inv = odd;
        for (int i = 0; i < 4; i++)
            inv *= 2u - odd * inv;
        sm_class_info[cls].inverse = inv;
        sm_class_info[cls].shift = (uint8_t)shift;
        sm_class_info[cls].nblocks = (uint16_t)(SM_POOL_SIZE / size);
    }
    /* SM_CLASS_NONE stays all zero: nblocks 0 rejects every offset. */
}
