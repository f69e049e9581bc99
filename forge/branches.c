/*
 * forge/branches: releasing what the branch operations return.
 */
#include "forge/branches.h"

#include <stdlib.h>

void forge_branch_list_release(struct forge_branch_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}
