package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed migrations
var migrations embed.FS

// migrationsLockID is the PostgreSQL advisory lock that serializes migrations across replicas.
const migrationsLockID = 0x656e7469746c65 // "entitle"

// migrate applies pending migrations. Several processes may start at once: PostgreSQL
// replicas take an advisory lock, SQLite processes take a file lock on the data directory.
func (s *Store) migrate(ctx context.Context, cfg Config) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return fmt.Errorf("database handle: %w", err)
	}
	dir, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return fmt.Errorf("migrations for %s: %w", s.dialect, err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	gooseDialect := goose.DialectSQLite3
	if s.dialect == DialectPostgres {
		gooseDialect = goose.DialectPostgres
		// Asked for every second (goose's default is every five), for up to five minutes: a
		// replica starting while another migrates waits for it, not for the next poll.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationsLockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	} else {
		opts = append(opts, goose.WithGoMigrations(emailIndexMigration))
		unlock, err := lockFile(filepath.Join(cfg.DataDir, "migrate.lock"))
		if err != nil {
			return err
		}
		defer unlock()
	}
	provider, err := goose.NewProvider(gooseDialect, sqlDB, dir, opts...)
	if err != nil {
		return fmt.Errorf("prepare migrations: %w", err)
	}
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range results {
		cfg.Logger.Info("applied migration", "version", r.Source.Version, "file", filepath.Base(r.Source.Path), "duration_ms", r.Duration.Milliseconds())
	}
	return nil
}

// lockFile holds an exclusive flock on path until the returned func is called.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open migration lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("take migration lock: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
