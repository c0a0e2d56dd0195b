// Command rttbench measures the Go client's round trip against a real hmacd (issue 16 item 2):
//
//	HMACD=.../hmacd HMACCTL=.../hmacctl sh client/go/offline.sh run ./internal/rttbench \
//	    [-rate 2000] [-n 20000] [-c 1,16,64] [-cn 100000] [-conns N] [-inflight N]
//
// It starts hmacd (--threads 2) on a temporary directory, creates a key with hmacctl and signs
// every item beforehand (each with its own nonce, so each is a full verify). Then:
//
//   - paced: one goroutine calls VerifyOne at -rate per second for -n calls; the latency of a
//     call counts from the time it was scheduled to start, so a late start counts too. It
//     prints p50/p99/p999, and the process's CPU time and context switches (getrusage, all
//     threads) per call.
//   - concurrent: for each C in -c, C goroutines share -cn calls; it prints calls/s, CPU and
//     context switches per call, and the daemon's requests and items (its stats), whose
//     ratio is the items per frame.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hmacd/hmacd/client/go/hmacd"
)

var opts hmacd.Options

func main() {
	rate := flag.Int("rate", 2000, "paced calls per second")
	n := flag.Int("n", 20000, "paced calls")
	conc := flag.String("c", "1,16,64", "concurrent callers, comma-separated")
	cn := flag.Int("cn", 100000, "calls per concurrency level")
	flag.IntVar(&opts.Conns, "conns", 0, "Options.Conns (0: the default)")
	flag.IntVar(&opts.MaxInFlight, "inflight", 0, "Options.MaxInFlight (0: the default)")
	flag.Parse()
	err := run(*rate, *n, *conc, *cn)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rttbench:", err)
		os.Exit(1)
	}
}

func run(rate, n int, conc string, cn int) error {
	dir, err := os.MkdirTemp("", "rttbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sock, db := filepath.Join(dir, "s"), filepath.Join(dir, "db")
	d := exec.Command(os.Getenv("HMACD"), "--socket", sock, "--db", db, "--threads", "2",
		"--log-level", "warn")
	d.Stderr = os.Stderr
	if err = d.Start(); err != nil {
		return err
	}
	defer func() {
		_ = d.Process.Kill()
		_ = d.Wait()
	}()
	for i := 0; ; i++ {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			break
		}
		if i == 500 {
			return fmt.Errorf("hmacd does not accept: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	out, err := exec.Command(os.Getenv("HMACCTL"), "--db", db, "key", "create", "--tenant",
		"acme", "--container", "web-01", "--json").Output()
	if err != nil {
		return fmt.Errorf("hmacctl: %v", err)
	}
	var key struct {
		Epoch  uint64 `json:"epoch"`
		Secret string `json:"secret"`
	}
	if err = json.Unmarshal(out, &key); err != nil {
		return err
	}
	secret, err := base64.StdEncoding.DecodeString(key.Secret)
	if err != nil {
		return err
	}
	c, err := hmacd.New(sock, &opts)
	if err != nil {
		return err
	}
	defer c.Close()
	items := make([]hmacd.Item, n)
	for i := range items {
		items[i] = item(key.Epoch, secret, fmt.Sprintf("p%d", i))
	}
	ctx := context.Background()
	if err = paced(ctx, c, items, rate); err != nil {
		return err
	}
	for _, s := range strings.Split(conc, ",") {
		k, err := strconv.Atoi(s)
		if err != nil {
			return err
		}
		items = make([]hmacd.Item, cn)
		for i := range items {
			items[i] = item(key.Epoch, secret, fmt.Sprintf("c%d-%d", k, i))
		}
		if err = concurrent(ctx, c, items, k); err != nil {
			return err
		}
	}
	return nil
}

func item(epoch uint64, secret []byte, nonce string) hmacd.Item {
	it := hmacd.Item{Tenant: "acme", Container: "web-01", Epoch: epoch, Method: "POST",
		Path: "/containers/web-01/exec", Body: []byte(`{"cmd":["ls"]}`),
		Headers: []hmacd.Header{{Name: "content-type", Value: "application/json"}},
		Ts:      uint64(time.Now().Unix()), Nonce: nonce}
	if err := hmacd.Sign(secret, &it); err != nil {
		panic(err)
	}
	return it
}

type usage struct {
	cpu time.Duration
	csw int64 // voluntary and involuntary context switches
}

func now() usage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return usage{time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Nvcsw + ru.Nivcsw}
}

func paced(ctx context.Context, c *hmacd.Client, items []hmacd.Item, rate int) error {
	if err := c.Ping(ctx); err != nil {
		return err
	}
	lat := make([]time.Duration, len(items))
	gap := time.Second / time.Duration(rate)
	u0 := now()
	start := time.Now()
	for i := range items {
		at := start.Add(time.Duration(i) * gap)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		v, err := c.VerifyOne(ctx, &items[i])
		if err != nil || v != hmacd.VerdictOK {
			return fmt.Errorf("paced call %d: %v %v", i, v, err)
		}
		lat[i] = time.Since(at)
	}
	u1 := now()
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e3 }
	fmt.Printf("paced %d/s x %d: p50 %.0f us, p99 %.0f us, p99.9 %.0f us; per call: "+
		"CPU %.1f us, %.2f context switches\n", rate, len(items), q(0.5), q(0.99), q(0.999),
		float64(u1.cpu-u0.cpu)/1e3/float64(len(items)),
		float64(u1.csw-u0.csw)/float64(len(items)))
	return nil
}

func concurrent(ctx context.Context, c *hmacd.Client, items []hmacd.Item, k int) error {
	s0, err := c.Stats(ctx)
	if err != nil {
		return err
	}
	var next int64 = -1
	var failed int64
	var wg sync.WaitGroup
	u0 := now()
	start := time.Now()
	for w := 0; w < k; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := atomic.AddInt64(&next, 1)
				if i >= int64(len(items)) {
					return
				}
				v, err := c.VerifyOne(ctx, &items[i])
				if err != nil || v != hmacd.VerdictOK {
					atomic.AddInt64(&failed, 1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	u1 := now()
	s1, err := c.Stats(ctx)
	if err != nil {
		return err
	}
	if failed != 0 {
		return fmt.Errorf("c%d: %d calls failed", k, failed)
	}
	req, its := s1["requests"]-s0["requests"]-1, s1["items"]-s0["items"]
	fmt.Printf("c%d x %d: %.0f calls/s; per call: CPU %.1f us, %.2f context switches; "+
		"%.1f items per frame\n", k, len(items), float64(len(items))/el.Seconds(),
		float64(u1.cpu-u0.cpu)/1e3/float64(len(items)),
		float64(u1.csw-u0.csw)/float64(len(items)), float64(its)/float64(req))
	return nil
}
