package store_test

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/store"
)

func TestAnnouncementsReachTheListener(t *testing.T) {
	db := testenv.Databases()[1]
	require.Equal(t, "postgres", db.Name)
	s, cfg := openStore(t, db)

	ctx, cancel := context.WithCancel(context.Background())
	heard := make(chan store.Announcement, 16)
	var listening sync.WaitGroup
	listening.Add(1)
	go func() {
		defer listening.Done()
		s.ListenAnnouncements(ctx, slog.New(slog.DiscardHandler), func(a store.Announcement) { heard <- a })
	}()
	t.Cleanup(func() {
		cancel()
		listening.Wait()
	})
	next := func(t *testing.T) store.Announcement {
		t.Helper()
		select {
		case a := <-heard:
			return a
		case <-time.After(5 * time.Second):
			t.Fatal("nothing heard within 5s")
			return store.Announcement{}
		}
	}
	// Sent as raw payloads, the way another version of entitle would.
	raw, err := sql.Open("pgx", cfg.PostgresURL)
	require.NoError(t, err)
	t.Cleanup(func() { _ = raw.Close() })
	sendRaw := func(t *testing.T, payload string) {
		t.Helper()
		_, err := raw.ExecContext(ctx, "SELECT pg_notify('entitle_licenses', $1)", payload)
		require.NoError(t, err)
	}

	t.Run("connecting delivers 'missed', since nothing sent before was heard", func(t *testing.T) {
		assert.Equal(t, store.Announcement{Kind: store.AnnouncementsMissed}, next(t))
	})
	for _, kind := range []store.AnnouncementKind{store.AnnounceLicenses, store.AnnounceUsage, store.AnnounceReplicas} {
		t.Run("an announcement of "+string(kind)+" arrives with its kind and sender", func(t *testing.T) {
			sent := store.Announcement{Kind: kind, From: "3f0e6a8e-0000-4000-8000-000000000001"}
			require.NoError(t, s.Announce(ctx, sent))
			assert.Equal(t, sent, next(t))
		})
	}
	t.Run("a bare sender id, as replicas older than kinds send, means licenses changed", func(t *testing.T) {
		sendRaw(t, "3f0e6a8e-0000-4000-8000-000000000002")
		assert.Equal(t, store.Announcement{Kind: store.AnnounceLicenses, From: "3f0e6a8e-0000-4000-8000-000000000002"}, next(t))
	})
	t.Run("fields after the sender do not spoil the sender, and arrive as the detail", func(t *testing.T) {
		sendRaw(t, "apikey 3f0e6a8e-0000-4000-8000-000000000003 abcdefghij")
		assert.Equal(t, store.Announcement{Kind: "apikey", From: "3f0e6a8e-0000-4000-8000-000000000003", Detail: "abcdefghij"}, next(t))
	})
	t.Run("cache invalidations are the store's own business and are not passed on", func(t *testing.T) {
		sendRaw(t, "invalidate 3f0e6a8e-0000-4000-8000-000000000004 organizations,memberships")
		after := store.Announcement{Kind: store.AnnounceUsage, From: "3f0e6a8e-0000-4000-8000-000000000005"}
		require.NoError(t, s.Announce(ctx, after))
		assert.Equal(t, after, next(t))
	})
}

func TestAnnouncementsOnSQLiteGoNowhere(t *testing.T) {
	s, _ := openStore(t, testenv.Databases()[0])
	require.NoError(t, s.Announce(context.Background(), store.Announcement{Kind: store.AnnounceUsage, From: "x"}))
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		s.ListenAnnouncements(context.Background(), slog.New(slog.DiscardHandler), func(store.Announcement) {
			t.Error("nothing is announced on SQLite")
		})
	}()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("ListenAnnouncements did not return at once on SQLite")
	}
}
