package sqldir

import (
	"database/sql"
	"sync/atomic"
)

// The column contract, for the preset tests of package sqldir_test.
var (
	RequiredColumns = requiredColumns
	HashColumns     = hashColumns
	OptionalColumns = optionalColumns
)

const (
	ColPicture = colPicture
	UTCSuffix  = utcSuffix
)

// PreparedQueries is how many query texts d keeps prepared (0 when it prepares none).
func PreparedQueries(d *Directory) int {
	if d.stmts == nil {
		return 0
	}
	d.stmts.mu.Lock()
	defer d.stmts.mu.Unlock()
	return len(d.stmts.m)
}

// DB is the directory's database handle.
func DB(d *Directory) *sql.DB { return d.db }

// CountDecodes makes d count the member rows it decodes (toMember) and returns the count so
// far. Call it before d is used.
func CountDecodes(d *Directory) func() int64 {
	var n atomic.Int64
	d.decoded = func() { n.Add(1) }
	return n.Load
}

// CountLoginReads makes d count the times it reads a row's login columns (readLoginColumns)
// and returns the count so far. Call it before d is used.
func CountLoginReads(d *Directory) func() int64 {
	var n atomic.Int64
	d.loginReads = func() { n.Add(1) }
	return n.Load
}

// SameAMSLogin is sameAMSLogin, for its table test.
var SameAMSLogin = sameAMSLogin
