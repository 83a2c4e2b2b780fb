package token

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestConfigValidate(t *testing.T) {
	neg, six := -1, 6
	ok := func() Config {
		return Config{BaseURL: "https://members.example.org", ClientID: "ssobridge", ClientSecret: "x"}
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings of the error; none = valid
	}{
		{name: "minimal", mutate: func(*Config) {}},
		{name: "http localhost", mutate: func(c *Config) { c.BaseURL = "http://localhost:8080/demo-ams" }},
		{name: "missing base_url", mutate: func(c *Config) { c.BaseURL = "" }, want: []string{"ams.base_url: required"}},
		{name: "relative base_url", mutate: func(c *Config) { c.BaseURL = "members.example.org" }, want: []string{"ams.base_url: must be an absolute http(s) URL"}},
		{name: "ftp base_url", mutate: func(c *Config) { c.BaseURL = "ftp://members.example.org" }, want: []string{"ams.base_url: must be an absolute http(s) URL"}},
		{name: "credentials in base_url", mutate: func(c *Config) { c.BaseURL = "https://u:p@members.example.org" }, want: []string{"ams.base_url: must not contain credentials"}},
		{name: "bad token_url", mutate: func(c *Config) { c.TokenURL = "/token" }, want: []string{"ams.token_url: must be an absolute http(s) URL"}},
		{name: "fragment", mutate: func(c *Config) { c.TokenURL = "https://x/token#a" }, want: []string{"ams.token_url: must not contain a #fragment"}},
		{name: "no client", mutate: func(c *Config) { c.ClientID, c.ClientSecret = " ", "" }, want: []string{"ams.client_id: required", "ams.client_secret: required"}},
		{name: "negative timeout", mutate: func(c *Config) { c.Timeout = -time.Second }, want: []string{"ams.timeout"}},
		{name: "encoding", mutate: func(c *Config) { c.BodyEncoding = "xml" }, want: []string{`ams.body_encoding: must be "form" or "json", not "xml"`}},
		{name: "json encoding upper case", mutate: func(c *Config) { c.BodyEncoding = "JSON" }},
		{name: "negative retries", mutate: func(c *Config) { c.Retries = &neg }, want: []string{"ams.retries"}},
		{name: "too many retries", mutate: func(c *Config) { c.Retries = &six }, want: []string{"ams.retries"}},
		{name: "field with spaces", mutate: func(c *Config) { c.Fields.UserName = " user" }, want: []string{"ams.fields.user_name"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok()
			tt.mutate(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{BaseURL: "https://members.example.org/"}.WithDefaults()
	if c.TokenURL != "https://members.example.org/token" || c.Timeout != DefaultTimeout || c.BodyEncoding != EncodingForm ||
		*c.Retries != DefaultRetries || c.Fields != DefaultFields {
		t.Errorf("defaults: %+v", c)
	}
}

func TestConfigYAML(t *testing.T) {
	var doc struct {
		AMS Config `yaml:"ams"`
	}
	src := `
ams:
  base_url: https://members.example.org
  client_id: ssobridge
  client_secret: abc
  timeout: 5s
  body_encoding: json
  insecure_skip_verify: true
  ca_file: /etc/ssobridge/ca.pem
  retries: 0
  fields:
    user_name: UserName
`
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	c := doc.AMS
	if c.BaseURL != "https://members.example.org" || c.ClientID != "ssobridge" || c.ClientSecret != "abc" ||
		c.Timeout != 5*time.Second || c.BodyEncoding != "json" || !c.InsecureSkipVerify || c.CAFile == "" ||
		c.Retries == nil || *c.Retries != 0 || c.Fields.UserName != "UserName" {
		t.Errorf("decoded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	if c.WithDefaults().Fields.AccessToken != "access_token" {
		t.Error("field defaults")
	}
}
