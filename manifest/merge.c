/*
 * merge: how a later bottle's values land on what its parents gave
 * (manifest.h, "Decisions the SPEC leaves open"): unknown keys whole, the
 * known ones (env, git-gate, egress) merged and type-checked.
 */
#include "manifest/internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* obj[key] as an object, created (at the end, keeping first-appearance order) if absent. */
static json_t *sub_obj(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v)
		return v;
	v = json_object();
	if (!v || json_object_set_new(obj, key, v) < 0)
		return NULL;
	return v;
}

static int set_copy(json_t *obj, const char *key, json_t *v)
{
	json_t *c = json_deep_copy(v);

	if (!c)
		return -ENOMEM;
	return json_object_set_new(obj, key, c) < 0 ? -ENOMEM : 0;
}

static int type_error(struct buf *err, const char *b, const char *field, const char *want,
		      const json_t *v)
{
	mf_errf(err, "bottle '%s' %s must be %s (was %s)", b, field, want, mf_kind(v));
	return -EINVAL;
}

static int merge_env(json_t *acc, json_t *v, const char *b, struct buf *err)
{
	const char *k;
	json_t *x, *env;

	if (!json_is_object(v))
		return type_error(err, b, "env", "a map", v);
	if (!json_object_size(v))
		return 0; /* no empty maps in the output */
	env = sub_obj(acc, "env");
	if (!env)
		return -ENOMEM;
	json_object_foreach(v, k, x)
	{
		if (set_copy(env, k, x) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int merge_user(json_t *gg, json_t *v, const char *b, struct buf *err)
{
	const char *k;
	json_t *x, *user = NULL;

	if (!json_is_object(v))
		return type_error(err, b, "git-gate.user", "a map", v);
	json_object_foreach(v, k, x)
	{
		/* per-field overlay: only non-empty fields win */
		if (json_is_null(x) || (json_is_string(x) && json_string_length(x) == 0))
			continue;
		if (!user && !(user = sub_obj(gg, "user")))
			return -ENOMEM;
		if (set_copy(user, k, x) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int merge_repos(json_t *gg, json_t *v, const char *b, struct buf *err)
{
	const char *name, *k;
	json_t *rv, *x, *repos = NULL, *repo;

	if (!json_is_object(v))
		return type_error(err, b, "git-gate.repos", "a map", v);
	json_object_foreach(v, name, rv)
	{
		if (json_is_null(rv))
			continue;
		if (!json_is_object(rv)) {
			mf_errf(err, "bottle '%s' git-gate.repos.%s must be a map (was %s)", b,
				name, mf_kind(rv));
			return -EINVAL;
		}
		if (!repos && !(repos = sub_obj(gg, "repos")))
			return -ENOMEM;
		/* union by name; the same name merges per field, later winning */
		repo = sub_obj(repos, name);
		if (!repo)
			return -ENOMEM;
		json_object_foreach(rv, k, x)
		{
			if (json_is_null(x))
				continue;
			if (set_copy(repo, k, x) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

static int merge_gitgate(json_t *acc, json_t *v, const char *b, struct buf *err)
{
	const char *k;
	json_t *x, *gg;
	int r = 0;

	if (!json_is_object(v))
		return type_error(err, b, "git-gate", "a map", v);
	/* Created up front so it keeps its place; removed below if nothing landed. */
	if (!json_object_get(acc, "git-gate") && json_object_size(v) == 0)
		return 0;
	gg = sub_obj(acc, "git-gate");
	if (!gg)
		return -ENOMEM;
	json_object_foreach(v, k, x)
	{
		if (json_is_null(x))
			continue;
		if (!strcmp(k, "user"))
			r = merge_user(gg, x, b, err);
		else if (!strcmp(k, "repos"))
			r = merge_repos(gg, x, b, err);
		else
			r = set_copy(gg, k, x);
		if (r < 0)
			return r;
	}
	if (json_object_size(gg) == 0)
		json_object_del(acc, "git-gate");
	return 0;
}

static int merge_routes(json_t *eg, json_t *v, const char *b, struct buf *err)
{
	json_t *x, *routes = NULL, *have, *host;
	size_t i, j;

	if (!json_is_array(v))
		return type_error(err, b, "egress.routes", "a list", v);
	json_array_foreach(v, i, x)
	{
		const char *h;
		int dup = 0;

		host = json_object_get(x, "host");
		if (!json_is_object(x) || !json_is_string(host)) {
			mf_errf(err,
				"bottle '%s' egress.routes[%zu] must be a map with a string host "
				"(was %s)",
				b, i, mf_kind(x));
			return -EINVAL;
		}
		h = json_string_value(host);
		if (!routes) {
			routes = json_object_get(eg, "routes");
			if (!routes) {
				routes = json_array();
				if (!routes || json_object_set_new(eg, "routes", routes) < 0)
					return -ENOMEM;
			}
		}
		json_array_foreach(routes, j, have)
		{
			if (strcmp(json_string_value(json_object_get(have, "host")), h))
				continue;
			if (!json_equal(have, x)) {
				mf_errf(
				    err,
				    "bottle '%s' has two different routes for host '%s'; keep one",
				    b, h);
				return -EINVAL;
			}
			dup = 1; /* e.g. a shared ancestor's route: kept once */
			break;
		}
		if (!dup && json_array_append_new(routes, json_deep_copy(x)) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int merge_egress(json_t *acc, json_t *v, const char *b, struct buf *err)
{
	const char *k;
	json_t *x, *eg;
	int r = 0;

	if (!json_is_object(v))
		return type_error(err, b, "egress", "a map", v);
	if (!json_object_get(acc, "egress") && json_object_size(v) == 0)
		return 0;
	eg = sub_obj(acc, "egress");
	if (!eg)
		return -ENOMEM;
	json_object_foreach(v, k, x)
	{
		if (json_is_null(x))
			continue;
		if (!strcmp(k, "routes"))
			r = merge_routes(eg, x, b, err);
		else
			r = set_copy(eg, k, x); /* log and unknown keys: later wins where set */
		if (r < 0)
			return r;
	}
	if (json_is_array(json_object_get(eg, "routes")) &&
	    json_array_size(json_object_get(eg, "routes")) == 0)
		json_object_del(eg, "routes");
	if (json_object_size(eg) == 0)
		json_object_del(acc, "egress");
	return 0;
}

/*
 * Merges later (a resolved parent, or a bottle's own keys) on top of acc.
 * b names the bottle being resolved, for messages.
 */
int mf_merge(json_t *acc, json_t *later, const char *b, struct buf *err)
{
	const char *k;
	json_t *v;
	int r;

	json_object_foreach(later, k, v)
	{
		/* null: not set, never resets what another bottle set */
		if (json_is_null(v) || !strcmp(k, "extends"))
			continue;
		if (!strcmp(k, "env"))
			r = merge_env(acc, v, b, err);
		else if (!strcmp(k, "git-gate"))
			r = merge_gitgate(acc, v, b, err);
		else if (!strcmp(k, "egress"))
			r = merge_egress(acc, v, b, err);
		else if (!strcmp(k, "agent_provider") && !json_is_string(v))
			r = type_error(err, b, "agent_provider", "a string", v);
		else if (!strcmp(k, "supervise") && !json_is_boolean(v))
			r = type_error(err, b, "supervise", "true or false", v);
		else
			r = set_copy(acc, k,
				     v); /* agent_provider, supervise, unknown: later wins */
		if (r < 0)
			return r;
	}
	return 0;
}
