package sqldir

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	mssql "github.com/microsoft/go-mssqldb"

	"github.com/ssobridge/ssobridge/legacy"
)

// ErrDiagnosis is returned by Diagnose when it found at least one problem.
var ErrDiagnosis = errors.New("sqldir: the legacy directory check found problems")

// Diagnose runs every configured query for one login and writes to w what the bridge would
// see and what is missing or wrong, for "ssobridge legacy check --login NAME". It never
// writes a password hash or salt (only the stored format, scheme and length) and never
// checks a password. It returns an error wrapping ErrDiagnosis when it found problems, or
// the error of writing to w.
func (d *Directory) Diagnose(ctx context.Context, login string, w io.Writer) error {
	g := &diag{w: w, grace: d.cfg.MembershipGrace, rule: d.cfg.StandingRule, standing: d.standing}
	g.ams, _, _ = d.words().diagnosis()
	c := d.cfg
	g.printf("legacy directory check\n")
	g.printf("  driver %s, preset %s, app_time_offset %s, server timezone %s, query timeout %s\n", c.Driver, c.Preset, c.AppTimeOffset, d.loc, c.QueryTimeout)
	g.printf("  role sources %s; membership grace %s\n", strings.Join(c.RoleSources, ", "), c.MembershipGrace)
	g.printf("  hash algorithm %s, key format %s\n", d.describe.Algorithm(), c.KeyFormat)
	if len(c.Queries) > 0 {
		g.printf("  queries overridden by the configuration: %s\n", strings.Join(sortedKeys(c.Queries), ", "))
	}
	if len(c.ExtraColumns) > 0 {
		g.printf("  extra columns: %s\n", strings.Join(c.ExtraColumns, ", "))
	}

	// ping
	start := time.Now()
	rs, err := d.run(ctx, QueryPing, 1)
	switch {
	case err != nil:
		g.queryFailed(QueryPing, err)
	case len(rs.rows) == 0:
		g.problem("[%s] returned no row: the database answered but the check found nothing", QueryPing)
	default:
		g.printf("\n[%s] ok in %s: %s\n", QueryPing, since(start), rowText(rs, rs.rows[0]))
		if d.preset != nil && d.preset.EmptyPing != "" && len(rs.names) == 1 {
			if n, _, err := asInt(rs.rows[0][0]); err == nil && n == 0 {
				g.problem("[%s] %s", QueryPing, d.preset.EmptyPing)
			}
		}
	}

	// READ_COMMITTED_SNAPSHOT (SQL Server only)
	if c.Driver == DriverSQLServer {
		g.isolation(ctx, d)
	}

	// app_clock
	start = time.Now()
	clk, clockErr := d.Clock(ctx)
	if clockErr != nil {
		g.queryFailed(QueryAppClock, clockErr)
	} else {
		g.printf("\n[%s] ok in %s: two clocks\n", QueryAppClock, since(start))
		ams, utcDates, appDates := d.words().diagnosis()
		g.printf("  UTC now:        %s  (%s are read in UTC)\n", clk.UTC.Format("2006-01-02 15:04:05"), utcDates)
		g.printf("  %-15s %s  (UTC%s, from %s; %s)\n", ams+" app time:",
			clk.App.Format("2006-01-02 15:04:05"), clk.App.Format("-07:00"), clk.Source, appDates)
		g.printf("  change watermarks are kept in UTC\n")
	}

	// db_clock
	if _, ok := d.queries[QueryDBClock]; ok {
		start = time.Now()
		if now, err := d.DatabaseNow(ctx); err != nil {
			g.queryFailed(QueryDBClock, err)
		} else {
			g.printf("\n[%s] ok in %s: the database's clock reads %s UTC (%s from this host's; the change poll's watermark stays behind it)\n",
				QueryDBClock, since(start), now.Format("2006-01-02 15:04:05"), now.Sub(time.Now()).Round(time.Second))
		}
	}

	// password_expiry
	start = time.Now()
	expiry, fromAMS, expiryErr := d.passwordExpiry(ctx)
	source := func(configured *time.Duration) string {
		if configured != nil {
			return "configured"
		}
		if fromAMS {
			return "from the AMS"
		}
		return "no " + QueryPasswordExpiry + " query"
	}
	switch {
	case expiryErr != nil:
		g.queryFailed(QueryPasswordExpiry, expiryErr)
		g.problem("[%s] the password expiry settings cannot be read: every sign-in fails until they can (or set password_max_age and password_max_age_sysadmin)", QueryPasswordExpiry)
	default:
		head := fmt.Sprintf("\n[%s] ok in %s", QueryPasswordExpiry, since(start))
		if !fromAMS {
			head = fmt.Sprintf("\n[%s] not read", QueryPasswordExpiry)
		}
		g.printf("%s: password max age %s for members (%s), %s for system administrators (%s)\n", head,
			describeExpiry(expiry.MaxAge), source(c.PasswordMaxAge), describeExpiry(expiry.SysAdminMaxAge), source(c.PasswordMaxAgeSysAdmin))
	}

	// member_by_login
	name, ok := normalizeLogin(login)
	if !ok {
		g.problem("login %q is refused before any query: empty, longer than %d characters, invalid UTF-8 or containing control characters", login, MaxLoginRunes)
		return g.result()
	}
	if name != login {
		g.printf("\nlogin normalised to %q (trimmed, NFC)\n", name)
	}
	if d.refused[strings.ToUpper(name)] {
		g.problem("login %q is a built-in account (refused_logins): it never signs in through the bridge", name)
	}
	loc, err := d.appLocation(ctx)
	if err != nil {
		if clockErr == nil { // reported above otherwise
			g.queryFailed(QueryAppClock, err)
		}
		return g.result()
	}
	start = time.Now()
	rs, err = d.run(ctx, QueryMemberByLogin, 2, strings.ToLower(name))
	if err != nil {
		g.queryFailed(QueryMemberByLogin, err)
		return g.result()
	}
	g.printf("\n[%s] %d row(s) in %s\n", QueryMemberByLogin, len(rs.rows), since(start))
	g.columns(QueryMemberByLogin, rs, true, c.ExtraColumns)
	switch len(rs.rows) {
	case 0:
		g.problem("[%s] no member has the login %q", QueryMemberByLogin, name)
		g.probe(ctx, d, strings.ToLower(name))
		return g.result()
	case 1:
	default:
		g.problem("[%s] the login matches several members: sign-in is refused until the AMS data is fixed", QueryMemberByLogin)
	}
	row, err := d.toMember(rs, rs.rows[0], true, nil, loc)
	if err != nil {
		g.problem("[%s] %v", QueryMemberByLogin, errors.Unwrap(err))
		g.badValue(rs, rs.rows[0], err)
		return g.result()
	}
	m := row.m
	now := d.now()
	g.member(m, now)
	info := d.describe.Describe(row.format, row.stored, row.salt)
	saltText := "no salt"
	if row.salt != "" {
		saltText = fmt.Sprintf("salt of %d characters", len(row.salt))
	}
	row.stored, row.salt = "", ""
	detail := ""
	if info.Detail != "" {
		detail = ", " + info.Detail
	}
	if info.Supported {
		g.printf("  password:       format %d, %s, %d characters (%d bytes decoded)%s, %s; not shown\n",
			row.format, info.Scheme, info.Length, info.Bytes, detail, saltText)
	} else {
		g.printf("  password:       format %d, %s, %d characters, %s; not shown\n", row.format, info.Scheme, info.Length, saltText)
		g.problem("the stored password cannot be verified (%s): this member cannot sign in through the bridge", info.Detail)
	}
	s := m.Standing
	g.printf("  standing:       disabled=%s approved=%s locked_out=%s deleted=%s\n", yesNo(s.Disabled), yesNo(s.Approved), yesNo(s.LockedOut), yesNo(s.Deleted))
	g.printf("                  effective %s, expires %s, password changed %s\n", dateText(s.EffectiveDate, "no lower bound"), dateText(s.ExpirationDate, "never"), dateText(s.PasswordChangedAt, "unknown"))
	g.printf("                  system administrator %s (its password expires by the %s setting)\n", yesNo(s.SysAdmin),
		either(s.SysAdmin, "system administrators'", "members'"))
	if expiryErr != nil {
		g.problem("the status rules cannot be applied: the password expiry settings are not known")
	} else if err := s.Check(now, expiry.For(s)); err != nil {
		g.problem("the status rules refuse this member: %s (%s)", err.Error(), legacy.Reason(err))
	} else {
		g.printf("  status rules:   pass\n")
	}

	// member_by_key, member_by_id
	g.sameMember(ctx, d, QueryMemberByKey, m.Key, m)
	if _, ok := d.queries[QueryMemberByKeyCommitted]; ok {
		g.sameMember(ctx, d, QueryMemberByKeyCommitted, m.Key, m) // with roles_by_key_committed
	}
	if m.MemberID != "" {
		g.sameMember(ctx, d, QueryMemberByID, m.MemberID, m)
	} else {
		g.printf("\n[%s] skipped: the member has no member_id\n", QueryMemberByID)
	}

	// roles_by_key
	start = time.Now()
	grants, err := d.Grants(ctx, m.Key)
	if err != nil {
		g.queryFailed(QueryRolesByKey, err)
	} else {
		roles := legacy.RolesOf(grants)
		list := strings.Join(roles, ", ")
		if list == "" {
			list = "(none)"
		}
		g.printf("\n[%s] %d role(s) in %s: %s\n", QueryRolesByKey, len(roles), since(start), list)
		for _, src := range legacy.RoleSources() {
			var names []string
			for _, gr := range grants {
				if gr.Source == src {
					names = append(names, gr.Role)
				}
			}
			text := strings.Join(names, ", ")
			switch {
			case !slices.Contains(c.RoleSources, src):
				text = "(source off)"
			case text == "":
				text = "(none)"
			}
			g.printf("  %-20s %s\n", src+":", text)
		}
		g.printf("  staff:               %s (legacy Users row; released as the claim staff)\n", yesNo(m.Staff))
	}

	// members_by_email (legacy.EmailFinder: upstream sign-in links an identity by its address)
	g.membersByEmail(ctx, d, m)

	// changed_since
	if m.UpdatedAt.IsZero() {
		g.problem("[%s] the member has no change time (updated_at columns): change polling cannot see it", QueryChangedSince)
	} else {
		from := m.UpdatedAt.Add(-time.Second)
		start = time.Now()
		ms, next, err := d.ChangedSince(ctx, from, 50)
		if err != nil {
			g.queryFailed(QueryChangedSince, err)
		} else {
			found := slices.ContainsFunc(ms, func(x *legacy.Member) bool { return x.Key == m.Key })
			g.printf("\n[%s] since %s: %d member(s) in %s, next watermark %s, this member %s\n", QueryChangedSince,
				from.Format(time.DateTime), len(ms), since(start), next.Format(time.DateTime+".000"), either(found, "included", "NOT included"))
			if !found && len(ms) < 50 {
				g.problem("[%s] the member changed at %s but is not listed after %s", QueryChangedSince, m.UpdatedAt.Format(time.DateTime), from.Format(time.DateTime))
			}
		}
	}
	return g.result()
}

// isolationQuery reads the current database's row versioning options. sys.databases always
// shows the database the login is connected to; a login denied SELECT on it gets error 229.
const isolationQuery = `SELECT name, is_read_committed_snapshot_on, snapshot_isolation_state_desc FROM sys.databases WHERE database_id = DB_ID()`

// isolation reports whether the AMS database has READ_COMMITTED_SNAPSHOT on (review s26 R3-4):
// it decides whether the reads without NOLOCK (the confirming read before a deactivation)
// wait for the AMS's write locks. It is never a problem: off is the default of SQL Server, and
// a login that may not read sys.databases gets "unknown".
func (g *diag) isolation(ctx context.Context, d *Directory) {
	name, rcsi, snapshot, err := d.readIsolation(ctx)
	member, roles := QueryMemberByKey, QueryRolesByKey
	if _, ok := d.queries[QueryMemberByKeyCommitted]; ok {
		member = QueryMemberByKeyCommitted
	}
	if _, ok := d.queries[QueryRolesByKeyCommitted]; ok && member == QueryMemberByKeyCommitted {
		roles = QueryRolesByKeyCommitted
	}
	confirming := member + ", " + roles
	var se mssql.Error
	switch {
	case errors.Is(err, sql.ErrNoRows):
		g.printf("\n[database isolation] unknown: sys.databases shows the bridge's login no row for this database\n")
		return
	case errors.As(err, &se):
		g.printf("\n[database isolation] unknown: SQL Server error %d: %s", se.Number, se.Message)
		if se.Number == 229 || se.Number == 230 {
			g.printf(" (the bridge's login may not read sys.databases; nothing but this check and a start-up warning needs it)")
		}
		g.printf("\n")
		return
	case err != nil:
		g.printf("\n[database isolation] unknown: %v\n", err)
		return
	}
	g.printf("\n[database isolation] database %s: READ_COMMITTED_SNAPSHOT %s, ALLOW_SNAPSHOT_ISOLATION %s (not used by the bridge)\n",
		name, either(rcsi, "ON", "OFF"), snapshot)
	if rcsi {
		g.printf("  the reads that confirm a deactivation (%s) read the last committed row versions and never wait for write locks\n", confirming)
		return
	}
	wait := fmt.Sprintf("for at most %s (SET LOCK_TIMEOUT)", d.lockTimeout())
	if member != QueryMemberByKeyCommitted {
		wait = fmt.Sprintf("up to query_timeout (%s)", d.cfg.QueryTimeout)
	}
	ams := g.ams
	if ams == "" {
		ams = "the AMS"
	}
	nolock := "Queries WITH (NOLOCK) do not wait; other queries wait up to query_timeout."
	if d.preset != nil {
		nolock = fmt.Sprintf("The %s preset's sign-in, look-up and listing reads are WITH (NOLOCK): they do not wait.", d.cfg.Preset)
	}
	g.printf("  WARNING: locking READ COMMITTED: the reads that confirm a deactivation (%s) wait for %s's write locks on the member's rows %s;\n"+
		"  a member whose rows stay locked (a long save, a batch holding a table lock) is not deactivated until they are free (unconfirmed, retried at the next poll).\n"+
		"  %s\n"+
		"  To read row versions instead: ALTER DATABASE [%s] SET READ_COMMITTED_SNAPSHOT ON (SQL Server needs no other connection to the database while it runs),\n"+
		"  or point the DSN at a readable secondary (ApplicationIntent=ReadOnly), where reads use row versions.\n",
		confirming, ams, wait, nolock, name)
}

// readIsolation reads the AMS database's name, READ_COMMITTED_SNAPSHOT and
// ALLOW_SNAPSHOT_ISOLATION state (SQL Server only); sql.ErrNoRows when sys.databases shows the
// login no row for it.
func (d *Directory) readIsolation(ctx context.Context) (name string, rcsi bool, snapshot string, err error) {
	qctx, cancel := context.WithTimeout(ctx, d.cfg.QueryTimeout)
	defer cancel()
	err = d.db.QueryRowContext(qctx, isolationQuery).Scan(&name, &rcsi, &snapshot)
	return name, rcsi, snapshot, err
}

// warnLockingReads warns at start-up when the AMS database (SQL Server) has
// READ_COMMITTED_SNAPSHOT off: the read that confirms a deactivation then waits for the AMS's
// write locks (review s26 R3-4). Not knowing is not worth a warning (legacy check says why).
func warnLockingReads(ctx context.Context, d *Directory, log *slog.Logger) {
	name, rcsi, _, err := d.readIsolation(ctx)
	switch {
	case err != nil:
		log.DebugContext(ctx, "READ_COMMITTED_SNAPSHOT of the AMS database unknown", "err", err)
	case !rcsi:
		log.WarnContext(ctx, "the AMS database has READ_COMMITTED_SNAPSHOT off: the read that confirms a deactivation waits for the AMS's write locks, and a member whose rows stay locked is not deactivated until they are free (sign-ins read WITH (NOLOCK)); see ssobridge legacy check --login",
			"database", name, "lock_timeout", d.lockTimeout())
	}
}

// membersByEmail runs members_by_email with the member's own address, as upstream sign-in does
// to link an identity by e-mail: the member must be among the answers.
func (g *diag) membersByEmail(ctx context.Context, d *Directory, m *legacy.Member) {
	if _, ok := d.queries[QueryMembersByEmail]; !ok {
		g.printf("\n[%s] skipped: not configured (upstream identities are linked by the AMS password, never by e-mail address)\n", QueryMembersByEmail)
		return
	}
	if strings.TrimSpace(m.Email) == "" {
		g.printf("\n[%s] skipped: the member has no e-mail address\n", QueryMembersByEmail)
		return
	}
	start := time.Now()
	ms, err := d.MembersByEmail(ctx, m.Email, 10)
	if err != nil {
		g.queryFailed(QueryMembersByEmail, err)
		return
	}
	found := slices.ContainsFunc(ms, func(x *legacy.Member) bool { return x.Key == m.Key })
	g.printf("\n[%s] %d member(s) in %s with %s: this member %s\n", QueryMembersByEmail, len(ms), since(start), m.Email,
		either(found, "included", "NOT included"))
	if !found {
		g.problem("[%s] the member's own address %s does not find the member: upstream sign-in cannot link it by e-mail", QueryMembersByEmail, m.Email)
	}
	if len(ms) > 1 {
		g.printf("  %d members share this address: upstream sign-in links by e-mail only when exactly one of them may sign in\n", len(ms))
	}
}

// words is the preset whose words the diagnosis uses: the configured one, or with preset none
// the connector's first (its AMS is still the same); nil without presets.
func (d *Directory) words() *Preset {
	if d.preset != nil {
		return d.preset
	}
	if len(d.cfg.Presets) > 0 {
		return &d.cfg.Presets[0]
	}
	return nil
}

type diag struct {
	ams      string // the AMS's name (Preset.AMS)
	grace    time.Duration
	rule     string
	standing func(m *legacy.Member, now time.Time) legacy.Membership
	w        io.Writer
	problems []string
	err      error
}

func (g *diag) printf(format string, args ...any) {
	if g.err == nil {
		_, g.err = fmt.Fprintf(g.w, format, args...)
	}
}

func (g *diag) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	g.problems = append(g.problems, msg)
	g.printf("  PROBLEM: %s\n", msg)
}

func (g *diag) result() error {
	g.printf("\n")
	if len(g.problems) == 0 {
		g.printf("Diagnosis: no problem found; the member can sign in with the right password.\n")
	} else {
		g.printf("Diagnosis: %d problem(s):\n", len(g.problems))
		for _, p := range g.problems {
			g.printf("  - %s\n", p)
		}
	}
	if g.err != nil {
		return fmt.Errorf("sqldir: writing the diagnosis: %w", g.err)
	}
	if len(g.problems) > 0 {
		return fmt.Errorf("%w: %d problem(s)", ErrDiagnosis, len(g.problems))
	}
	return nil
}

// queryFailed explains a failed query with the server's message and, for well-known SQL
// Server error numbers, a hint.
func (g *diag) queryFailed(query string, err error) {
	if errors.Is(err, ErrContract) {
		g.printf("\n[%s] failed\n", query)
		g.problem("[%s] %v", query, errors.Unwrap(err))
		return
	}
	cause := err
	if u := errors.Unwrap(err); u != nil {
		cause = u
	}
	hint := ""
	var se mssql.Error
	if errors.As(err, &se) {
		switch se.Number {
		case 208:
			hint = " (a table or view does not exist: wrong database, or not an " + g.ams + " schema)"
		case 207:
			hint = " (a column does not exist: check the query against this " + g.ams + " version)"
		case 102, 156:
			hint = " (SQL syntax error in the configured query)"
		case 229, 230:
			hint = " (permission denied: grant SELECT on the " + g.ams + " tables to the bridge's login)"
		case 1222:
			hint = " (a lock wait passed SET LOCK_TIMEOUT: an " + g.ams + " transaction holds the member's rows; the read is retried later, see database isolation above)"
		case 1205:
			hint = " (chosen as a deadlock victim: retried later)"
		case 18456:
			hint = " (SQL login failed: check the user and password in the DSN)"
		case 4060:
			hint = " (cannot open the database named in the DSN)"
		}
		cause = fmt.Errorf("SQL Server error %d: %s", se.Number, se.Message)
	} else if msg := cause.Error(); strings.Contains(msg, "no such table") {
		hint = " (a table does not exist in this database)"
	} else if errors.Is(err, context.DeadlineExceeded) {
		hint = " (the query timed out: raise query_timeout or check the server's load and indexes)"
	}
	g.printf("\n[%s] failed\n", query)
	g.problem("[%s] %v%s", query, cause, hint)
}

// probe runs the preset's login-chain probes (only when member_by_login is the preset's) and
// names the first missing link.
func (g *diag) probe(ctx context.Context, d *Directory, lowered string) {
	if d.cfg.Queries[QueryMemberByLogin] != "" || d.preset == nil {
		return // a custom query: its chain is unknown
	}
	probes := d.preset.Probes
	for _, p := range probes {
		qctx, cancel := context.WithTimeout(ctx, d.cfg.QueryTimeout)
		var n int64
		err := d.db.QueryRowContext(qctx, p.Query, lowered).Scan(&n)
		cancel()
		if err != nil {
			g.printf("  probe failed: %v\n", err)
			return
		}
		if n == 0 {
			g.problem("login chain: %s", p.What)
			return
		}
	}
	if len(probes) > 0 {
		g.printf("  login chain: every link exists; check the remaining joins of %s\n", QueryMemberByLogin)
	}
}

func (g *diag) columns(query string, rs *resultSet, withHash bool, extra []string) {
	var missingOpt, missingExtra []string
	for _, c := range optionalColumns {
		if _, ok := rs.cols[c]; !ok {
			missingOpt = append(missingOpt, c)
		}
	}
	for _, c := range extra {
		if _, ok := rs.cols[strings.ToLower(c)]; !ok {
			missingExtra = append(missingExtra, c)
		}
	}
	g.printf("  %d columns", len(rs.names))
	if len(missingOpt) > 0 {
		g.printf("; optional columns absent: %s", strings.Join(missingOpt, ", "))
	}
	g.printf("\n")
	if len(missingExtra) > 0 {
		g.problem("[%s] configured extra_columns not returned by the query: %s", query, strings.Join(missingExtra, ", "))
	}
}

func (g *diag) member(m *legacy.Member, now time.Time) {
	g.printf("  key:            %s\n", m.Key)
	g.printf("  member id:      %s\n", m.MemberID)
	g.printf("  login:          %s\n", m.Login)
	g.printf("  name:           %s (given %q, family %q)\n", m.FullName, m.GivenName, m.FamilyName)
	g.printf("  email:          %s\n", m.Email)
	g.printf("  company:        %s\n", m.Company)
	g.printf("  member type:    %s (member record: %s), record status (Name.STATUS) %q, membership status (Name.MEMBER_STATUS) %q\n",
		m.MemberType, yesNo(m.MemberRecord), m.Status, m.MemberStatus)
	g.printf("  paid through:   %s\n", dateText(m.PaidThrough, "none"))
	ms := m.MembershipAt(now, g.grace)
	if g.standing != nil {
		ms = g.standing(m, now)
	}
	g.printf("  membership:     %s (is_current %v): %s\n", ms.Standing, ms.Current(), ms.Reason)
	if g.rule != "" && g.standing == nil {
		g.printf("                  (the bridge's standing_rule decides whether this counts as current)\n")
	}
	g.printf("  join date:      %s\n", dateText(m.JoinDate, "none"))
	g.printf("  updated at:     %s UTC\n", dateText(m.UpdatedAt.UTC(), "none"))
	if len(m.Extra) > 0 {
		keys := make([]string, 0, len(m.Extra))
		for k := range m.Extra {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + m.Extra[k]
		}
		g.printf("  extra:          %s\n", strings.Join(parts, ", "))
	}
}

func (g *diag) sameMember(ctx context.Context, d *Directory, query, arg string, want *legacy.Member) {
	start := time.Now()
	var (
		got *legacy.Member
		err error
	)
	switch query {
	case QueryMemberByKey:
		got, err = d.MemberByKey(ctx, arg)
	case QueryMemberByKeyCommitted:
		got, err = d.FreshMemberByKey(ctx, arg)
	default:
		got, err = d.MemberByID(ctx, arg)
	}
	switch {
	case errors.Is(err, legacy.ErrNotFound):
		g.printf("\n[%s] %q: not found\n", query, arg)
		g.problem("[%s] does not find the member by %q (member_by_login did)", query, arg)
	case err != nil:
		g.queryFailed(query, err)
	case got.Key != want.Key:
		g.printf("\n[%s] %q: another member\n", query, arg)
		g.problem("[%s] finds member %s, member_by_login found %s", query, got.Key, want.Key)
	default:
		g.printf("\n[%s] %q: same member in %s\n", query, arg, since(start))
	}
}

// badValue shows, on the operator's terminal, the value of the column that err (a member row's
// value of the wrong kind) names: the error itself never quotes it, since it is logged (review
// s27 R5-5). The password and its salt are never shown (they are never decoded with errors).
func (g *diag) badValue(rs *resultSet, row []any, err error) {
	var re *rowValueError
	if !errors.As(err, &re) || re.column == colPassword || re.column == colSalt {
		return
	}
	i, ok := rs.cols[strings.ToLower(re.column)]
	if !ok {
		return
	}
	switch v := row[i].(type) {
	case nil:
		g.printf("  the row's %s is NULL\n", re.column)
	case []byte:
		g.printf("  the row's %s is %d bytes: %x\n", re.column, len(v), v)
	case string:
		g.printf("  the row's %s is the text %q\n", re.column, v)
	default:
		g.printf("  the row's %s is %v (%T)\n", re.column, v, v)
	}
}

func rowText(rs *resultSet, row []any) string {
	parts := make([]string, len(rs.names))
	for i, n := range rs.names {
		s, _ := asString(row[i])
		parts[i] = n + "=" + s
	}
	return strings.Join(parts, ", ")
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Microsecond) }

func yesNo(b bool) string { return either(b, "yes", "no") }

// either is yes when b, else no.
func either(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func dateText(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.Format("2006-01-02 15:04:05")
}
