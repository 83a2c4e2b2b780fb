package sqldir

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/password"
)

// Input limits.
const (
	// MaxLoginRunes is the longest login (after trimming and NFC) looked up at all.
	MaxLoginRunes = 256
	// MaxPasswordBytes is the longest password verified at all.
	MaxPasswordBytes = password.DefaultMaxPasswordBytes
)

// normalizeLogin trims and NFC-normalises a login (or member id). It refuses invalid UTF-8,
// NUL and other control characters, empty and over-long values.
func normalizeLogin(s string) (string, bool) {
	if len(s) > 4*MaxLoginRunes+64 || !utf8.ValidString(s) {
		return "", false
	}
	s = norm.NFC.String(strings.TrimSpace(s))
	if s == "" || utf8.RuneCountInString(s) > MaxLoginRunes {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return "", false
		}
	}
	return s, true
}

// validPassword refuses, before any query, passwords that can never verify.
func validPassword(pw string) bool {
	return pw != "" && len(pw) <= MaxPasswordBytes && utf8.ValidString(pw) && !strings.ContainsRune(pw, 0)
}

// Column names of the contract.
const (
	colKey            = "user_key"
	colLogin          = "login"
	colDisabled       = "is_disabled"
	colApproved       = "is_approved"
	colLockedOut      = "is_locked_out"
	colDeleted        = "is_deleted"
	colEffective      = "effective_date"
	colExpiration     = "expiration_date"
	colPasswordChange = "password_changed_at"
	colMemberID       = "member_id"
	colEmail          = "email"
	colGivenName      = "given_name"
	colFamilyName     = "family_name"
	colFullName       = "full_name"
	colCompany        = "company"
	colMemberType     = "member_type"
	colStatus         = "status"
	colPicture        = "picture_url"
	colJoinDate       = "join_date"
	colPaidThrough    = "paid_through"
	colUpdatedAt      = "updated_at"
	colMemberRecord   = "member_record"
	colMemberStatus   = "member_status"
	colStaff          = "is_staff"
	colSysAdmin       = "is_sysadmin"
	colSecondFactor   = "ams_second_factor"
	colAMSUserID      = "ams_user_id"
	colProviderKey    = "provider_key"
	colContactKey     = "contact_key"
	colPassword       = "password"
	colSalt           = "password_salt"
	colFormat         = "password_format"
)

// requiredColumns must be in every member query; hashColumns in member_by_login.
var (
	requiredColumns = []string{colKey, colLogin, colDisabled, colApproved, colLockedOut, colDeleted}
	hashColumns     = []string{colPassword, colSalt, colFormat}
	// requiredHashColumns must be in member_by_login.
	requiredHashColumns = slices.Concat(requiredColumns, hashColumns)
	optionalColumns     = []string{colEffective, colExpiration, colPasswordChange, colMemberID, colEmail,
		colGivenName, colFamilyName, colFullName, colCompany, colMemberType, colStatus, colPicture,
		colJoinDate, colPaidThrough, colUpdatedAt, colMemberRecord, colMemberStatus, colStaff, colSysAdmin, colSecondFactor, colAMSUserID, colProviderKey, colContactKey}
)

// contractColumns are the names extra_columns may not use.
var contractColumns = func() map[string]bool {
	m := map[string]bool{}
	for _, l := range [][]string{requiredColumns, hashColumns, optionalColumns} {
		for _, c := range l {
			m[c] = true
			m[c+utcSuffix] = true
		}
	}
	return m
}()

// utcSuffix marks a datetime column that holds UTC (else: the application clock).
const utcSuffix = "_utc"

// memberRow is a member as read, with the stored password when asked for.
type memberRow struct {
	m            *legacy.Member
	format       int
	stored, salt string
	// sameLogin is false when the AMS's own copy of the login (ams_user_id) differs from the
	// login: the row is refused (fail closed).
	sameLogin bool
}

// errRowValue marks a contract error of one row's values (a column of the wrong kind in this
// row), as opposed to the query's shape (a required column missing): the one tells about a
// member, the other about the configuration.
var errRowValue = errors.New("a value of the wrong kind")

// rowValueError is an errRowValue: one member's row holding, in column, a value that is not of
// the kind the contract wants (err, a kindError). It names the member by key when the key could
// be read, the column and the kind, never the value (review s27 R5-5): it is logged (a sign-in
// refused for it, the bridge's lookups), and the row is the member's data. `legacy check
// --login` shows the value to the operator.
type rowValueError struct {
	key    string // "" when the row's key itself cannot be read
	column string
	err    error
}

func (e *rowValueError) Error() string {
	if e.key == "" {
		return fmt.Sprintf("%v: column %s: %v", errRowValue, e.column, e.err)
	}
	return fmt.Sprintf("%v: member %s: column %s: %v", errRowValue, e.key, e.column, e.err)
}

func (e *rowValueError) Is(target error) bool { return target == errRowValue }
func (e *rowValueError) Unwrap() error        { return e.err }

// rowFault is the contract error of query for a value of the wrong kind in column of the row
// of the member key ("" when the key cannot be read).
func rowFault(query, key, column string, err error) error {
	return legacy.Unavailable(query, fmt.Errorf("%w: %w", ErrContract, &rowValueError{key: key, column: column, err: err}))
}

func contractErr(query, format string, args ...any) error {
	return legacy.Unavailable(query, fmt.Errorf("%w: "+format, append([]any{ErrContract}, args...)...))
}

// loginRow is what a sign-in reads of a member's row before the password is verified: the
// login's columns (loginColumns) and the stored password. The member (toMember) is decoded only
// after the right password (review s19 X19-5), from the same loginColumns, not read again; so
// is the key, unless an error needs it (keyText).
type loginRow struct {
	loginColumns
	format       int
	stored, salt string
	rawKey       any
}

// loginColumns are the columns of a member's row that decide, before the password, whether the
// login may be tried at all: the login, whether the AMS's own copy of it agrees (sameLogin;
// false refuses the row), the lockout and the approval (answered whatever the password,
// legacy.Standing.BeforePassword). A sign-in reads them once, for its login row and its member.
type loginColumns struct {
	login     string
	sameLogin bool
	lockedOut bool
	approved  bool
}

// sameAMSLogin reports whether ams, the AMS's own copy of a login (iMIS UserMain.UserId, a
// varchar column), is login (aspnet_Users.UserName, nvarchar) as such a column keeps it:
// ignoring case, and with each non-ASCII character either kept, or stored as '?' or as its
// base letter, which is what SQL Server writes for a character the column's code page lacks
// ('张' as '?', 'Ł' as 'L'; review s20 Y-3). Every code page keeps ASCII, so an ASCII
// character must match; the number of characters must too. iMIS itself never compares the two
// (it signs in by the aspnet user id), so a stricter check refused members iMIS signs in.
func sameAMSLogin(ams, login string) bool {
	if strings.EqualFold(ams, login) {
		return true
	}
	if utf8.RuneCountInString(ams) != utf8.RuneCountInString(login) {
		return false
	}
	rest := ams
	for _, l := range login {
		a, n := utf8.DecodeRuneInString(rest)
		rest = rest[n:]
		switch {
		case a == l || strings.EqualFold(string(a), string(l)):
		case l < utf8.RuneSelf:
			return false // ASCII is kept by every code page
		case a == '?':
		case a < utf8.RuneSelf && strings.EqualFold(string(a), string(baseLetter(l))):
		default:
			return false
		}
	}
	return true
}

// baseLetter is r without its diacritics (the first rune of its canonical decomposition), or
// r itself; letters such as 'Ł' whose base is not a decomposition keep their best-fit letter.
func baseLetter(r rune) rune {
	if b, ok := bestFit[r]; ok {
		return b
	}
	d := norm.NFD.String(string(r))
	b, _ := utf8.DecodeRuneInString(d)
	return b
}

// bestFit are the letters SQL Server's code-page conversion writes as another letter without
// their being its canonical decomposition (Windows best-fit mappings).
var bestFit = map[rune]rune{'Ł': 'L', 'ł': 'l', 'Đ': 'D', 'đ': 'd', 'Ħ': 'H', 'ħ': 'h', 'ı': 'i', 'Ŧ': 'T', 'ŧ': 't', 'Ø': 'O', 'ø': 'o'}

// readLoginColumns reads a row's loginColumns; on failure it names the column. NULL gives the
// restrictive answer: locked out, not approved.
func (d *Directory) readLoginColumns(rs *resultSet, row []any) (lc loginColumns, col string, err error) {
	if d.loginReads != nil {
		d.loginReads()
	}
	get := func(c string) any {
		if i, ok := rs.cols[c]; ok {
			return row[i]
		}
		return nil
	}
	login, err := asString(get(colLogin))
	if err != nil {
		return lc, colLogin, err
	}
	lc.login, lc.sameLogin = strings.TrimSpace(login), true
	if _, ok := rs.cols[colAMSUserID]; ok {
		u, err := asString(get(colAMSUserID))
		if err != nil {
			return lc, colAMSUserID, err
		}
		lc.sameLogin = sameAMSLogin(strings.TrimSpace(u), lc.login)
	}
	locked, null, err := asBool(get(colLockedOut))
	if err != nil {
		return lc, colLockedOut, err
	}
	lc.lockedOut = locked || null
	approved, null, err := asBool(get(colApproved))
	if err != nil {
		return lc, colApproved, err
	}
	lc.approved = approved && !null
	return lc, "", nil
}

// unreadableKey stands for a row's member key in messages when the key cannot be read.
const unreadableKey = "(a key that cannot be read)"

// keyText is the row's member key for messages, or unreadableKey: never the raw value of a key
// that cannot be read (review s27 R5-5), which is the row's data, not a key.
func (d *Directory) keyText(r *loginRow) string {
	if k := d.rowKey(r); k != "" {
		return k
	}
	return unreadableKey
}

// rowKey is the row's member key, or "" when it cannot be read.
func (d *Directory) rowKey(r *loginRow) string {
	k, err := d.dialect.asKey(r.rawKey, d.cfg.KeyFormat == "text")
	if err != nil {
		return ""
	}
	return k
}

// toLoginRow reads a member_by_login row's loginRow; its errors are toMember's.
func (d *Directory) toLoginRow(rs *resultSet, row []any) (loginRow, error) {
	for _, c := range requiredHashColumns {
		if _, ok := rs.cols[c]; !ok {
			return loginRow{}, contractErr(QueryMemberByLogin, "missing column %s", c)
		}
	}
	get := func(c string) any {
		if i, ok := rs.cols[c]; ok {
			return row[i]
		}
		return nil
	}
	r := loginRow{rawKey: get(colKey)}
	fail := func(c string, err error) (loginRow, error) {
		return loginRow{}, rowFault(QueryMemberByLogin, d.rowKey(&r), c, err)
	}
	if r.rawKey == nil {
		return fail(colKey, &kindError{want: "a key", got: "NULL"})
	}
	lc, col, err := d.readLoginColumns(rs, row)
	if err != nil {
		return fail(col, err)
	}
	r.loginColumns = lc
	r.stored, _ = asString(get(colPassword))
	r.salt, _ = asString(get(colSalt))
	if r.format, err = passwordFormat(get(colFormat)); err != nil {
		return fail(colFormat, err)
	}
	return r, nil
}

// passwordFormat reads the PasswordFormat column: NULL is hashed, and a value outside 32 bits
// is -1, an unknown format that fails closed in the verifier.
func passwordFormat(v any) (int, error) {
	f, null, err := asInt(v)
	switch {
	case err != nil:
		return 0, err
	case null:
		return password.FormatHashed, nil
	case f < -1<<31 || f > 1<<31-1:
		return -1, nil
	}
	return int(f), nil
}

// toMember maps one row by column name. Missing required columns, and values of the wrong
// kind, are contract errors (wrapped in legacy.ErrUnavailable): the directory fails closed.
// Datetime columns are read in app (the application clock), or in UTC when their name ends
// in _utc. lc, when not nil, is the row's loginColumns already read (a sign-in's login row),
// used instead of reading them again.
func (d *Directory) toMember(rs *resultSet, row []any, withHash bool, lc *loginColumns, app *time.Location) (*memberRow, error) {
	if d.decoded != nil {
		d.decoded()
	}
	query := "member query"
	need := requiredColumns
	if withHash {
		query = QueryMemberByLogin
		need = requiredHashColumns
	}
	for _, c := range need {
		if _, ok := rs.cols[c]; !ok {
			return nil, contractErr(query, "missing column %s", c)
		}
	}
	// The first value of the wrong kind, and its column.
	var firstErr error
	var firstCol string
	fault := func(c string, err error) {
		if err != nil && firstErr == nil {
			firstErr, firstCol = err, c
		}
	}
	get := func(c string) any {
		if i, ok := rs.cols[c]; ok {
			return row[i]
		}
		return nil
	}
	str := func(c string) string {
		s, err := asString(get(c))
		fault(c, err)
		return strings.TrimSpace(s)
	}
	// tm reads the datetime column c, or its UTC variant cUTC (c+utcSuffix, written out by
	// the callers as a constant: no string is built per column and row) when the query has it.
	tm := func(c, cUTC string) time.Time {
		loc := app
		if _, ok := rs.cols[cUTC]; ok {
			c, loc = cUTC, time.UTC
		}
		t, err := asTime(get(c), loc)
		fault(c, err)
		return t
	}
	// flag reads a boolean; NULL gives nullValue (the restrictive answer).
	flag := func(c string, nullValue bool) bool {
		b, null, err := asBool(get(c))
		fault(c, err)
		if null {
			return nullValue
		}
		return b
	}

	key, err := d.dialect.asKey(get(colKey), d.cfg.KeyFormat == "text")
	if err != nil {
		return nil, rowFault(query, "", colKey, err)
	}
	if lc == nil {
		read, col, err := d.readLoginColumns(rs, row)
		fault(col, err)
		lc = &read
	}
	m := &legacy.Member{
		Key:          key,
		MemberID:     str(colMemberID),
		Login:        lc.login,
		Email:        str(colEmail),
		EmailUnique:  d.cfg.EmailUnique,
		GivenName:    str(colGivenName),
		FamilyName:   str(colFamilyName),
		FullName:     str(colFullName),
		Company:      str(colCompany),
		MemberType:   str(colMemberType),
		MemberRecord: flag(colMemberRecord, false),
		Status:       str(colStatus),
		MemberStatus: str(colMemberStatus),
		Staff:        flag(colStaff, false),
		JoinDate:     tm(colJoinDate, colJoinDate+utcSuffix),
		PaidThrough:  tm(colPaidThrough, colPaidThrough+utcSuffix),
		PictureURL:   str(colPicture),
		Standing: legacy.Standing{
			Disabled:          flag(colDisabled, true),
			EffectiveDate:     tm(colEffective, colEffective+utcSuffix),
			ExpirationDate:    tm(colExpiration, colExpiration+utcSuffix),
			Approved:          lc.approved,
			LockedOut:         lc.lockedOut,
			Deleted:           flag(colDeleted, true),
			PasswordChangedAt: tm(colPasswordChange, colPasswordChange+utcSuffix),
			SysAdmin:          flag(colSysAdmin, false),
		},
	}
	if ck, ok := rs.cols[colContactKey]; ok && row[ck] != nil {
		if k, err := d.dialect.asKey(row[ck], d.cfg.KeyFormat == "text"); err == nil {
			m.ContactKey = k
		}
	} else {
		m.ContactKey = key
	}
	if m.FullName == "" {
		m.FullName = strings.TrimSpace(m.GivenName + " " + m.FamilyName)
	}
	for _, u := range rs.updated {
		loc := app
		if u.utc {
			loc = time.UTC
		}
		t, err := asTime(row[u.i], loc)
		fault(u.name, err)
		if t.After(m.UpdatedAt) {
			m.UpdatedAt = t
		}
	}
	for _, c := range d.cfg.ExtraColumns {
		if _, ok := rs.cols[strings.ToLower(c)]; !ok {
			continue
		}
		if v := str(strings.ToLower(c)); v != "" {
			if m.Extra == nil {
				m.Extra = map[string]string{}
			}
			m.Extra[c] = v
		}
	}
	if _, ok := rs.cols[colSecondFactor]; ok {
		m.SecondFactor = flag(colSecondFactor, true) // NULL: the restrictive answer
	}
	r := &memberRow{m: m, sameLogin: lc.sameLogin}
	if withHash {
		r.stored, _ = asString(get(colPassword))
		r.salt, _ = asString(get(colSalt))
		f, err := passwordFormat(get(colFormat))
		fault(colFormat, err)
		r.format = f
	}
	if firstErr != nil {
		return nil, rowFault(query, key, firstCol, firstErr)
	}
	return r, nil
}
