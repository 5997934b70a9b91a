-- +goose Up
-- A number that every write to licenses raises, in the same transaction, so that a recompute
-- can tell with one read that the stored licenses are still those it holds, rather than read
-- every id (ten thousand licenses are megabytes of rows). A trigger raises it, so that rows
-- written by hand, or by an older version, count as well. Concurrent writers of licenses
-- queue on its one row; licenses are written rarely.
CREATE TABLE licenses_generation (
    id         integer PRIMARY KEY CHECK (id = 1),
    generation bigint NOT NULL
);
INSERT INTO licenses_generation (id, generation) VALUES (1, 0);
-- +goose StatementBegin
CREATE FUNCTION licenses_generation_raise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE licenses_generation SET generation = generation + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER licenses_generation_raise AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON licenses
    FOR EACH STATEMENT EXECUTE FUNCTION licenses_generation_raise();

-- +goose Down
DROP TRIGGER licenses_generation_raise ON licenses;
DROP FUNCTION licenses_generation_raise();
DROP TABLE licenses_generation;
