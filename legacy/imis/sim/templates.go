package sim

// The pages: plain server-rendered HTML, no external assets, readable on a phone. Styles
// and the one script carry the per-response CSP nonce.

const layoutHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}} – {{.Site}}</title>
<style nonce="{{.Nonce}}">
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2733;background:#f2f4f7}
header{background:#1f4e79;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between}
header a{color:#fff}
.site{font-weight:600;font-size:1.1rem;text-decoration:none}
.badge{font-size:.75rem;background:#f0b429;color:#1d2733;border-radius:3px;padding:0 .35rem;margin-left:.4rem;vertical-align:middle}
main{max-width:34rem;margin:1.5rem auto;padding:0 1rem}
.card{background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.12);padding:1.25rem}
h1{font-size:1.4rem;margin:0 0 1rem}
label{display:block;font-weight:600;margin:.75rem 0 .25rem}
input[type=text],input[type=password]{width:100%;padding:.6rem;font-size:1rem;border:1px solid #9aa5b1;border-radius:4px}
button,.button{display:inline-block;margin-top:1rem;padding:.6rem 1.2rem;font-size:1rem;border:0;border-radius:4px;background:#1f4e79;color:#fff;text-decoration:none;cursor:pointer}
.error{background:#fde8e8;border-left:4px solid #c81e1e;padding:.5rem .75rem;margin-bottom:1rem}
.message{background:#e3f8e8;border-left:4px solid #2f8132;padding:.5rem .75rem;margin-bottom:1rem}
ul.apps{padding-left:1.2rem}
small{color:#52606d}
</style>
</head>
<body>
<header>
<a class="site" href="{{.HomeURL}}">{{.Site}}<span class="badge">AMS simulator</span></a>
<nav>{{if .SignedIn}}{{.FullName}} · <a href="{{.LogoutURL}}">Sign out</a>{{else}}<a href="{{.LoginURL}}">Sign in</a>{{end}}</nav>
</header>
<main>
<div class="card">
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
{{if .Message}}<p class="message" role="status">{{.Message}}</p>{{end}}
{{template "content" .}}
</div>
<p><small>This is a simulated iMIS website for trying out ssobridge. It is not a real association-management system.</small></p>
</main>
</body>
</html>
`

const loginHTML = `{{define "content"}}
{{if .SignedIn}}<p>You are signed in as <strong>{{.Login}}</strong>. Signing in again replaces that session.</p>{{end}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="__RequestVerificationToken" value="{{.CSRF}}">
{{if .ReturnURL}}<input type="hidden" name="ReturnUrl" value="{{.ReturnURL}}">{{end}}
<label for="username">User name</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username" autocapitalize="none" spellcheck="false" required {{if not .Username}}autofocus{{end}}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required {{if .Username}}autofocus{{end}}>
<button type="submit">Sign In</button>
</form>
{{if .Hint}}<p><small>{{.Hint}}</small></p>{{end}}
{{end}}`

const homeHTML = `{{define "content"}}
{{if .SignedIn}}
<p>Welcome, <strong>{{.FullName}}</strong>. You are signed in as <strong>{{.Login}}</strong>.</p>
<p>Member applications (Single Sign-On):</p>
<ul class="apps">
{{range .Clients}}<li><a href="{{.URL}}">{{.Name}}</a></li>
{{end}}</ul>
<p><a class="button" href="{{.LogoutURL}}">Sign out</a></p>
{{else}}
<p>You are not signed in.</p>
<p><a class="button" href="{{.LoginURL}}">Sign in</a></p>
{{end}}
{{end}}`

const ssoHTML = `{{define "content"}}
<p>Signing you in to <strong>{{.ClientName}}</strong>…</p>
<form id="sso" method="post" action="{{.PostURL}}">
<input type="hidden" name="refresh_token" value="{{.RefreshToken}}">
<noscript><button type="submit">Continue to {{.ClientName}}</button></noscript>
</form>
<script nonce="{{.Nonce}}">document.getElementById("sso").submit();</script>
{{end}}`

const messageHTML = `{{define "content"}}
<p><a href="{{.HomeURL}}">Home</a>{{if not .SignedIn}} · <a href="{{.LoginURL}}">Sign in</a>{{end}}</p>
{{end}}`
