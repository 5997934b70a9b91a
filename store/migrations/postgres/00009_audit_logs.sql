-- +goose Up
-- The audit log, in Coder's shape. A row is written in the same transaction as the change it
-- records. user_id, organization_id, resource_id and request_id hold the nil UUID when there
-- is none (a failed login for an unknown email, a change made by no request). There is no
-- foreign key to users: an entry outlives whatever it names. The description is derived when
-- the log is read, as Coder derives it.
CREATE TABLE audit_logs (
    id              uuid PRIMARY KEY,
    time            timestamptz NOT NULL,
    user_id         uuid NOT NULL,
    organization_id uuid NOT NULL,
    ip              text NOT NULL,
    user_agent      text NOT NULL,
    resource_type   text NOT NULL,
    resource_id     uuid NOT NULL,
    resource_target text NOT NULL,
    action          text NOT NULL,
    diff            text NOT NULL,
    status_code     integer NOT NULL,
    request_id      uuid NOT NULL
);
-- The log is read newest first, a page at a time.
CREATE INDEX audit_logs_time_idx ON audit_logs (time DESC, id DESC);
CREATE INDEX audit_logs_user_idx ON audit_logs (user_id);

-- +goose Down
DROP TABLE audit_logs;
