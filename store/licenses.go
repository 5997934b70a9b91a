package store

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// InsertLicense stores l and fills in its id; ErrConflict when the identical token is stored.
func (s *Store) InsertLicense(ctx context.Context, l *License) error {
	if err := translate(s.with(ctx).Create(l).Error); err != nil {
		return fmt.Errorf("insert license: %w", err)
	}
	return nil
}

// LicenseRow is a license as read back. A row written by an older version, or by hand, may hold
// a value this version cannot read; Problem then says which (the fields it concerns are left
// zero) and the row is still returned, so that it can be listed and deleted and can never stop
// the server from starting.
type LicenseRow struct {
	License
	// Problem is nil for a row whose every column was read.
	Problem error
	// storedID is the id as stored, which a chunked read resumes after even when it does not
	// fit License.ID.
	storedID int64
}

// StoredID is the row's id as stored, which tells rows apart even when it does not fit
// License.ID (the row then has a Problem and License.ID is zero).
func (r LicenseRow) StoredID() int64 { return r.storedID }

// Licenses returns every stored license by id. Each column is read as whatever value the
// driver gives and converted here, so one unreadable value makes one row with a Problem
// rather than failing the whole list.
func (s *Store) Licenses(ctx context.Context) ([]LicenseRow, error) {
	return s.LicensesPage(ctx, 0, 0, 0)
}

// LicensesPage returns the licenses by id, read as Licenses reads them: those after afterID
// (the id of the last license seen, a keyset on the primary key), then offset skipped, then at
// most limit (0: no limit).
func (s *Store) LicensesPage(ctx context.Context, limit, offset int, afterID int32) ([]LicenseRow, error) {
	return s.licensesAfter(ctx, limit, offset, int64(afterID))
}

// licensesAfter is LicensesPage with the stored id of the last license seen, which may be out
// of the range of a license id.
func (s *Store) licensesAfter(ctx context.Context, limit, offset int, afterID int64) ([]LicenseRow, error) {
	q := s.with(ctx).Model(&License{}).Select("id", "uploaded_at", "jwt", "exp", "uuid").Where("id > ?", afterID).Order("id")
	return scanLicenseRows(limitAndOffset(q, limit, offset))
}

// LicensesGeneration is a number that every write to licenses raises in the same transaction,
// through the database's own triggers, so writes made by hand count too. Read before
// LicenseIDs, an unchanged generation says the ids and rows read after it are unchanged too.
func (s *Store) LicensesGeneration(ctx context.Context) (int64, error) {
	var g LicensesGeneration
	if err := s.with(ctx).Where("id = 1").Take(&g).Error; err != nil {
		return 0, fmt.Errorf("read the licenses generation: %w", translate(err))
	}
	return g.Generation, nil
}

// licenseIDsChunk bounds how many ids LicensesByID binds in one query, well under SQLite's and
// PostgreSQL's limits on bound parameters.
const licenseIDsChunk = 500

// LicenseIDs returns the stored id of every license, in order. A stored license never changes,
// so a caller that kept what it read of the others needs only the rows of ids it has not seen
// (LicensesByID): ten thousand ids are a few kilobytes where their rows are megabytes.
func (s *Store) LicenseIDs(ctx context.Context) ([]int64, error) {
	// Rows with ids below 1 are left out, as licensesAfter leaves them out of every list.
	rows, err := s.with(ctx).Model(&License{}).Select("id").Where("id > 0").Order("id").Rows()
	if err != nil {
		return nil, fmt.Errorf("list license ids: %w", err)
	}
	defer func() { _ = rows.Close() }()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list license ids: %w", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list license ids: %w", err)
	}
	return ids, nil
}

// LicensesByID returns the licenses with these stored ids, by id, read as Licenses reads them;
// an id no longer stored is left out.
func (s *Store) LicensesByID(ctx context.Context, ids []int64) ([]LicenseRow, error) {
	ls := []LicenseRow{}
	for chunk := range slices.Chunk(ids, licenseIDsChunk) {
		q := s.with(ctx).Model(&License{}).Select("id", "uploaded_at", "jwt", "exp", "uuid").Where("id IN ?", chunk).Order("id")
		rows, err := scanLicenseRows(q)
		if err != nil {
			return nil, err
		}
		ls = append(ls, rows...)
	}
	slices.SortFunc(ls, func(a, b LicenseRow) int { return cmp.Compare(a.storedID, b.storedID) })
	return ls, nil
}

// scanLicenseRows runs q, which selects id, uploaded_at, jwt, exp and uuid, and converts each
// row it gives with licenseRowOf.
func scanLicenseRows(q *gorm.DB) ([]LicenseRow, error) {
	rows, err := q.Rows()
	if err != nil {
		return nil, fmt.Errorf("list licenses: %w", err)
	}
	defer func() { _ = rows.Close() }()
	ls := []LicenseRow{}
	for rows.Next() {
		// id is the primary key, an integer on both databases; the rest can hold anything.
		var id int64
		var uploadedAt, token, exp, licenseUUID any
		if err := rows.Scan(&id, &uploadedAt, &token, &exp, &licenseUUID); err != nil {
			return nil, fmt.Errorf("list licenses: %w", err)
		}
		ls = append(ls, licenseRowOf(id, uploadedAt, token, exp, licenseUUID))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list licenses: %w", err)
	}
	return ls, nil
}

// licenseRowOf converts the values of one licenses row, noting each one it cannot read.
func licenseRowOf(id int64, uploadedAt, token, exp, licenseUUID any) LicenseRow {
	row := LicenseRow{storedID: id}
	var problems []string
	if id < 1 || id > math.MaxInt32 {
		problems = append(problems, fmt.Sprintf("id %d does not fit a 32-bit license id", id))
	} else {
		row.ID = int32(id)
	}
	var err error
	if row.UploadedAt, err = readTime(uploadedAt); err != nil {
		problems = append(problems, "uploaded_at "+err.Error())
	}
	switch v := token.(type) {
	case string:
		row.JWT = v
	case []byte:
		row.JWT = string(v)
	default:
		problems = append(problems, "jwt holds "+describeValue(token)+", not text")
	}
	if row.Exp, err = readTime(exp); err != nil {
		problems = append(problems, "exp "+err.Error())
	}
	if row.UUID, err = readUUID(licenseUUID); err != nil {
		problems = append(problems, "uuid "+err.Error())
	}
	if len(problems) > 0 {
		row.Problem = fmt.Errorf("the stored row %d cannot be read: %s", id, strings.Join(problems, "; "))
	}
	return row
}

// readTime accepts a time the driver parsed. Years outside 1..9999 are refused too: a
// PostgreSQL timestamptz may hold one, and RFC 3339 (so JSON) cannot write it.
func readTime(v any) (time.Time, error) {
	t, ok := v.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("holds %s, not a time", describeValue(v))
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("holds %s, outside the years 1..9999", t.UTC().Format(time.RFC3339))
	}
	return t.UTC(), nil
}

// readUUID accepts a UUID as text (SQLite, and pgx's uuid) or as its 16 bytes.
func readUUID(v any) (uuid.UUID, error) {
	switch v := v.(type) {
	case string:
		if id, err := uuid.Parse(v); err == nil {
			return id, nil
		}
	case []byte:
		if len(v) == 16 {
			return uuid.FromBytes(v)
		}
		if id, err := uuid.ParseBytes(v); err == nil {
			return id, nil
		}
	}
	return uuid.Nil, fmt.Errorf("holds %s, not a UUID", describeValue(v))
}

// maxValueLen bounds how much of an unreadable value a message repeats.
const maxValueLen = 40

// describeValue renders a value the driver gave, shortened, for a message.
func describeValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return fmt.Sprintf("%q", shortenValue(v))
	case []byte:
		return fmt.Sprintf("%d bytes", len(v))
	default:
		return shortenValue(fmt.Sprint(v))
	}
}

func shortenValue(s string) string {
	if len(s) <= maxValueLen {
		return s
	}
	return strings.ToValidUTF8(s[:maxValueLen], "") + "..."
}

// DeleteLicense removes the license with that id; ErrNotFound when there is none.
func (s *Store) DeleteLicense(ctx context.Context, id int32) error {
	res := s.with(ctx).Where("id = ?", id).Delete(&License{})
	if res.Error != nil {
		return fmt.Errorf("delete license: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("delete license %d: %w", id, ErrNotFound)
	}
	return nil
}

// ClaimRefresh takes the deployment-wide right to an explicit refresh when none ran within
// cooldown before now. It is one compare-and-set UPDATE, so of any number of concurrent callers
// on any replicas exactly one wins. A loser learns how long until the next refresh is allowed.
// With no cooldown every caller wins, whichever of them read the clock first.
func (s *Store) ClaimRefresh(ctx context.Context, now time.Time, cooldown time.Duration) (bool, time.Duration, error) {
	q := s.with(ctx).Model(&EntitlementsRefresh{}).Where("id = 1")
	if cooldown > 0 {
		q = q.Where("refreshed_at <= ?", now.Add(-cooldown))
	}
	res := q.Update("refreshed_at", now)
	if res.Error != nil {
		return false, 0, fmt.Errorf("claim entitlements refresh: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return true, 0, nil
	}
	var last EntitlementsRefresh
	if err := s.with(ctx).Where("id = 1").Take(&last).Error; err != nil {
		return false, 0, fmt.Errorf("read last entitlements refresh: %w", err)
	}
	// A caller whose clock read came a moment before the winner's would otherwise be told to
	// wait a little longer than the whole cooldown.
	return false, min(last.RefreshedAt.Add(cooldown).Sub(now), cooldown), nil
}

// Heartbeat records that the replica is alive.
func (s *Store) Heartbeat(ctx context.Context, r Replica) error {
	res := s.with(ctx).Model(&Replica{}).Where("id = ?", r.ID).Update("last_seen_at", r.LastSeenAt)
	if res.Error != nil {
		return fmt.Errorf("update replica heartbeat: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		if err := s.with(ctx).Create(&r).Error; err != nil {
			return fmt.Errorf("insert replica: %w", err)
		}
	}
	return nil
}

// CountReplicas counts the replicas seen at or after since.
func (s *Store) CountReplicas(ctx context.Context, since time.Time) (int64, error) {
	var n int64
	if err := s.with(ctx).Model(&Replica{}).Where("last_seen_at >= ?", since).Count(&n).Error; err != nil {
		return 0, fmt.Errorf("count replicas: %w", err)
	}
	return n, nil
}

// RemoveReplica forgets a replica that is stopping, along with any long dead.
func (s *Store) RemoveReplica(ctx context.Context, r Replica, deadBefore time.Time) error {
	if err := s.with(ctx).Where("id = ? OR last_seen_at < ?", r.ID, deadBefore).Delete(&Replica{}).Error; err != nil {
		return fmt.Errorf("delete replica: %w", err)
	}
	return nil
}
