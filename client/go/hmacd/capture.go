// capture.go - capture files (issue 15): when GuardConfig.CaptureDir is set, a request that
// hmacd refused (a verdict other than OK and UNAVAILABLE, so a 401) is written to that
// directory as JSON, in the format PROTOCOL.md documents under "Capture files", for
// `hmacctl explain --request FILE` to show what hmacd built from it. The body is never
// written, only its length and digests; the values of headers the signature does not cover
// are replaced by "[redacted]". Every byte of such a request is an attacker's choice: the
// files are bounded in number, created exclusively (never through a symlink) with mode 0600 in
// a directory that only this process's user may write, and writing one never changes or
// delays the refusal beyond the write itself.

package hmacd

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// DefaultCaptureMax is how many capture files a directory may hold by default
// (GuardConfig.CaptureMax).
const DefaultCaptureMax = 100

// captureRedacted replaces the value of a header the signature does not cover.
const captureRedacted = "[redacted]"

// captureKept are the headers whose values a capture always keeps: the signature itself and
// what hmacctl explain needs to describe the body and the authority.
var captureKept = map[string]bool{
	"authorization":   true,
	"signature":       true,
	"signature-input": true,
	"host":            true,
	"content-digest":  true,
	"content-type":    true,
}

// captureBudget counts the capture files of one directory (by path, device and inode) for
// the whole process: those there when the first Guard on it started, plus those written since by
// every Guard of the process, so that N middlewares on one directory do not write N times
// CaptureMax files.
type captureBudget struct {
	mu     sync.Mutex
	files  int
	warned bool
}

var (
	captureBudgetsMu sync.Mutex
	captureBudgets   = map[captureKey]*captureBudget{}
)

// captureKey names a capture directory: its path, device and inode at start-up.
type captureKey struct {
	path string
	id   [2]uint64
}

// capturer writes the capture files of one Guard.
type capturer struct {
	dir    string
	id     [2]uint64 // the directory's device and inode at start-up
	max    int
	budget *captureBudget
}

// isCaptureName reports whether name is the name of a capture file.
func isCaptureName(name string) bool {
	return strings.HasPrefix(name, "hmacd-capture-") && strings.HasSuffix(name, ".json")
}

// newCapturer checks dir (it must exist, be a directory, not a symlink, belong to this
// process's user and not be writable by group or others) and counts the capture files in it.
func newCapturer(dir string, max int) (*capturer, error) {
	if max <= 0 {
		max = DefaultCaptureMax
	}
	if !filepath.IsAbs(dir) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("CaptureDir %q: %w", dir, err)
		}
		dir = abs
	}
	id, err := checkCaptureDir(dir)
	if err != nil {
		return nil, fmt.Errorf("CaptureDir %q: %w", dir, err)
	}
	captureBudgetsMu.Lock()
	defer captureBudgetsMu.Unlock()
	key := captureKey{path: dir, id: id}
	b := captureBudgets[key]
	if b == nil {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("CaptureDir %q: %w", dir, err)
		}
		b = &captureBudget{}
		for _, e := range ents {
			if isCaptureName(e.Name()) {
				b.files++
			}
		}
		captureBudgets[key] = b
	}
	return &capturer{dir: dir, id: id, max: max, budget: b}, nil
}

// take reserves one file of the budget. When the directory is full it returns false, and
// the first time also a note for the log.
func (c *capturer) take() (bool, string) {
	c.budget.mu.Lock()
	defer c.budget.mu.Unlock()
	if c.budget.files >= c.max {
		if c.budget.warned {
			return false, ""
		}
		c.budget.warned = true
		return false, fmt.Sprintf("no capture: %s holds %d capture files (CaptureMax %d), "+
			"no more until the process restarts", c.dir, c.budget.files, c.max)
	}
	c.budget.files++
	return true, ""
}

// giveBack returns a reservation that did not become a file.
func (c *capturer) giveBack() {
	c.budget.mu.Lock()
	c.budget.files--
	c.budget.mu.Unlock()
}

// captureFile is the JSON of a capture file, in the order PROTOCOL.md lists its members.
type captureFile struct {
	Version    int         `json:"hmacd_capture"`
	CapturedAt int64       `json:"captured_at"`
	Scheme     string      `json:"scheme"`
	Tenant     string      `json:"tenant,omitempty"`
	Container  string      `json:"container"`
	Label      string      `json:"label,omitempty"`
	Method     string      `json:"method"`
	URIScheme  string      `json:"uri_scheme"`
	Authority  string      `json:"authority"`
	Path       string      `json:"path"`
	Headers    [][2]string `json:"headers"`
	BodyLength int         `json:"body_length"`
	BodySHA256 string      `json:"body_sha256"`
	BodySHA512 string      `json:"body_sha512"`
	Verdict    string      `json:"verdict"`
}

// coveredRFC9421 is the set of header names the signature of a Signature-Input value covers:
// the member named label, else the only one, else (several and no label) every member's.
// A value that does not parse covers nothing (every header but the kept ones is redacted).
func coveredRFC9421(input, label string) map[string]bool {
	covered := map[string]bool{}
	dict, err := sfParse(input, sfKindDict)
	if err != nil {
		return covered
	}
	var members []sfMember
	for _, m := range dict {
		if label != "" && m.key == label || label == "" && len(dict) == 1 {
			members = append(members, m)
		}
	}
	if label == "" && len(dict) > 1 {
		members = dict
	}
	for _, m := range members {
		if !m.val.inner {
			continue
		}
		for _, it := range m.val.items {
			if it.bare.typ == sfString && !strings.HasPrefix(it.bare.str, "@") {
				covered[strings.ToLower(it.bare.str)] = true
			}
		}
	}
	return covered
}

// capture writes the capture file of a request refused with verdict v, received at unix
// time at, and returns what to add to the refusal's log line: the file's path, why none was
// written, or "". It never fails the caller. it is the item sent to hmacd: the covered
// headers are its signed ones (hmacd-v1) or those its Signature-Input lists (rfc9421).
func (c *capturer) capture(r *http.Request, it *Item, uriScheme string, body []byte,
	v Verdict, at int64) string {
	cov := map[string]bool{}
	if it.Scheme == SchemeRFC9421 {
		cov = coveredRFC9421(it.SignatureInput, it.Label)
	} else {
		for _, h := range it.Headers {
			cov[h.Name] = true
		}
	}
	sr := ServerRequest(r, "")
	headers := make([][2]string, len(sr.Headers))
	for i, h := range sr.Headers {
		name := strings.ToLower(h.Name)
		val := h.Value
		if !captureKept[name] && !cov[name] {
			val = captureRedacted
		}
		headers[i] = [2]string{name, val}
	}
	d256 := sha256.Sum256(body)
	d512 := sha512.Sum512(body)
	f := captureFile{
		Version:    1,
		CapturedAt: at,
		Scheme:     it.Scheme.String(),
		Tenant:     it.Tenant,
		Container:  it.Container,
		Method:     r.Method,
		URIScheme:  uriScheme,
		Authority:  r.Host,
		Path:       r.RequestURI,
		Headers:    headers,
		BodyLength: len(body),
		BodySHA256: base64.StdEncoding.EncodeToString(d256[:]),
		BodySHA512: base64.StdEncoding.EncodeToString(d512[:]),
		Verdict:    v.String(),
	}
	if it.Scheme == SchemeRFC9421 {
		f.Label = it.Label
	}
	data, err := json.Marshal(&f)
	if err != nil {
		return "capture not written: " + err.Error()
	}
	ok, note := c.take()
	if !ok {
		return note
	}
	path, err := c.write(at, append(data, '\n'))
	if err != nil {
		c.giveBack()
		return "capture not written: " + err.Error()
	}
	return "capture " + path
}

// write creates a new capture file holding data and returns its path. The directory is
// checked again first (it may have been replaced or its mode changed since start-up).
func (c *capturer) write(at int64, data []byte) (string, error) {
	id, err := checkCaptureDir(c.dir)
	if err != nil {
		return "", fmt.Errorf("%s: %w", c.dir, err)
	}
	if id != c.id {
		return "", fmt.Errorf("%s: not the directory checked at start-up", c.dir)
	}
	var rnd [8]byte
	if _, err := io.ReadFull(rand.Reader, rnd[:]); err != nil {
		return "", err
	}
	path := filepath.Join(c.dir, "hmacd-capture-"+strconv.FormatInt(at, 10)+"-"+
		hex.EncodeToString(rnd[:])+".json")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return "", err
	}
	return path, nil
}

// errCaptureDir explains why a capture directory is refused.
var errCaptureDir = errors.New("must be an existing directory (not a symlink) owned by " +
	"this process's user and not writable by group or others")
