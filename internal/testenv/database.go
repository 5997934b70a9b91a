// Package testenv starts real entitle servers for black-box tests, on SQLite or on a fresh
// PostgreSQL database, and gives them a generated client that checks every response it
// receives against openapi.yaml.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for creating test databases

	"entitle/server"
)

// DefaultPostgresURL is used when TEST_POSTGRES_URL is not set.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Database is one kind of database the suite runs on.
type Database struct {
	Name string
	// NewConfig makes a server configuration on a fresh, empty database that is removed when
	// the test ends. Servers built from the same Config share the database.
	NewConfig func(t testing.TB) server.Config
}

// Databases lists SQLite and PostgreSQL.
func Databases() []Database {
	return []Database{
		{Name: "sqlite", NewConfig: sqliteConfig},
		{Name: "postgres", NewConfig: postgresConfig},
	}
}

// ForEachDatabase runs fn as a subtest on each database.
func ForEachDatabase(t *testing.T, fn func(t *testing.T, db Database)) {
	for _, db := range Databases() {
		t.Run(db.Name, func(t *testing.T) { fn(t, db) })
	}
}

func baseConfig() server.Config {
	return server.Config{
		HTTPAddress:                 "127.0.0.1:0",
		SessionDuration:             24 * time.Hour,
		EntitlementsRefreshInterval: 10 * time.Minute,
		EntitlementsRefreshCooldown: 60 * time.Second,
		Version:                     "v0.0.0-test",
		PasswordHashCost:            4, // bcrypt.MinCost: the suite logs in hundreds of times
		ShutdownTimeout:             5 * time.Second,
	}
}

func sqliteConfig(t testing.TB) server.Config {
	cfg := baseConfig()
	cfg.DataDir = t.TempDir()
	return cfg
}

// postgresConfig creates a database of its own on the server TEST_POSTGRES_URL names and drops
// it when the test ends. No server is no silent skip: the test fails and says how to give one.
func postgresConfig(t testing.TB) server.Config {
	t.Helper()
	adminURL := os.Getenv("TEST_POSTGRES_URL")
	if adminURL == "" {
		adminURL = DefaultPostgresURL
	}
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		t.Fatalf("PostgreSQL URL %q is invalid (%v); set TEST_POSTGRES_URL to a server the tests may create databases on", redact(adminURL), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		t.Fatalf("PostgreSQL is not reachable at %s (%v); start it or set TEST_POSTGRES_URL to a server the tests may create databases on", redact(adminURL), oneLine(err))
	}
	name := "entitle_test_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
		_ = admin.Close()
	})
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatalf("parse TEST_POSTGRES_URL: %v", err)
	}
	u.Path = "/" + name
	cfg := baseConfig()
	cfg.PostgresURL = u.String()
	cfg.DataDir = t.TempDir()
	return cfg
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(fmt.Sprint(err)), " ")
}

// FreeAddress is a loopback address no one listens on right now, for servers a test starts
// by address rather than by listener.
func FreeAddress(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	return addr
}
