package sso

import (
	"context"
	"net/http"
)

// By default the authorization endpoint answers a request op accepts with op's redirect to
// Config.LoginURL, whose page binds the new request to the browser that opens it first
// (BindAuthRequest). A caller that knows the browser already (the bridge, from its cookie) can
// instead have the request stored bound to that browser and give the answer itself, on the
// same response (the login form served at /authorize): no redirect hop, and no binding write
// after the one that creates the request.

// AuthorizeAnswer is a request to the authorization endpoint whose answer its caller gives
// (WithAuthorizeAnswer).
type AuthorizeAnswer struct {
	browser string
	created *AuthRequest
}

type authorizeAnswerKey struct{}

// WithAuthorizeAnswer returns ctx for a request to the authorization endpoint (PathAuthorize)
// whose answer the caller gives: an auth request op accepts is stored bound to browser
// (AuthRequest.Browser: only that browser can complete it) and op writes nothing for it;
// a.Request() returns it once the provider's ServeHTTP has returned, and the caller answers
// the browser. When op refuses the request (an error page, an error redirect to the client)
// it answers as it does without, and a.Request() is nil.
func WithAuthorizeAnswer(ctx context.Context, browser string) (context.Context, *AuthorizeAnswer) {
	a := &AuthorizeAnswer{browser: browser}
	return context.WithValue(ctx, authorizeAnswerKey{}, a), a
}

// Request is the auth request stored for the caller to answer (nil: op answered itself).
func (a *AuthorizeAnswer) Request() *AuthRequest { return a.created }

func authorizeAnswerFrom(ctx context.Context) *AuthorizeAnswer {
	a, _ := ctx.Value(authorizeAnswerKey{}).(*AuthorizeAnswer)
	return a
}

// answerWriter passes op's answer through until an auth request is stored for the caller to
// answer (op writes nothing before that); from then on it holds back what op writes (its
// redirect to the login page), headers included.
type answerWriter struct {
	http.ResponseWriter
	a    *AuthorizeAnswer
	held http.Header
}

func (w *answerWriter) Header() http.Header {
	if w.a.created == nil {
		return w.ResponseWriter.Header()
	}
	if w.held == nil {
		w.held = http.Header{}
	}
	return w.held
}

func (w *answerWriter) WriteHeader(status int) {
	if w.a.created == nil {
		w.ResponseWriter.WriteHeader(status)
	}
}

func (w *answerWriter) Write(b []byte) (int, error) {
	if w.a.created == nil {
		return w.ResponseWriter.Write(b)
	}
	return len(b), nil
}
