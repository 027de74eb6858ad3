-- flatnet's store on PostgreSQL: the same tables as SQLite's migrations/0001_init.sql (read
-- the comments there), with integers as BIGINT and the triggers as PL/pgSQL functions.
-- Names sort as bytes (COLLATE "C"), as in SQLite, whatever the database's locale: lists
-- come out in the same order on both engines.
-- Every statement the server runs is shared by both engines (see src/store/backend.rs).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- The row every writer locks to take revisions (src/store/writer.rs): it must exist.
INSERT INTO meta (key, value) VALUES ('revision', '0');

CREATE TABLE objects (
    kind      TEXT COLLATE "C" NOT NULL,
    namespace TEXT COLLATE "C" NOT NULL,
    name      TEXT COLLATE "C" NOT NULL,
    uid       TEXT NOT NULL UNIQUE,
    rv        BIGINT NOT NULL,
    node_name TEXT COLLATE "C",
    body      TEXT NOT NULL,
    PRIMARY KEY (kind, namespace, name)
);
CREATE INDEX objects_by_node ON objects (kind, node_name);

CREATE TABLE node_pods (
    node_name TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    pods      BIGINT NOT NULL
);

CREATE TABLE events (
    rev        BIGINT PRIMARY KEY,
    type       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    object     TEXT NOT NULL,
    old_object TEXT
);
CREATE INDEX events_by_kind ON events (kind, rev);

-- Objects' writes: the event at the new revision, and the pods-per-node counts.
CREATE FUNCTION objects_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO events (rev, type, kind, namespace, object)
            VALUES (NEW.rv, 'ADDED', NEW.kind, NEW.namespace, NEW.body);
        IF NEW.kind = 'Pod' AND NEW.node_name IS NOT NULL THEN
            INSERT INTO node_pods (node_name, pods) VALUES (NEW.node_name, 1)
                ON CONFLICT (node_name) DO UPDATE SET pods = node_pods.pods + 1;
        END IF;
        RETURN NEW;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO events (rev, type, kind, namespace, object, old_object)
            VALUES (NEW.rv, 'MODIFIED', NEW.kind, NEW.namespace, NEW.body, OLD.body);
        IF NEW.kind = 'Pod' AND OLD.node_name IS DISTINCT FROM NEW.node_name THEN
            UPDATE node_pods SET pods = pods - 1 WHERE node_name = OLD.node_name;
            IF NEW.node_name IS NOT NULL THEN
                INSERT INTO node_pods (node_name, pods) VALUES (NEW.node_name, 1)
                    ON CONFLICT (node_name) DO UPDATE SET pods = node_pods.pods + 1;
            END IF;
        END IF;
        RETURN NEW;
    ELSE
        IF OLD.kind = 'Pod' AND OLD.node_name IS NOT NULL THEN
            UPDATE node_pods SET pods = pods - 1 WHERE node_name = OLD.node_name;
        END IF;
        RETURN OLD;
    END IF;
END;
$$;
CREATE TRIGGER objects_changed AFTER INSERT OR UPDATE OR DELETE ON objects
    FOR EACH ROW EXECUTE FUNCTION objects_changed();

CREATE TABLE subnets (
    cidr        TEXT COLLATE "C" PRIMARY KEY,
    node_name   TEXT UNIQUE,
    last_node   TEXT,
    released_at BIGINT,
    ip_cursor   BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE pod_ips (
    ip        TEXT PRIMARY KEY,
    pod_uid   TEXT NOT NULL UNIQUE,
    node_name TEXT NOT NULL,
    subnet    TEXT NOT NULL,
    "offset"  BIGINT NOT NULL
);
CREATE FUNCTION pod_ips_cursor() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE subnets SET ip_cursor = NEW."offset" WHERE cidr = NEW.subnet;
    RETURN NEW;
END;
$$;
CREATE TRIGGER pod_ips_cursor AFTER INSERT ON pod_ips
    FOR EACH ROW EXECUTE FUNCTION pod_ips_cursor();

CREATE TABLE cluster_ips (
    ip          TEXT PRIMARY KEY,
    service_uid TEXT NOT NULL
);

CREATE TABLE node_ports (
    port        INTEGER PRIMARY KEY,
    service_uid TEXT NOT NULL
);

CREATE TABLE node_tokens (
    hash      TEXT PRIMARY KEY,
    node_name TEXT NOT NULL,
    created   TEXT NOT NULL
);
