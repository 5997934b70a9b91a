package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dataDirLockFile is the file in the data directory that the server holding it locks.
const dataDirLockFile = "entitle.lock"

// lockDataDir takes the data directory for this process alone, for as long as the returned
// file stays open; the kernel lets go of it when the process ends, however it ends.
//
// On SQLite the store keeps sessions, users and organizations in memory and empties them on
// its own writes; it hears of no other process's (PostgreSQL replicas announce theirs). A
// second server on the same database would go on serving what the first revoked (a logout, a
// suspension, a removal) for up to the caches' age, so the second refuses to start.
func lockDataDir(dir string) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, dataDirLockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the data directory's lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another entitle server is using the data directory %s: its SQLite database serves one server at a time; run replicas on PostgreSQL (--postgres-url)", dir)
		}
		return nil, fmt.Errorf("lock the data directory: %w", err)
	}
	return f, nil
}
