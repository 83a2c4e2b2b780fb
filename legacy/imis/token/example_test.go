package token_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/ssobridge/ssobridge/legacy"
	"github.com/ssobridge/ssobridge/legacy/imis/sim"
	"github.com/ssobridge/ssobridge/legacy/imis/token"
)

type oneMember struct{}

func (oneMember) Authenticate(_ context.Context, login, password string) (*legacy.Member, error) {
	if login == "jsmith" && password == "secret" {
		return &legacy.Member{Login: "JSmith"}, nil
	}
	return nil, legacy.ErrBadCredentials
}

// The bridge's hand-off endpoint receives refresh_token from the SSO iPart and exchanges it.
// Here the AMS is the simulator, mounted under /demo-ams.
func ExampleClient_RefreshGrant() {
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	sim := sim.New(sim.Config{
		BasePath:      "/demo-ams",
		Authenticator: oneMember{},
		Clients: []sim.ClientApp{{
			ClientID: "ssobridge", ClientSecret: "s3cret", LoginRedirectURL: srv.URL + "/handoff/imis",
		}},
	})
	mux.Handle("/demo-ams/", sim)

	client, err := token.New(token.Config{
		BaseURL:      srv.URL + "/demo-ams",
		ClientID:     "ssobridge",
		ClientSecret: "s3cret",
	})
	if err != nil {
		panic(err)
	}
	refreshToken, _ := sim.IssueRefreshToken("JSmith", "ssobridge") // what the iPart would POST

	tok, err := client.RefreshGrant(context.Background(), refreshToken)
	fmt.Println(tok.UserName, err)
	_, err = client.RefreshGrant(context.Background(), refreshToken)
	fmt.Println("used twice:", errors.Is(err, token.ErrInvalidGrant))
	// Output:
	// JSmith <nil>
	// used twice: true
}
