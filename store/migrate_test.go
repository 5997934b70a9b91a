package store_test

import (
	"context"
	"sort"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"entitle/internal/testenv"
	"entitle/store"
)

func openStore(t *testing.T, db testenv.Database) (*store.Store, store.Config) {
	t.Helper()
	cfg := db.NewConfig(t)
	scfg := store.Config{PostgresURL: cfg.PostgresURL, DataDir: cfg.DataDir}
	s, err := store.Open(context.Background(), scfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, scfg
}

func TestMigrationsMatchTheModels(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		s, _ := openStore(t, db)
		for table, diff := range s.SchemaDrift() {
			t.Errorf("table %s: model and migrations disagree: %s (add a migration for the model change)", table, diff)
		}
	})
}

func TestReopeningKeepsTheDeploymentAndDefaultOrganization(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s, cfg := openStore(t, db)
		id, err := s.DeploymentID(ctx)
		require.NoError(t, err)
		org, err := s.DefaultOrganization(ctx)
		require.NoError(t, err)
		require.NoError(t, s.Close())

		again, err := store.Open(ctx, cfg)
		require.NoError(t, err)
		defer func() { require.NoError(t, again.Close()) }()
		id2, err := again.DeploymentID(ctx)
		require.NoError(t, err)
		org2, err := again.DefaultOrganization(ctx)
		require.NoError(t, err)
		assert.Equal(t, id, id2)
		assert.Equal(t, org.ID, org2.ID)
		assert.Equal(t, store.DefaultOrganizationName, org2.Name)
	})
}

func TestProcessesStartingAtOnceMigrateOnceAndAgree(t *testing.T) {
	testenv.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		cfg := db.NewConfig(t)
		scfg := store.Config{PostgresURL: cfg.PostgresURL, DataDir: cfg.DataDir}
		const n = 6
		stores := make([]*store.Store, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stores[i], errs[i] = store.Open(ctx, scfg)
			}()
		}
		wg.Wait()
		ids := map[string]bool{}
		orgs := map[string]bool{}
		for i := range n {
			require.NoError(t, errs[i], "open %d", i)
			id, err := stores[i].DeploymentID(ctx)
			require.NoError(t, err)
			org, err := stores[i].DefaultOrganization(ctx)
			require.NoError(t, err)
			ids[id.String()] = true
			orgs[org.ID.String()] = true
			require.NoError(t, stores[i].Close())
		}
		assert.Len(t, ids, 1, "every process sees one deployment id")
		assert.Len(t, orgs, 1, "there is exactly one default organization")
	})
}

func TestSchemaDriftNamesMissingColumns(t *testing.T) {
	// The drift check itself must be able to fail: a model with a column no migration made.
	s, _ := openStore(t, testenv.Databases()[0])
	type User struct {
		store.User
		Nickname string
	}
	drift := s.SchemaDriftOf(&User{})
	keys := make([]string, 0, len(drift))
	for k := range drift {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	require.Equal(t, []string{"users"}, keys)
	assert.Contains(t, drift["users"], "nickname")
}
