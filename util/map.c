#include "util/map.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct map_node {
	struct map_node *next;
	uint64_t hash;
	void *val;
	char key[]; /* NUL-terminated copy */
};

/* FNV-1a: keys are short paths; good enough and has no failure modes. */
static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

void map_init(struct map *m)
{
	m->slots = NULL;
	m->n_slots = 0;
	m->count = 0;
}

void map_release(struct map *m)
{
	size_t i;

	for (i = 0; i < m->n_slots; i++) {
		struct map_node *n = m->slots[i], *next;

		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(m->slots);
	map_init(m);
}

static struct map_node **find(const struct map *m, const char *key, uint64_t h)
{
	struct map_node **p;

	if (!m->n_slots)
		return NULL;
	for (p = &m->slots[h % m->n_slots]; *p; p = &(*p)->next)
		if ((*p)->hash == h && strcmp((*p)->key, key) == 0)
			return p;
	return NULL;
}

void *map_get(const struct map *m, const char *key)
{
	struct map_node **p = find(m, key, hash(key));

	return p ? (*p)->val : NULL;
}

static int grow(struct map *m)
{
	size_t n = m->n_slots ? m->n_slots * 2 : 64, i;
	struct map_node **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	for (i = 0; i < m->n_slots; i++) {
		struct map_node *node = m->slots[i], *next;

		for (; node; node = next) {
			next = node->next;
			node->next = slots[node->hash % n];
			slots[node->hash % n] = node;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->n_slots = n;
	return 0;
}

int map_put(struct map *m, const char *key, void *val, void **old)
{
	uint64_t h = hash(key);
	struct map_node **p = find(m, key, h), *node;
	size_t len;

	if (p) {
		if (old)
			*old = (*p)->val;
		(*p)->val = val;
		return 0;
	}
	if (m->count >= m->n_slots && grow(m) < 0)
		return -ENOMEM;
	len = strlen(key);
	node = malloc(sizeof(*node) + len + 1);
	if (!node)
		return -ENOMEM;
	memcpy(node->key, key, len + 1);
	node->hash = h;
	node->val = val;
	node->next = m->slots[h % m->n_slots];
	m->slots[h % m->n_slots] = node;
	m->count++;
	if (old)
		*old = NULL;
	return 0;
}

void *map_del(struct map *m, const char *key)
{
	struct map_node **p = find(m, key, hash(key)), *node;
	void *val;

	if (!p)
		return NULL;
	node = *p;
	*p = node->next;
	val = node->val;
	free(node);
	m->count--;
	return val;
}

void map_each(const struct map *m, void (*fn)(void *ud, const char *key, void *val), void *ud)
{
	size_t i;
	struct map_node *n;

	for (i = 0; i < m->n_slots; i++)
		for (n = m->slots[i]; n; n = n->next)
			fn(ud, n->key, n->val);
}
