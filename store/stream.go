package store

import (
	"context"
	"fmt"
	"iter"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// ChunkSize is how many rows one query of a streamed list reads. It is the largest page a
// client may ask for, so that a page is always read by one query.
const ChunkSize = 1000

// A streamed list is read in chunks of ChunkSize rows, each by a short query that starts right
// after the last row the previous chunk read (a keyset, so each chunk costs the same at any
// depth). Memory holds one chunk whatever the length of the list, and no connection is held
// while the caller writes the rows to a client, however slowly it reads: SQLite has only a few.
//
// The list is not one snapshot: a row added or removed while the list is read may or may not
// be in it. Every row present throughout is listed exactly once, in order, since the keyset
// only moves forward.

// chunked yields the rows of a list, read by read at most ChunkSize at a time, at most limit
// of them (0: every row). read returns at most n rows that come after the row after, or from
// the start of the list (the start the caller's Page names) when after is nil.
func chunked[T any](limit int, read func(after *T, n int) ([]T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		remaining := limit
		var after *T
		for {
			n := ChunkSize
			if limit > 0 {
				n = min(n, remaining)
			}
			rows, err := read(after, n)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, row := range rows {
				if !yield(row, nil) {
					return
				}
			}
			remaining -= len(rows)
			if len(rows) < n || (limit > 0 && remaining == 0) {
				return
			}
			// A copy, so that the chunk it came from can be collected during the next read.
			last := rows[len(rows)-1]
			after = &last
		}
	}
}

// firstChunkRoom is how many rows a list's first chunk makes room for before it grows.
const firstChunkRoom = 32

// chunkRoom is the room to make for a chunk of at most n rows, after a full chunk or (after
// false) first. A first chunk is often a list's only one, and short (a page, a deployment's
// handful of organizations): room for a whole chunk up front cost every such list 136 KB. A
// chunk after a full one is likely full too.
func chunkRoom(after bool, n int) int {
	if after {
		return n
	}
	return min(n, firstChunkRoom)
}

// keyset is the place in a list ordered by (created_at, key) right after one row. It holds the
// row's values rather than its id, so a row deleted after it was read still marks the place.
type keyset struct {
	createdAt time.Time
	key       any
}

// byKeyset yields the rows of type T that page selects from the list scoped selects, in
// (createdAt, key) order, read a chunk at a time; placeOf gives a row's place in that order.
// The first chunk starts where page says (after page.AfterID, then page.Offset skipped), and
// each next one right after the last row read.
func byKeyset[T any](page Page, scoped func() *gorm.DB, createdAt, key string, placeOf func(T) keyset, what string) iter.Seq2[T, error] {
	return byKeysetWithMarks(nil, page, scoped, createdAt, key, placeOf, what)
}

// byKeysetWithMarks is byKeyset for a list that keeps offset marks (offsets.go): the first
// chunk of a page deep by offset starts from them.
func byKeysetWithMarks[T any](marks *offsetMarks, page Page, scoped func() *gorm.DB, createdAt, key string, placeOf func(T) keyset, what string) iter.Seq2[T, error] {
	return chunked(page.Limit, func(after *T, n int) ([]T, error) {
		var q *gorm.DB
		if after == nil && marks.covers(page) {
			rows, err := firstChunk(marks, page, n, scoped, createdAt, key, placeOf)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", what, err)
			}
			return rows, nil
		}
		if after == nil {
			first := page
			first.Limit = n
			q = first.of(scoped, createdAt, key)
		} else {
			place := placeOf(*after)
			// Times are compared in UTC, the zone every stored time is written in: SQLite
			// compares them as text.
			q = scoped().
				Where("("+createdAt+", "+key+") > (?, ?)", place.createdAt.UTC(), place.key).
				Order(createdAt).Order(key).
				Limit(n)
		}
		rows := make([]T, 0, chunkRoom(after != nil, n))
		if err := q.Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("list %s: %w", what, err)
		}
		if after != nil {
			// On SQLite times compare as text: one stored in another form than entitle
			// writes (an import) can make the next chunk start over, and the list repeat
			// forever. A chunk that gives the row it was to follow has not moved on.
			last := placeOf(*after)
			for _, row := range rows {
				if p := placeOf(row); p.createdAt.Equal(last.createdAt) && p.key == last.key {
					return nil, fmt.Errorf("list %s: the list did not move on after the row at %s (a stored time not in the form entitle writes?)", what, last.createdAt.UTC().Format(time.RFC3339Nano))
				}
			}
		}
		return rows, nil
	})
}

// StreamOrganizations yields the organizations page selects, oldest first, read a chunk at a
// time (see chunked).
func (s *Store) StreamOrganizations(ctx context.Context, page Page) iter.Seq2[Organization, error] {
	return byKeysetWithMarks(s.organizationMarks(), page, s.everyOrganization(ctx),
		organizationsCreatedAt, organizationsKey, organizationPlace, "organizations")
}

// The columns that order the list of every organization, and with it its offset marks.
const (
	organizationsCreatedAt = "organizations.created_at"
	organizationsKey       = "organizations.id"
)

// everyOrganization selects the list of every organization.
func (s *Store) everyOrganization(ctx context.Context) func() *gorm.DB {
	return func() *gorm.DB { return s.with(ctx).Model(&Organization{}) }
}

// StreamOrganizationsOfUser yields the organizations of the user that page selects, oldest
// first, read a chunk at a time.
func (s *Store) StreamOrganizationsOfUser(ctx context.Context, userID uuid.UUID, page Page) iter.Seq2[Organization, error] {
	return func(yield func(Organization, error) bool) {
		scoped, err := s.organizationsOf(ctx, userID)
		if err != nil {
			yield(Organization{}, err)
			return
		}
		orgs := byKeyset(page, scoped, "organizations.created_at", "organizations.id", organizationPlace, "organizations of user")
		for org, err := range orgs {
			if !yield(org, err) {
				return
			}
		}
	}
}

func organizationPlace(o Organization) keyset { return keyset{o.CreatedAt, o.ID} }

// StreamOrganizationIDsOfUser yields the ids of the organizations the user belongs to, by id,
// read a chunk at a time: the owner belongs to every organization they made, possibly
// millions. Ordered by id rather than as the organizations are listed, since only that order
// can be read straight off an index for a user in many (the memberships' primary key begins
// with the organization id); a User's organization_ids have no order in the contract.
func (s *Store) StreamOrganizationIDsOfUser(ctx context.Context, userID uuid.UUID) iter.Seq2[uuid.UUID, error] {
	return func(yield func(uuid.UUID, error) bool) {
		many, err := s.inManyOrganizations(ctx, userID)
		if err != nil {
			yield(uuid.Nil, err)
			return
		}
		member := "user_id = ?"
		if many && s.dialect == DialectSQLite {
			// SQLite would read the memberships by the user index and sort them all for every
			// chunk; "+" keeps it off that index, so it walks organization ids in order.
			member = "+user_id = ?"
		}
		ids := chunked(0, func(after *uuid.UUID, n int) ([]uuid.UUID, error) {
			q := s.with(ctx).Model(&OrganizationMember{}).Where(member, userID)
			if after != nil {
				q = q.Where("organization_id > ?", *after)
			}
			ids := make([]uuid.UUID, 0, n)
			if err := q.Order("organization_id").Limit(n).Pluck("organization_id", &ids).Error; err != nil {
				return nil, fmt.Errorf("list organization ids of user: %w", err)
			}
			return ids, nil
		})
		for id, err := range ids {
			if !yield(id, err) {
				return
			}
		}
	}
}

// manyMemberships is how many memberships make a user's organizations cheaper to find by
// walking every organization than by sorting the user's memberships (see organizationsOf).
const manyMemberships = 10_000

// organizationsOf returns a query for the organizations the user belongs to, planned for how
// many that is. No index holds a user's organizations in list order (the organization's
// created_at and id), so there are two ways to read a chunk of them: sort the user's
// memberships (each chunk costs as many as the user has: cheap for a user in a few), or walk
// the organizations in list order and keep those with a membership (each chunk costs the
// organizations passed to find it: cheap for a user in most, such as the owner, who belongs to
// every organization they made). Left to itself SQLite always sorts, which for the owner of a
// million organizations is seconds per chunk.
func (s *Store) organizationsOf(ctx context.Context, userID uuid.UUID) (func() *gorm.DB, error) {
	many, err := s.inManyOrganizations(ctx, userID)
	if err != nil {
		return nil, err
	}
	if many {
		return func() *gorm.DB {
			return s.with(ctx).Model(&Organization{}).
				Where("EXISTS (SELECT 1 FROM organization_members m WHERE m.organization_id = organizations.id AND m.user_id = ?)", userID)
		}, nil
	}
	return func() *gorm.DB {
		return s.with(ctx).Model(&Organization{}).
			Joins("JOIN organization_members m ON m.organization_id = organizations.id AND m.user_id = ?", userID)
	}, nil
}

// inManyOrganizations says whether the user has more than manyMemberships memberships; they
// are counted only that far, so asking costs little either way.
func (s *Store) inManyOrganizations(ctx context.Context, userID uuid.UUID) (bool, error) {
	var n int64
	err := s.with(ctx).
		Raw("SELECT count(*) FROM (SELECT 1 FROM organization_members WHERE user_id = ? LIMIT ?) AS m", userID, manyMemberships+1).
		Scan(&n).Error
	if err != nil {
		return false, fmt.Errorf("count memberships of user: %w", err)
	}
	return n > manyMemberships, nil
}

// StreamMembers yields the organization's members that page selects, oldest membership first,
// with their users' details, read a chunk at a time. AfterID names a member by their user id.
func (s *Store) StreamMembers(ctx context.Context, orgID uuid.UUID, page Page) iter.Seq2[MemberWithUser, error] {
	return byKeyset(page, func() *gorm.DB { return s.membersWithUsers(ctx, orgID) },
		"organization_members.created_at", "organization_members.user_id",
		func(m MemberWithUser) keyset { return keyset{m.CreatedAt, m.UserID} }, "organization members")
}

// StreamTokensOfUser yields the user's tokens, never their sessions, oldest first, read a chunk
// at a time.
func (s *Store) StreamTokensOfUser(ctx context.Context, userID uuid.UUID) iter.Seq2[OwnedAPIKey, error] {
	return byKeyset(Page{}, func() *gorm.DB { return s.ownedTokens(ctx).Where("api_keys.user_id = ?", userID) },
		"api_keys.created_at", "api_keys.id", tokenPlace, "tokens of user")
}

// StreamAllTokens yields every user's tokens, oldest first, read a chunk at a time.
func (s *Store) StreamAllTokens(ctx context.Context) iter.Seq2[OwnedAPIKey, error] {
	return byKeyset(Page{}, func() *gorm.DB { return s.ownedTokens(ctx) }, "api_keys.created_at", "api_keys.id", tokenPlace, "tokens")
}

func tokenPlace(k OwnedAPIKey) keyset { return keyset{k.CreatedAt, k.ID} }

// StreamLicenses yields the licenses by id, read as Licenses reads them, a chunk at a time:
// those after afterID, then offset skipped, then at most limit (0: every one).
func (s *Store) StreamLicenses(ctx context.Context, limit, offset int, afterID int32) iter.Seq2[LicenseRow, error] {
	return chunked(limit, func(after *LicenseRow, n int) ([]LicenseRow, error) {
		if after == nil {
			return s.licensesAfter(ctx, n, offset, int64(afterID))
		}
		return s.licensesAfter(ctx, n, 0, after.storedID)
	})
}
