#!/bin/sh
# Turns the lines of one run (peers/run.sh, ../run.sh and `loadtest -sign`, in any order, from
# files or stdin) into one Markdown table: a row per scenario, a column per target (ssobridge,
# dex, oidc-provider ... in the order they first appear). With ssobridge and at least one peer in
# the run, a last column gives ssobridge's figure over the best peer's (rates: ssobridge / the
# highest peer; sizes: the smallest peer / ssobridge; above 1 means ssobridge does better), and
# with the raw signing lines in the run, the RS256 rows give ssobridge's rate over the mean raw
# RS256 rate: the two readings of issue 14's targets that do not move with the host's speed.
#
#   { taskset -c 1 /tmp/loadtest -sign; SSOBRIDGE=/tmp/ssobridge scripts/loadtest/peers/run.sh; } | tee run.txt
#   scripts/loadtest/peers/table.sh run.txt
exec awk '
/signatures\/s \(one core\):/ { sign = sign sprintf("%s %s/s; ", $1, $NF); if ($1 == "RS256") { rsum += $NF; rn++ }; next }
/^[a-z][a-z0-9-]* [a-zA-Z]/ {
	label = $1
	rest = substr($0, length(label) + 2)
	i = index(rest, ": ")
	if (i == 0) next
	key = substr(rest, 1, i - 1); val = substr(rest, i + 2)
	if (key ~ /^refresh (ES|RS)256 c=/) {
		split(val, f, " ")
		v = f[1] " (p50 " f[3] ", p99 " f[5] ")"
		if (val ~ /failed/) v = v " with failures"
		if (match(val, /timeout [0-9]+/) && substr(val, RSTART + 8) + 0 > 0) v = v " " (substr(val, RSTART + 8) + 0) " timeouts"
	} else if (key ~ /^refresh (ES|RS)256$/) {
		key = key " c=16"; v = "not supported"
		if (!((label, "refresh " substr(key, 9, 5) " c=64") in cell)) add(label, "refresh " substr(key, 9, 5) " c=64", v)
	} else if (key == "refreshes") {
		match(val, /= [0-9.]+\/s, p50 [^,]+, p99 [^,]+/)
		v = substr(val, RSTART + 2, RLENGTH - 2)
		match(val, /\([0-9]+ failed\)/); if (substr(val, RSTART + 1, 1) != "0") v = v " " substr(val, RSTART, RLENGTH)
		key = "refreshes of 100 families (Go tool)"
	} else if (key ~ /^login /) {
		key = "full login " toupper(substr(key, 7)) "256 c=8"
		match(val, /= [0-9.]+\/s/); v = substr(val, RSTART + 2, RLENGTH - 2)
		match(val, /\([0-9]+ failed\)/); if (substr(val, RSTART + 1, 1) != "0") v = v " " substr(val, RSTART, RLENGTH)
	} else if (key == "database after") {
		split(val, f, " "); v = (f[2] == "bytes") ? sprintf("%.2f MB", f[1] / 1e6) : "in memory"
	} else if (key ~ /^peak RSS/) {
		split(val, f, " "); v = sprintf("%.1f MB", f[1] / 1000)
	} else if (key == "discovery" || key == "jwks") {
		v = sprintf("%.0f/s", val)
	} else next
	add(label, key, v)
}
function add(l, k, v) {
	if (!(l in seen)) { seen[l] = 1; labels[++nl] = l }
	if (!(k in seenk)) { seenk[k] = 1; extra[++nx] = k }
	cell[l, k] = v
	if (v ~ /^[0-9.]+(\/s| MB)/) num[l, k] = v + 0
}
# versus is ssobridge against the best peer on scenario k (sizes: lower is better), and for an
# RS256 rate its share of the raw RS256 rate.
function versus(k,   j, l, best, have, r, out) {
	if (!(("ssobridge", k) in num)) return "-"
	small = (k ~ /^(peak RSS|database)/)
	for (j = 1; j <= nl; j++) {
		l = labels[j]
		if (l == "ssobridge" || !((l, k) in num)) continue
		if (!have || (small ? num[l, k] < best : num[l, k] > best)) best = num[l, k]
		have = 1
	}
	out = "-"
	if (have && best > 0 && num["ssobridge", k] > 0) {
		r = small ? best / num["ssobridge", k] : num["ssobridge", k] / best
		out = sprintf("%.2fx", r)
	}
	if (k ~ /RS256/ && rn > 0) out = out sprintf("; %.2f of raw RS256", num["ssobridge", k] / (rsum / rn))
	return out
}
END {
	n = split("refresh ES256 c=16|refresh ES256 c=64|refresh RS256 c=16|refresh RS256 c=64|refreshes of 100 families (Go tool)|database after|peak RSS|full login ES256 c=8|full login RS256 c=8|discovery|jwks|peak RSS after logins", order, "|")
	for (i = 1; i <= n; i++) if (order[i] in seenk) { keys[++nk] = order[i]; listed[order[i]] = 1 }
	for (i = 1; i <= nx; i++) if (!(extra[i] in listed)) keys[++nk] = extra[i]
	if (sign != "") print "Raw signing, one core: " sign "\n"
	ratio = ("ssobridge" in seen) && nl > 1
	printf "| scenario |"; for (j = 1; j <= nl; j++) printf " %s |", labels[j]
	if (ratio) printf " ssobridge vs best peer |"
	print ""
	printf "|---|"; for (j = 1; j <= nl; j++) printf "---|"
	if (ratio) printf "---|"
	print ""
	for (i = 1; i <= nk; i++) {
		k = keys[i]
		printf "| %s |", k
		for (j = 1; j <= nl; j++) printf " %s |", ((labels[j], k) in cell) ? cell[labels[j], k] : "-"
		if (ratio) printf " %s |", versus(k)
		print ""
	}
}' "$@"
