package store

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

// notifyRecorder records, for every pg_notify a Store sends, whether it was sent from inside a
// transaction.
type notifyRecorder struct {
	mu        sync.Mutex
	inTx      []string
	outsideTx []string
}

func recordNotifies(t *testing.T, s *Store) *notifyRecorder {
	t.Helper()
	r := &notifyRecorder{}
	require.NoError(t, s.db.Callback().Raw().After("gorm:raw").Register("test:record_notifies", func(db *gorm.DB) {
		sql := db.Statement.SQL.String()
		if !strings.Contains(sql, "pg_notify") {
			return
		}
		payload, _ := db.Statement.Vars[1].(string)
		r.mu.Lock()
		defer r.mu.Unlock()
		if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); inTx {
			r.inTx = append(r.inTx, payload)
		} else {
			r.outsideTx = append(r.outsideTx, payload)
		}
	}))
	return r
}

func (r *notifyRecorder) sent() (inTx, outsideTx []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.inTx...), append([]string(nil), r.outsideTx...)
}

// A NOTIFY inside a transaction takes PostgreSQL's one notification lock from the transaction's
// COMMIT until its commit record is flushed: every transaction that notifies commits one after
// the other, and group commit is lost (a pgbench of the two inserts of POST /organizations ran
// at 8,500 transactions a second without the NOTIFY and 3,000 with it). So a transaction that
// only inserts rows, which can make nothing kept stale, is announced after it ends, by one
// sender that merges what is waiting; a transaction that changes or deletes rows (a logout, a
// suspension, a rename) still announces from inside itself, so its announcement cannot be lost
// between its COMMIT and a statement after it.
func TestInsertsAreAnnouncedAfterTheirTransactionAndChangesFromWithinIt(t *testing.T) {
	ctx := context.Background()
	cfg := freshPostgres(t)
	a := openForTest(t, cfg)
	b := openForTest(t, cfg)
	sent := recordNotifies(t, a)

	u, _ := createUserAndSession(t, a, "creator")
	require.Empty(t, orgIDsOf(t, b, u.ID)) // kept by b

	org := Organization{ID: uuid.New(), Name: "inserted", DisplayName: "inserted"}
	require.NoError(t, a.InTx(ctx, func(tx *Store) error {
		if err := tx.CreateOrganization(ctx, &org); err != nil {
			return err
		}
		return tx.AddMember(ctx, &OrganizationMember{OrganizationID: org.ID, UserID: u.ID, IsAdmin: true})
	}))
	eventually(t, func() bool { return len(orgIDsOf(t, b, u.ID)) == 1 }, "b still lists no organization for the user 1 s after the insert")
	inTx, _ := sent.sent()
	assert.Empty(t, inTx, "an insert-only transaction announced from inside itself")

	require.NoError(t, a.InTx(ctx, func(tx *Store) error {
		return tx.db.WithContext(ctx).Where("organization_id = ? AND user_id = ?", org.ID, u.ID).Delete(&OrganizationMember{}).Error
	}))
	eventually(t, func() bool { return len(orgIDsOf(t, b, u.ID)) == 0 }, "b still lists the organization 1 s after the member was removed")
	inTx, _ = sent.sent()
	require.Len(t, inTx, 1, "a transaction that deletes rows must announce from inside itself")
	assert.Contains(t, inTx[0], string(cacheUserOrganizations))
}

// A Store closed right after an insert still tells the other replicas: Close waits for the
// announcements not yet sent.
func TestClosingAStoreSendsTheAnnouncementsItOwes(t *testing.T) {
	ctx := context.Background()
	cfg := freshPostgres(t)
	b := openForTest(t, cfg)
	a, err := Open(ctx, cfg)
	require.NoError(t, err)
	u, _ := createUserAndSession(t, a, "closer")
	require.Empty(t, orgIDsOf(t, b, u.ID))

	org := Organization{ID: uuid.New(), Name: "last-words", DisplayName: "last-words"}
	require.NoError(t, a.InTx(ctx, func(tx *Store) error {
		if err := tx.CreateOrganization(ctx, &org); err != nil {
			return err
		}
		return tx.AddMember(ctx, &OrganizationMember{OrganizationID: org.ID, UserID: u.ID})
	}))
	require.NoError(t, a.Close())
	eventually(t, func() bool { return len(orgIDsOf(t, b, u.ID)) == 1 }, "the closed store's insert never reached b")
}

func orgIDsOf(t *testing.T, s *Store, userID uuid.UUID) []uuid.UUID {
	t.Helper()
	ids, err := s.OrganizationIDsOfUser(context.Background(), userID)
	require.NoError(t, err)
	return ids
}

// eventually fails the test unless ok becomes true within a second (the propagation bound).
func eventually(t *testing.T, ok func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !ok() {
		require.True(t, time.Now().Before(deadline), msg)
		time.Sleep(10 * time.Millisecond)
	}
}
