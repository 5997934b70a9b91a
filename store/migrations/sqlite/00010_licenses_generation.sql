-- +goose Up
-- A number that every write to licenses raises, in the same transaction, so that a recompute
-- can tell with one read that the stored licenses are still those it holds, rather than read
-- every id (ten thousand licenses are megabytes of rows). Triggers raise it, so that rows
-- written by hand, or by an older version, count as well.
CREATE TABLE licenses_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO licenses_generation (id, generation) VALUES (1, 0);
-- +goose StatementBegin
CREATE TRIGGER licenses_generation_insert AFTER INSERT ON licenses
BEGIN
    UPDATE licenses_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER licenses_generation_update AFTER UPDATE ON licenses
BEGIN
    UPDATE licenses_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER licenses_generation_delete AFTER DELETE ON licenses
BEGIN
    UPDATE licenses_generation SET generation = generation + 1 WHERE id = 1;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER licenses_generation_delete;
DROP TRIGGER licenses_generation_update;
DROP TRIGGER licenses_generation_insert;
DROP TABLE licenses_generation;
