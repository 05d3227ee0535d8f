-- 0010 app role: sdq_app, the role the web portal connects as. It reads and writes the project's tables, but the audit
-- log can only grow through it: on audit.event it may SELECT and INSERT, nothing else. It owns nothing, so it can neither
-- alter nor drop a table nor disable a trigger; it cannot create roles, databases or objects outside its temporary
-- schema, and it is no member of the owner's role (SET ROLE to it is refused).
--
-- Roles belong to the cluster, grants to the database. Several databases of one cluster (the test suite's, copied from
-- one template; a staging copy beside production) may run this script at the same moment: the role is created when
-- missing, and a creation that loses the race to another database's migration is taken as done. The grants below are
-- made in this database only. No password is set here: the host sets one (the embedded cluster keeps it in its data
-- folder), or the operator does for a configured server; until then the role cannot sign in.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sdq_app') THEN
        BEGIN
            CREATE ROLE sdq_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL; -- created at this moment by the migration of another database of this cluster
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'The role sdq_app does not exist, and % may not create roles.', current_user
                    USING ERRCODE = 'insufficient_privilege',
                          HINT = 'Have an administrator of the server run: CREATE ROLE sdq_app LOGIN PASSWORD ''…''; then run the program again.';
        END;
    END IF;

    -- A role of that name made by hand with more power than it needs is brought down to what it needs.
    IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'sdq_app'
               AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls OR NOT rolcanlogin)) THEN
        ALTER ROLE sdq_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
END $$;

-- Every schema there is now (the project's, public, and hangfire when a worker ran before this script).
DO $$
DECLARE
    schema_name name;
BEGIN
    EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO sdq_app', current_database());
    FOR schema_name IN
        SELECT nspname FROM pg_catalog.pg_namespace
        WHERE  nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
    LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO sdq_app', schema_name);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO sdq_app', schema_name);
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO sdq_app', schema_name);
        EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO sdq_app', schema_name);
    END LOOP;
END $$;

-- The schema version is the migrator's (which runs as the owner): the portal may read it, not write it.
REVOKE INSERT, UPDATE, DELETE ON public.schema_migration FROM sdq_app;

-- The audit log: read and append, nothing else (the triggers of 0001 refuse UPDATE, DELETE and TRUNCATE to the owner
-- too; this makes the refusal a matter of privilege for the portal, which cannot disable a trigger it does not own).
REVOKE ALL ON audit.event FROM sdq_app;
GRANT SELECT, INSERT ON audit.event TO sdq_app;

-- What the migrating role creates later (schemas, their tables: Hangfire's schema made at run time by a worker, a round's
-- partitions, the tables of later migrations) is usable by sdq_app too. Default privileges only add: a later table that
-- must be append-only, like audit.event, revokes in its own migration.
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER GRANT USAGE ON SCHEMAS TO sdq_app;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO sdq_app;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER GRANT USAGE, SELECT ON SEQUENCES TO sdq_app;
ALTER DEFAULT PRIVILEGES FOR ROLE CURRENT_USER GRANT EXECUTE ON FUNCTIONS TO sdq_app;

-- A round's partitions are made by the owner on behalf of whoever first needs them (the portal re-checks a return's
-- records, and may start a round): sdq_app creates nothing itself. The function's names are schema-qualified.
ALTER FUNCTION registry.ensure_round_partitions(integer) SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
REVOKE EXECUTE ON FUNCTION registry.ensure_round_partitions(integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION registry.ensure_round_partitions(integer) TO sdq_app;
