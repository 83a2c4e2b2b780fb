package tdsfake

import (
	"fmt"
	"strings"
	"time"
)

// The T-SQL -> SQLite rewrite covers the subset the bridge's queries use:
//
//   - N'...' literals, [bracketed] identifiers, dbo. prefixes, @pN parameters
//   - table hints: WITH (NOLOCK) and the old (NOLOCK) form
//   - SELECT [DISTINCT] TOP n / TOP (n) / TOP (@p) -> LIMIT, also in subqueries
//   - GETDATE(), SYSDATETIME(), CURRENT_TIMESTAMP, GETUTCDATE(), SYSUTCDATETIME() (the SYS
//     ones as datetime2(7), the others as datetime, as SQL Server types them)
//   - ISNULL -> IFNULL, LEN(x) -> LENGTH(RTRIM(x)), NEWID()
//   - CAST(x AS type) and CONVERT(type, x[, style]) by target type
//   - DATEADD(unit, n, date) for year, month, day, hour, minute, second
//   - LOWER/UPPER -> Unicode-aware functions (SQLite's fold ASCII only)
//   - COLLATE <SQL Server collation> -> the fake's case-insensitive collation, or BINARY
//   - SET ... statements (SET NOCOUNT ON) are not run (SET LOCK_TIMEOUT is obeyed by a lock
//     wait, Action.LockWait); each is answered with its DONE or DONEINPROC
//   - sys.databases (a row per database: master, tempdb, model, msdb, then the server's),
//     DB_ID() and DB_NAME() without argument
//
//   - '+' next to a string literal or a character column -> || (string concatenation)
//
// Not covered: '+' between two expressions of unknown type (CAST(..) + CAST(..)), DATEDIFF,
// OUTER/CROSS APPLY, OFFSET/FETCH, TOP ... PERCENT. Statements the rewrite cannot translate
// fail with error 102 and a message naming the fake.

type tokKind int

const (
	tkSpace  tokKind = iota
	tkWord           // identifier or keyword
	tkQuoted         // [bracketed] or "quoted" identifier; text is the bare name
	tkString         // '...' literal, text includes the quotes
	tkNumber
	tkParam // @name
	tkPunct
)

type sqlToken struct {
	kind tokKind
	text string
}

func (t sqlToken) is(word string) bool {
	return t.kind == tkWord && strings.EqualFold(t.text, word)
}

func (t sqlToken) render() string {
	if t.kind == tkQuoted {
		return `"` + strings.ReplaceAll(t.text, `"`, `""`) + `"`
	}
	return t.text
}

// tokenize splits T-SQL into tokens. Comments become a single space.
func tokenize(s string) ([]sqlToken, error) {
	var toks []sqlToken
	isWord := func(c byte) bool {
		return c == '_' || c == '#' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n' || s[j] == '\r') {
				j++
			}
			toks = append(toks, sqlToken{tkSpace, " "})
			i = j
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				j = len(s) - i
			}
			toks = append(toks, sqlToken{tkSpace, " "})
			i += j
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment")
			}
			toks = append(toks, sqlToken{tkSpace, " "})
			i += j + 4
		case c == '\'' || (c == 'N' || c == 'n') && i+1 < len(s) && s[i+1] == '\'':
			start := i
			if c != '\'' {
				start++ // drop the N prefix: SQLite strings are Unicode anyway
			}
			j := start + 1
			for {
				k := strings.IndexByte(s[j:], '\'')
				if k < 0 {
					return nil, fmt.Errorf("unclosed quotation mark")
				}
				j += k + 1
				if j < len(s) && s[j] == '\'' {
					j++
					continue
				}
				break
			}
			toks = append(toks, sqlToken{tkString, s[start:j]})
			i = j
		case c == '[':
			var name strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unclosed bracket")
				}
				if s[j] == ']' {
					if j+1 < len(s) && s[j+1] == ']' {
						name.WriteByte(']')
						j += 2
						continue
					}
					break
				}
				name.WriteByte(s[j])
				j++
			}
			toks = append(toks, sqlToken{tkQuoted, name.String()})
			i = j + 1
		case c == '"':
			j := strings.IndexByte(s[i+1:], '"')
			if j < 0 {
				return nil, fmt.Errorf("unclosed quoted identifier")
			}
			toks = append(toks, sqlToken{tkQuoted, s[i+1 : i+1+j]})
			i += j + 2
		case c == '@':
			j := i + 1
			for j < len(s) && isWord(s[j]) || j < len(s) && s[j] == '@' {
				j++
			}
			toks = append(toks, sqlToken{tkParam, strings.ToLower(s[i:j])})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			toks = append(toks, sqlToken{tkNumber, s[i:j]})
			i = j
		case isWord(c):
			j := i
			for j < len(s) && isWord(s[j]) {
				j++
			}
			toks = append(toks, sqlToken{tkWord, s[i:j]})
			i = j
		default:
			n := 1
			if i+1 < len(s) {
				switch s[i : i+2] {
				case "<>", "<=", ">=", "!=", "||", "!<", "!>":
					n = 2
				}
			}
			toks = append(toks, sqlToken{tkPunct, s[i : i+n]})
			i += n
		}
	}
	return toks, nil
}

// splitStatements splits tokens at top-level semicolons and drops empty statements.
func splitStatements(toks []sqlToken) [][]sqlToken {
	var out [][]sqlToken
	depth, start := 0, 0
	flush := func(end int) {
		stmt := trimSpace(toks[start:end])
		if len(stmt) > 0 {
			out = append(out, stmt)
		}
	}
	for i, t := range toks {
		switch {
		case t.kind == tkPunct && t.text == "(":
			depth++
		case t.kind == tkPunct && t.text == ")":
			depth--
		case t.kind == tkPunct && t.text == ";" && depth == 0:
			flush(i)
			start = i + 1
		}
	}
	flush(len(toks))
	return out
}

func trimSpace(toks []sqlToken) []sqlToken {
	for len(toks) > 0 && toks[0].kind == tkSpace {
		toks = toks[1:]
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == tkSpace {
		toks = toks[:len(toks)-1]
	}
	return toks
}

// matchParen returns the index of the ")" matching the "(" at toks[open], or -1.
func matchParen(toks []sqlToken, open int) int {
	depth := 0
	for i := open; i < len(toks); i++ {
		if toks[i].kind != tkPunct {
			continue
		}
		switch toks[i].text {
		case "(":
			depth++
		case ")":
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// nextMeaningful returns the index of the first non-space token at or after i, or len(toks).
func nextMeaningful(toks []sqlToken, i int) int {
	for i < len(toks) && toks[i].kind == tkSpace {
		i++
	}
	return i
}

// lastMeaningful returns the last non-space token of out, or a zero token.
func lastMeaningful(out []sqlToken) sqlToken {
	for i := len(out) - 1; i >= 0; i-- {
		if out[i].kind != tkSpace {
			return out[i]
		}
	}
	return sqlToken{}
}

// splitArgs splits the tokens of a parenthesized argument list at top-level commas.
func splitArgs(toks []sqlToken) [][]sqlToken {
	var args [][]sqlToken
	depth, start := 0, 0
	for i, t := range toks {
		if t.kind != tkPunct {
			continue
		}
		switch t.text {
		case "(":
			depth++
		case ")":
			depth--
		case ",":
			if depth == 0 {
				args = append(args, trimSpace(toks[start:i]))
				start = i + 1
			}
		}
	}
	return append(args, trimSpace(toks[start:]))
}

var tableHints = map[string]bool{
	"nolock": true, "readuncommitted": true, "readcommitted": true, "readpast": true,
	"rowlock": true, "paglock": true, "tablock": true, "updlock": true, "holdlock": true,
	"serializable": true, "repeatableread": true, "nowait": true, "forceseek": true,
}

// isHintList reports whether toks (the inside of a parenthesis) are only table hints.
func isHintList(toks []sqlToken) bool {
	seen := false
	for _, t := range toks {
		switch {
		case t.kind == tkSpace || t.kind == tkPunct && t.text == ",":
		case t.kind == tkWord && tableHints[strings.ToLower(t.text)]:
			seen = true
		default:
			return false
		}
	}
	return seen
}

// rewriter turns T-SQL tokens into SQLite tokens.
type rewriter struct {
	now time.Time // server clock for GETDATE()
	// isTextColumn reports whether a column name is a character column in every table that
	// has it (for '+' as string concatenation); nil knows no columns.
	isTextColumn func(name string) bool
	// database is the current database's name, for DB_NAME() (its id is DB_ID()).
	database string
}

// isTextOperand reports whether t is a string literal or a known character column.
func (rw *rewriter) isTextOperand(t sqlToken) bool {
	switch t.kind {
	case tkString:
		return true
	case tkWord, tkQuoted:
		return rw.isTextColumn != nil && rw.isTextColumn(t.text)
	}
	return false
}

func (rw *rewriter) literal(s string) sqlToken {
	return sqlToken{tkString, "'" + strings.ReplaceAll(s, "'", "''") + "'"}
}

func words(s string) []sqlToken {
	toks, _ := tokenize(s)
	return toks
}

// rewrite rewrites one parenthesis level (a statement or the inside of a parenthesis).
func (rw *rewriter) rewrite(toks []sqlToken) ([]sqlToken, error) {
	var out []sqlToken
	var limit []sqlToken
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := nextMeaningful(toks, i+1)
		callOpen := next < len(toks) && toks[next].kind == tkPunct && toks[next].text == "("
		switch {
		case t.kind == tkPunct && t.text == "(":
			end := matchParen(toks, i)
			if end < 0 {
				return nil, fmt.Errorf("unbalanced parenthesis")
			}
			inner := toks[i+1 : end]
			prev := lastMeaningful(out)
			if isHintList(inner) && (prev.kind == tkWord || prev.kind == tkQuoted) {
				// legacy hint form: FROM t (NOLOCK)
				i = end
				continue
			}
			sub, err := rw.rewrite(inner)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
			out = append(out, sub...)
			out = append(out, toks[end])
			i = end

		case (t.kind == tkWord || t.kind == tkQuoted) && strings.EqualFold(t.text, "dbo") &&
			next < len(toks) && toks[next].kind == tkPunct && toks[next].text == ".":
			i = next // drop "dbo."

		case t.is("sys") && next < len(toks) && toks[next].kind == tkPunct && toks[next].text == "." &&
			next+1 < len(toks) && toks[next+1].is("databases"):
			out = append(out, sqlToken{tkWord, sysDatabases})
			i = next + 1

		case (t.is("DB_ID") || t.is("DB_NAME")) && callOpen:
			end := matchParen(toks, next)
			if end < 0 {
				return nil, fmt.Errorf("unbalanced parenthesis")
			}
			if nextMeaningful(toks, next+1) != end {
				return nil, fmt.Errorf("%s with an argument is not supported", t.text)
			}
			if t.is("DB_ID") {
				out = append(out, sqlToken{tkNumber, fmt.Sprint(userDatabaseID)})
			} else {
				out = append(out, rw.literal(rw.database))
			}
			i = end

		case t.is("WITH") && callOpen:
			end := matchParen(toks, next)
			if end > 0 && isHintList(toks[next+1:end]) {
				i = end
				continue
			}
			out = append(out, t)

		case t.is("TOP"):
			prev := lastMeaningful(out)
			if !(prev.is("SELECT") || prev.is("DISTINCT") || prev.is("ALL")) {
				return nil, fmt.Errorf("unsupported TOP")
			}
			if next >= len(toks) {
				return nil, fmt.Errorf("TOP without a count")
			}
			if toks[next].kind == tkPunct && toks[next].text == "(" {
				end := matchParen(toks, next)
				if end < 0 {
					return nil, fmt.Errorf("unbalanced parenthesis")
				}
				sub, err := rw.rewrite(toks[next+1 : end])
				if err != nil {
					return nil, err
				}
				limit = sub
				i = end
			} else {
				limit = []sqlToken{toks[next]}
				i = next
			}
			if n := nextMeaningful(toks, i+1); n < len(toks) && (toks[n].is("PERCENT") || toks[n].is("WITH")) {
				return nil, fmt.Errorf("TOP ... %s is not supported", toks[n].text)
			}

		case t.is("GETDATE") || t.is("SYSDATETIME") || t.is("GETUTCDATE") || t.is("SYSUTCDATETIME"):
			if !callOpen {
				out = append(out, t)
				continue
			}
			end := matchParen(toks, next)
			now := rw.now
			if strings.Contains(strings.ToUpper(t.text), "UTC") {
				now = now.UTC()
			}
			if strings.HasPrefix(strings.ToUpper(t.text), "SYS") {
				// datetime2(7), to 100 ns, where GETDATE() and GETUTCDATE() are datetime
				out = append(out, rw.literal(formatDateTime2(now)))
			} else {
				out = append(out, rw.literal(formatDateTime(now)))
			}
			i = end

		case t.is("CURRENT_TIMESTAMP"):
			out = append(out, rw.literal(formatDateTime(rw.now)))

		case t.is("LOWER") && callOpen:
			out = append(out, sqlToken{tkWord, funcLower})

		case t.is("UPPER") && callOpen:
			out = append(out, sqlToken{tkWord, funcUpper})

		case t.is("ISNULL") && callOpen:
			out = append(out, sqlToken{tkWord, "IFNULL"})

		case t.is("LEN") && callOpen:
			// LEN ignores trailing spaces
			end := matchParen(toks, next)
			if end < 0 {
				return nil, fmt.Errorf("unbalanced parenthesis")
			}
			arg, err := rw.rewrite(toks[next+1 : end])
			if err != nil {
				return nil, err
			}
			out = append(out, words("LENGTH(RTRIM(")...)
			out = append(out, arg...)
			out = append(out, words("))")...)
			i = end

		case t.is("NEWID") && callOpen:
			end := matchParen(toks, next)
			out = append(out, words("(upper(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(2)) || '-' || hex(randomblob(6))))")...)
			i = end

		case (t.is("CAST") || t.is("CONVERT") || t.is("TRY_CAST") || t.is("TRY_CONVERT") || t.is("DATEADD")) && callOpen:
			end := matchParen(toks, next)
			if end < 0 {
				return nil, fmt.Errorf("unbalanced parenthesis")
			}
			var repl []sqlToken
			var err error
			if t.is("DATEADD") {
				repl, err = rw.dateAdd(toks[next+1 : end])
			} else {
				repl, err = rw.cast(t, toks[next+1:end])
			}
			if err != nil {
				return nil, err
			}
			out = append(out, repl...)
			i = end

		case t.kind == tkPunct && t.text == "+":
			// T-SQL's + concatenates strings; SQLite's would add them as numbers (to 0)
			if next < len(toks) && (rw.isTextOperand(lastMeaningful(out)) || rw.isTextOperand(toks[next])) {
				out = append(out, sqlToken{tkPunct, "||"})
			} else {
				out = append(out, t)
			}

		case t.is("COLLATE"):
			if next < len(toks) {
				coll := collationCI
				if strings.Contains(strings.ToUpper(toks[next].text), "_CS") || strings.Contains(strings.ToUpper(toks[next].text), "_BIN") {
					coll = "BINARY"
				}
				out = append(out, t, sqlToken{tkSpace, " "}, sqlToken{tkWord, coll})
				i = next
			}

		default:
			out = append(out, t)
		}
	}
	if limit != nil {
		out = append(trimSpace(out), sqlToken{tkSpace, " "}, sqlToken{tkWord, "LIMIT"}, sqlToken{tkSpace, " "})
		out = append(out, limit...)
	}
	return out, nil
}

// cast rewrites CAST(x AS type) / CONVERT(type, x[, style]) by the target type.
func (rw *rewriter) cast(fn sqlToken, args []sqlToken) ([]sqlToken, error) {
	var expr, typ []sqlToken
	if fn.is("CAST") || fn.is("TRY_CAST") {
		depth := 0
		for i, t := range args {
			if t.kind == tkPunct && t.text == "(" {
				depth++
			} else if t.kind == tkPunct && t.text == ")" {
				depth--
			} else if depth == 0 && t.is("AS") {
				expr, typ = args[:i], args[i+1:]
				break
			}
		}
	} else {
		parts := splitArgs(args)
		if len(parts) >= 2 {
			typ, expr = parts[0], parts[1]
		}
	}
	if expr == nil || typ == nil {
		return nil, fmt.Errorf("malformed %s", fn.text)
	}
	var typeText strings.Builder
	for _, t := range typ {
		typeText.WriteString(t.text)
	}
	st, err := parseType(typeText.String())
	if err != nil {
		return nil, err
	}
	e, err := rw.rewrite(trimSpace(expr))
	if err != nil {
		return nil, err
	}
	wrap := func(pre, post string) []sqlToken {
		out := words(pre)
		out = append(out, e...)
		return append(out, words(post)...)
	}
	switch {
	case st.kind == kindGUID:
		return wrap("UPPER(CAST(", " AS TEXT))"), nil
	case st.kind == kindVarChar || st.kind == kindChar:
		return wrap(funcVarChar+"(CAST(", " AS TEXT))"), nil // the code page's characters only
	case st.isText():
		return wrap("CAST(", " AS TEXT)"), nil
	case st.kind == kindBit:
		out := words("(CASE WHEN (")
		out = append(out, e...)
		out = append(out, words(") IS NULL THEN NULL WHEN (")...)
		out = append(out, e...)
		return append(out, words(") <> 0 THEN 1 ELSE 0 END)")...), nil
	case st.kind >= kindTinyInt && st.kind <= kindBigInt:
		return wrap("CAST(", " AS INTEGER)"), nil
	case st.kind == kindFloat || st.kind == kindReal || st.kind == kindDecimal:
		return wrap("CAST(", " AS REAL)"), nil
	case st.isDateTime():
		return wrap("strftime('%Y-%m-%d %H:%M:%f', ", ")"), nil
	}
	return wrap("(", ")"), nil
}

// dateAdd rewrites DATEADD(unit, n, date).
func (rw *rewriter) dateAdd(args []sqlToken) ([]sqlToken, error) {
	parts := splitArgs(args)
	if len(parts) != 3 || len(parts[0]) != 1 {
		return nil, fmt.Errorf("malformed DATEADD")
	}
	unit := map[string]string{
		"year": "years", "yy": "years", "yyyy": "years", "month": "months", "mm": "months", "m": "months",
		"day": "days", "dd": "days", "d": "days", "hour": "hours", "hh": "hours",
		"minute": "minutes", "mi": "minutes", "n": "minutes", "second": "seconds", "ss": "seconds", "s": "seconds",
	}[strings.ToLower(parts[0][0].text)]
	if unit == "" {
		return nil, fmt.Errorf("DATEADD unit %q is not supported", parts[0][0].text)
	}
	n, err := rw.rewrite(parts[1])
	if err != nil {
		return nil, err
	}
	d, err := rw.rewrite(parts[2])
	if err != nil {
		return nil, err
	}
	out := words("strftime('%Y-%m-%d %H:%M:%f', ")
	out = append(out, d...)
	out = append(out, words(", (")...)
	out = append(out, n...)
	return append(out, words(") || ' "+unit+"')")...), nil
}

// render joins tokens into SQL text, collapsing the runs of spaces that dropped tokens leave.
func render(toks []sqlToken) string {
	var sb strings.Builder
	space := false
	for _, t := range trimSpace(toks) {
		if t.kind == tkSpace {
			space = true
			continue
		}
		if space && !(t.kind == tkPunct && (t.text == ")" || t.text == ",")) {
			sb.WriteByte(' ')
		}
		space = false
		sb.WriteString(t.render())
	}
	return sb.String()
}
