package main

import (
	"net/url"
	"testing"
)

func TestFillForm(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:5556/auth/local/login?back=&state=abc")
	tests := []struct {
		name, page, action string
		want               url.Values
		isLogin            bool
	}{{
		name: "dex password page",
		page: `<div><form method="post" action="/auth/local/login?back=&amp;state=abc">
			<input tabindex="1" required id="login" name="login" type="text" class="theme-form-input" placeholder="email address" autofocus/>
			<input tabindex="2" required id="password" name="password" type="password" class="theme-form-input" placeholder="password"/>
			<button tabindex="3" id="submit-login" type="submit" class="dex-btn theme-btn--primary">Login</button></form></div>`,
		action:  "http://127.0.0.1:5556/auth/local/login?back=&state=abc",
		want:    url.Values{"login": {"alice0@example.com"}, "password": {"pw"}},
		isLogin: true,
	}, {
		name: "dex approval page: the first form approves",
		page: `<form method="post">
			<input type="hidden" name="req" value="r1"/><input type="hidden" name="approval" value="approve">
			<button type="submit">Grant Access</button></form>
			<form method="post"><input type="hidden" name="req" value="r1"/><input type="hidden" name="approval" value="rejected"></form>`,
		action: base.String(),
		want:   url.Values{"req": {"r1"}, "approval": {"approve"}},
	}, {
		name:    "a GET form is skipped; single quotes and entities",
		page:    `<form method="get" action="/x"><input name="q"></form><FORM METHOD='POST' ACTION='/interaction/u1/login'><input name='login'><input type='password' name='password'><input type=hidden name='csrf' value='a&#43;b'></FORM>`,
		action:  "http://127.0.0.1:5556/interaction/u1/login",
		want:    url.Values{"login": {"alice0@example.com"}, "password": {"pw"}, "csrf": {"a+b"}},
		isLogin: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			action, form, isLogin, err := fillForm(tt.page, base, "alice0@example.com", "pw")
			if err != nil {
				t.Fatal(err)
			}
			if action != tt.action {
				t.Errorf("action %q, want %q", action, tt.action)
			}
			if isLogin != tt.isLogin {
				t.Errorf("isLogin %v, want %v", isLogin, tt.isLogin)
			}
			if form.Encode() != tt.want.Encode() {
				t.Errorf("form %q, want %q", form.Encode(), tt.want.Encode())
			}
		})
	}
	if _, _, _, err := fillForm(`<p>Wrong login or password.</p>`, base, "a", "b"); err == nil {
		t.Error("a page without a POST form: no error")
	}
}

func TestLoginFor(t *testing.T) {
	p := &peer{}
	if got := p.loginFor("alice%d@example.com", 7); got != "alice7@example.com" {
		t.Errorf("got %q", got)
	}
	if got := p.loginFor("alice", 7); got != "alice" {
		t.Errorf("got %q", got)
	}
}
