package console

import (
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/bridge/admin"
)

// TestClientsListNamesUnusable (closing s19, noticed by M): the console's client list names a
// client the bridge does not serve (admin.ClientInfo.Unusable: an id of a member's subject's
// shape, stored before such ids were refused) with the reason, and no other.
func TestClientsListNamesUnusable(t *testing.T) {
	f := newFixture(t)
	const hexID = "0123456789abcdef0123456789abcdef01234567"
	why := "this client's id has the shape of a member's subject"
	var buf strings.Builder
	err := f.c.tmpl["clients"].ExecuteTemplate(&buf, "clients.html", struct {
		base
		Clients []admin.ClientInfo
	}{f.c.base(nil, "Clients", "clients"), []admin.ClientInfo{
		{Client: admin.Client{ID: "web"}, Source: "store"},
		{Client: admin.Client{ID: hexID}, Source: "store", Unusable: why},
	}})
	if err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	row := func(id string) string {
		i := strings.Index(page, `href="/console/clients/`+id+`"`)
		if i < 0 {
			t.Fatalf("no row for %s: %.800s", id, page)
		}
		end := strings.Index(page[i:], "</tr>")
		return page[i : i+end]
	}
	if r := row(hexID); !strings.Contains(r, "Not served: "+strings.ReplaceAll(why, "'", "&#39;")) {
		t.Fatalf("the unusable client's row does not say so: %s", r)
	}
	if r := row("web"); strings.Contains(r, "Not served") {
		t.Fatalf("a served client's row says it is not: %s", r)
	}
}
