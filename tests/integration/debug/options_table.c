/*
 * Prints the README's options table, generated from the SM_OPTIONS list in
 * lib/options.h (readme_options.sh compares it with README.md).
 */
#include <unistd.h>

#include "options.h"

int main(void)
{
    sm_options_print_table(STDOUT_FILENO);
    return 0;
}
