#include "util/jsontext.h"

#include <stdlib.h>
#include <string.h>

char *jsontext_pretty(const json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER), *nl;
	size_t n;

	if (!text)
		return NULL;
	n = strlen(text);
	nl = realloc(text, n + 2);
	if (!nl) {
		free(text);
		return NULL;
	}
	nl[n] = '\n';
	nl[n + 1] = '\0';
	return nl;
}
