/*
 * pg/schema: the PostgreSQL schema of the state store and its migration
 * (SEMANTICS.md, "The state database"). The version lives in a table,
 * bottlefs_schema (one row), numbered as SQLite's PRAGMA user_version:
 * version N here holds what version N holds there, less the content
 * cache, which stays on each machine. Migration runs at open, in one
 * transaction under an advisory lock, so many daemons starting at once
 * against a fresh database create it once.
 */
#include "state/pg/pg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Versions 1 to 3: the durable records (state/db.c has their story). */
static const char v1[] =
    "CREATE TABLE records (owner text NOT NULL, repo text NOT NULL, issue bigint NOT NULL,"
    " json text NOT NULL, updated bigint NOT NULL, PRIMARY KEY (owner, repo, issue));"
    "CREATE TABLE pulls (owner text NOT NULL, repo text NOT NULL, issue bigint NOT NULL,"
    " pr bigint NOT NULL, added bigint NOT NULL, PRIMARY KEY (owner, repo, issue, pr));"
    "CREATE TABLE journal (id bigserial PRIMARY KEY, kind text NOT NULL,"
    " owner text NOT NULL, repo text NOT NULL, number bigint NOT NULL, field text,"
    " payload text NOT NULL, marker text,"
    " status text NOT NULL CHECK (status IN ('pending','sending','done','failed')),"
    " answer text, created bigint NOT NULL, updated bigint NOT NULL);"
    "CREATE INDEX journal_unfinished ON journal (id) WHERE status IN ('pending','sending');"
    "CREATE TABLE provenance (id bigserial PRIMARY KEY, at bigint NOT NULL,"
    " what text NOT NULL, place text NOT NULL, answer text);";
static const char v2[] =
    "ALTER TABLE journal ADD COLUMN assign_owner text, ADD COLUMN assign_repo text,"
    " ADD COLUMN assign_issue bigint, ADD COLUMN forge_id bigint, ADD COLUMN floor bigint;"
    "CREATE INDEX journal_forge_id ON journal (owner, repo, kind, forge_id)"
    " WHERE forge_id IS NOT NULL;"
    "CREATE INDEX pulls_pr ON pulls (owner, repo, pr);";
static const char v3[] = "CREATE TABLE done_signals (owner text NOT NULL, repo text NOT NULL,"
			 " issue bigint NOT NULL, text text NOT NULL, at bigint NOT NULL,"
			 " PRIMARY KEY (owner, repo, issue));";
/*
 * Version 4: the lease on each assignment (one writer at a time, expiry by
 * the database's clock) and the queue of done signals (taken once each).
 */
static const char v4[] =
    "CREATE TABLE leases (owner text NOT NULL, repo text NOT NULL, issue bigint NOT NULL,"
    " holder text NOT NULL, expires_at timestamptz NOT NULL,"
    " PRIMARY KEY (owner, repo, issue));"
    "CREATE TABLE signal_queue (id bigserial PRIMARY KEY, owner text NOT NULL,"
    " repo text NOT NULL, issue bigint NOT NULL, body text NOT NULL,"
    " queued_at timestamptz NOT NULL DEFAULT now());";

static const char *const steps[] = {v1, v2, v3, v4};
_Static_assert(sizeof(steps) / sizeof(steps[0]) == STATE_SCHEMA_VERSION,
	       "one PostgreSQL step per schema version");

/* An arbitrary constant: the advisory lock migrations take. */
#define MIGRATE_LOCK "74207420"

int pgx_migrate(struct state *st, int64_t *found)
{
	PGresult *res = NULL;
	int64_t v = 0;
	char num[24];
	int r;

	r = pgx_exec(st,
		     "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ");"
		     "CREATE TABLE IF NOT EXISTS bottlefs_schema (version integer NOT NULL);",
		     0, NULL, NULL);
	if (r < 0)
		return r;
	r = pgx_exec(st, "SELECT version FROM bottlefs_schema", 0, NULL, &res);
	if (r == 0 && PQntuples(res) > 0)
		v = pgx_col_i64(res, 0, 0);
	PQclear(res);
	if (r < 0)
		goto out;
	*found = v;
	if (v > STATE_SCHEMA_VERSION) {
		r = -EPROTO;
		goto out;
	}
	for (; v < STATE_SCHEMA_VERSION && r == 0; v++)
		r = pgx_exec(st, steps[v], 0, NULL, NULL);
	if (r == 0) {
		const char *p[] = {pgx_i64(num, v)};

		r = pgx_exec(st, "DELETE FROM bottlefs_schema", 0, NULL, NULL);
		if (r == 0)
			r = pgx_exec(st, "INSERT INTO bottlefs_schema (version) VALUES ($1)", 1, p,
				     NULL);
	}
	if (r == 0)
		r = pgx_exec(st, "COMMIT", 0, NULL, NULL);
out:
	if (r < 0 && st->pg->conn)
		(void)!pgx_exec(st, "ROLLBACK", 0, NULL, NULL); /* the failure is r */
	return r;
}
