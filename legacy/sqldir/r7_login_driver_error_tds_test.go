package sqldir_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/directorytest"
	"github.com/ssobridge/ssobridge/legacy/internal/tdsfake"
	"github.com/ssobridge/ssobridge/legacy/sqldir"
)

// TestR7LoginQueryServerErrorQuotesNoLogin (review s28 R7-4): SQL Server quotes a parameter's
// value in some errors of the statement, e.g. error 245 when a member_by_login of a `type:
// sql` directory compares the login parameter with an int column (members signing in with a
// member number) and a person types a name: "Conversion failed when converting the nvarchar
// value 'bob.typed' to data type int." sqldir keeps the driver's text in the error
// (legacy.Unavailable), and the bridge logs an Authenticate error that is the AMS unavailable
// ("membership system unavailable", err): the typed login of a failed sign-in in the log.
// The text must not carry the login; the error stays ErrUnavailable with the driver's error
// inside (errors.As).
func TestR7LoginQueryServerErrorQuotesNoLogin(t *testing.T) {
	var d *sqldir.Directory
	tdsDemoTargetWith(t, tdsfake.Config{}, nil,
		func(dir *sqldir.Directory) *directorytest.Target { d = dir; return &directorytest.Target{Dir: dir} })
	lastFake.SetHook(func(req *tdsfake.Request) *tdsfake.Action {
		if !strings.Contains(req.SQL, "aspnet_Users") || len(req.Params) == 0 {
			return nil
		}
		v, ok := req.Params[0].Value.(string)
		if !ok {
			return nil
		}
		return &tdsfake.Action{Error: &tdsfake.ServerError{Number: 245,
			Message: fmt.Sprintf("Conversion failed when converting the nvarchar value '%s' to data type int.", v)}}
	})
	ctx := context.Background()
	const typed = "Bob.Typed-Login"
	for name, call := range map[string]func() error{
		"Authenticate":  func() error { _, err := d.Authenticate(ctx, typed, "some password"); return err },
		"MemberByLogin": func() error { _, err := d.MemberByLogin(ctx, typed); return err },
	} {
		err := call()
		if !errors.Is(err, legacy.ErrUnavailable) {
			t.Fatalf("%s: %v; want ErrUnavailable", name, err)
		}
		if !strings.Contains(err.Error(), "245") && !strings.Contains(err.Error(), "Conversion failed") {
			t.Errorf("%s: %v; want the server's error named", name, err)
		}
		if strings.Contains(strings.ToLower(err.Error()), strings.ToLower(typed)) {
			t.Errorf("%s's error quotes the typed login: %v", name, err)
		}
	}
}
