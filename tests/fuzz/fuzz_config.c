/* fuzz_config.c - config_parse (daemon/config.c) on arbitrary YAML.
 *
 * Properties: never crashes or leaks; success gives a config that config_free releases; failure
 * gives a non-empty one-line message "fuzz.yaml:LINE:COLUMN: ..." that fits in the buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = "fuzz.yaml";
	char err[512];

	memset(err, 0x5A, sizeof(err));
	struct config *cfg = config_parse(name, (const char *)data, size, err, sizeof(err));
	if (cfg) {
		FUZZ_CHECK(cfg->n_listen <= CONFIG_MAX_LISTEN);
		FUZZ_CHECK(cfg->n_users <= CONFIG_MAX_USERS && cfg->n_lines <= CONFIG_MAX_LINES);
		for (size_t i = 0; i < cfg->n_users; i++)
			FUZZ_CHECK(config_find_user(cfg, cfg->users[i].name) != NULL);
		for (size_t i = 0; i < cfg->n_lines; i++)
			FUZZ_CHECK(config_find_line(cfg, cfg->lines[i].dnis) != NULL);
		config_free(cfg);
	} else {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		FUZZ_CHECK(strncmp(err, name, strlen(name)) == 0 && err[strlen(name)] == ':');
		FUZZ_CHECK(strchr(err, '\n') == NULL && strchr(err, '\r') == NULL);
	}
	return 0;
}
