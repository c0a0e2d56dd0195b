package execapi

import (
	"strings"
	"testing"
)

func TestBind(t *testing.T) {
	good := []string{
		`{"cmd":["ls","-l"]}`,
		`{"cmd":["sh"],"tty":true}`,
		` {"tty":false,"cmd":["ps"]} `,
		`{"cmd":["ls",""]}`,
		`{"cmd":["` + strings.Repeat("é", MaxArgLen) + `"]}`, // characters, not bytes
		`{"cmd":[` + strings.Repeat(`"a",`, MaxArgs-1) + `"a"]}`,
	}
	for _, b := range good {
		if _, err := Bind([]byte(b)); err != nil {
			t.Errorf("%s: %v", b, err)
		}
	}
	bad := []string{
		`{"cmd":["ls"],"container":"other"}`, // the seed's bug: scope from the body
		`{"CMD":["ls"]}`,                     // case-insensitive match
		`{"cmd":["ls"],"cmd":["rm","-rf","/"]}`,
		`{"cmd":["ls"]} {"cmd":["rm"]}`,
		`{"cmd":["ls"]}x`,
		`{"cmd":"ls"}`,
		`{"cmd":[]}`,
		`{"cmd":[1]}`,
		`["ls"]`,
		``,
		`{"cmd":["ls"],"tty":"yes"}`,
		`{"cmd":[` + strings.Repeat(`"a",`, MaxArgs) + `"a"]}`,
		`{"cmd":[""]}`,                   // no command
		`{"cmd":["ls"],"tty":null}`,      // would be false
		`{"cmd":null}`,                   // would be no field
		`{"cmd":["ls",null]}`,            // would be ""
		"{\"cmd\":[\"\xff\"]}",           // not UTF-8 (would be U+FFFD)
		"\xef\xbb\xbf{\"cmd\":[\"ls\"]}", // a byte order mark
		`{"cmd":["` + strings.Repeat("a", MaxArgLen+1) + `"]}`,
	}
	for _, b := range bad {
		if _, err := Bind([]byte(b)); err == nil {
			t.Errorf("%s: accepted", b)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("HMACD_SOCKET", "")
	t.Setenv("PORT", "")
	t.Setenv("HMACD_SERVER_USER", "")
	t.Setenv("HMACD_TRUST_PROXY", "")
	e, err := FromEnv()
	if err != nil || e.Socket != "/run/hmacd/hmacd.sock" || e.Addr != "127.0.0.1:8080" ||
		e.ServerUser != "" || e.TrustProxy {
		t.Fatalf("defaults: %+v %v", e, err)
	}
	t.Setenv("HMACD_SOCKET", "/tmp/x/s")
	t.Setenv("PORT", "9000")
	t.Setenv("HMACD_SERVER_USER", "hmacd")
	t.Setenv("HMACD_TRUST_PROXY", "1")
	e, err = FromEnv()
	if err != nil || e.Socket != "/tmp/x/s" || e.Addr != "127.0.0.1:9000" ||
		e.ServerUser != "hmacd" || !e.TrustProxy {
		t.Fatalf("set: %+v %v", e, err)
	}
	t.Setenv("HMACD_TRUST_PROXY", "0")
	if e, err = FromEnv(); err != nil || e.TrustProxy {
		t.Fatalf("HMACD_TRUST_PROXY=0: %+v %v", e, err)
	}
	for _, v := range []string{"yes", "true", " 1", "2"} {
		t.Setenv("HMACD_TRUST_PROXY", v)
		if _, err := FromEnv(); err == nil {
			t.Errorf("HMACD_TRUST_PROXY %q accepted", v)
		}
	}
	t.Setenv("HMACD_TRUST_PROXY", "")
	for _, p := range []string{"x", "-1", "65536", "80a"} {
		t.Setenv("PORT", p)
		if _, err := FromEnv(); err == nil {
			t.Errorf("PORT %q accepted", p)
		}
	}
}
