// sfv_test.go - the RFC 8941 parser and serializer: canonical re-serialization of every bare
// item type, parameters, inner lists and dictionaries, the choices shared with proto/sfv.h,
// and the inputs RFC 8941 says must fail.

package hmacd

import "testing"

func TestSFRoundTrip(t *testing.T) {
	for _, c := range []struct {
		kind    sfKind
		in, out string
	}{
		{sfKindItem, "42", "42"},
		{sfKindItem, "-0", "0"},
		{sfKindItem, "999999999999999", "999999999999999"},
		{sfKindItem, "-999999999999999", "-999999999999999"},
		{sfKindItem, "1.5", "1.5"},
		{sfKindItem, "1.50", "1.5"},
		{sfKindItem, "-1.000", "-1.0"},
		{sfKindItem, "123456789012.123", "123456789012.123"},
		{sfKindItem, `"a \"q\" \\ b"`, `"a \"q\" \\ b"`},
		{sfKindItem, "*tok:en/x", "*tok:en/x"},
		{sfKindItem, ":aGVsbG8=:", ":aGVsbG8=:"},
		{sfKindItem, ":aGVsbG8:", ":aGVsbG8=:"}, // padding added back
		{sfKindItem, "::", "::"},
		{sfKindItem, "?1;a;b=?0;c=1.0", "?1;a;b=?0;c=1.0"},
		{sfKindItem, "  x;a=1;a=2  ", "x;a=2"}, // a repeated parameter overwrites in place
		{sfKindList, "a, (b c);d, ( ),e", "a, (b c);d, (), e"},
		{sfKindList, "", ""},
		{sfKindDict, "a=1, b, c=?1;p, d=(1 2);q=x", "a=1, b, c;p, d=(1 2);q=x"},
		{sfKindDict, "a=1,\tb=2", "a=1, b=2"},
		{sfKindDict, "u=1, i, u=2", "u=2, i"}, // first position, last value
		{sfKindDict, "a=?0", "a=?0"},
	} {
		ms, err := sfParse(c.in, c.kind)
		if err != nil {
			t.Errorf("parse %q: %v", c.in, err)
			continue
		}
		var w sfWriter
		w.field(ms, c.kind)
		if w.err != nil || string(w.b) != c.out {
			t.Errorf("%q -> %q (%v), want %q", c.in, w.b, w.err, c.out)
		}
	}
}

func TestSFParseFailures(t *testing.T) {
	for _, c := range []struct {
		kind sfKind
		in   string
	}{
		{sfKindItem, ""},
		{sfKindItem, "1 2"},
		{sfKindItem, "1000000000000000"}, // 16 digits
		{sfKindItem, "1234567890123.1"},  // 13 integer digits
		{sfKindItem, "1.2345"},
		{sfKindItem, "1."},
		{sfKindItem, "-"},
		{sfKindItem, `"abc`},
		{sfKindItem, `"a\b"`},
		{sfKindItem, "\"a\tb\""},
		{sfKindItem, ":aGVsbG8"},
		{sfKindItem, ":aGVsbG9=:"}, // non-zero pad bits
		{sfKindItem, ":aGVsbG8==:"},
		{sfKindItem, "?2"},
		{sfKindItem, "x;A=1"},
		{sfKindItem, "x;=1"},
		{sfKindItem, "\x01"},
		{sfKindList, "a,"},
		{sfKindList, "a,,b"},
		{sfKindList, "(a b"},
		{sfKindList, "(a,b)"},
		{sfKindDict, "A=1"},
		{sfKindDict, "a=1;"},
		{sfKindDict, "a=1 b=2"},
	} {
		if ms, err := sfParse(c.in, c.kind); err == nil {
			t.Errorf("parse %q: accepted as %+v", c.in, ms)
		}
	}
}

func TestSFSerializeFailures(t *testing.T) {
	for _, b := range []sfBare{
		{typ: sfInteger, num: 1000000000000000},
		{typ: sfDecimal, num: 1000000000000000},
		{typ: sfString, str: "a\nb"},
		{typ: sfString, str: "é"},
		{typ: sfToken, str: "1a"},
		{typ: sfToken, str: ""},
	} {
		var w sfWriter
		w.bare(b)
		if w.err == nil {
			t.Errorf("%+v serialized as %q", b, w.b)
		}
	}
	var w sfWriter
	w.params(sfParams{{key: "Bad", val: sfTrue()}})
	if w.err == nil {
		t.Error("an upper-case key serialized")
	}
}
