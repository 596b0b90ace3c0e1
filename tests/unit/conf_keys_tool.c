/*
 * Prints the configuration key table (cp_conf_keys_print) for
 * tests/conf-keys.test, which compares it with README's table.
 */
#include "config.h"

#include <stdio.h>

#include "conf.h"

int
main(void)
{
	cp_conf_keys_print(stdout);
	return fflush(stdout) == 0 ? 0 : 1;
}
