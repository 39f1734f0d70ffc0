package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// The targets the driver knows; each prepares its work before the clock starts (see targets.go).
var modes = []string{"hub-csr", "hub-e2e", "step-ca", "cfssl", "csr", "get"}

type config struct {
	mode        string
	url         string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	// count caps the operations of warm-up and measurement together; the one-time-token modes
	// prepare exactly this many.
	count   int
	pids    []int
	caFile  string
	cert    string
	key     string
	newConn bool

	adminURL       string
	adminTokenFile string
	tenant         string
	group          string

	jwkFile     string
	provisioner string
}

// oneTime says whether a mode spends one prepared token per operation, so must be told how many.
func (c config) oneTime() bool {
	return c.mode == "hub-csr" || c.mode == "hub-e2e" || c.mode == "step-ca"
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	var pids string
	fs := flag.NewFlagSet("peers-driver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.mode, "mode", "", strings.Join(modes, " | "))
	fs.StringVar(&c.url, "url", "", "step-ca: the /1.0/sign URL; cfssl: the /api/v1/cfssl/sign URL; csr, get: the URL")
	fs.IntVar(&c.concurrency, "concurrency", 8, "requests in flight, each on its own connection")
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured time (0: until -count is used up)")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured load before the measurement")
	fs.IntVar(&c.count, "count", 0, "operations at most, warm-up included (one-time-token modes: required)")
	fs.StringVar(&pids, "pid", "", "server process ids, comma-separated; their descendants are counted too")
	fs.StringVar(&c.caFile, "ca", "", "PEM file of the CAs that sign the servers' TLS certificates")
	fs.StringVar(&c.cert, "cert", "", "client certificate PEM (mTLS)")
	fs.StringVar(&c.key, "key", "", "client key PEM (mTLS)")
	fs.BoolVar(&c.newConn, "new-conn", false, "a new connection and full TLS handshake for every request")
	fs.StringVar(&c.adminURL, "admin-url", "", "hub: the internal listener's base URL")
	fs.StringVar(&c.adminTokenFile, "admin-token-file", "", "hub: file holding the admin token")
	fs.StringVar(&c.tenant, "tenant", "bench", "hub: tenant of the runtimes")
	fs.StringVar(&c.group, "group", "load", "hub: group of the runtimes")
	fs.StringVar(&c.jwkFile, "jwk", "", "step-ca: the JWK provisioner's private key (JSON, with kid)")
	fs.StringVar(&c.provisioner, "provisioner", "bench", "step-ca: the JWK provisioner's name (the token issuer)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, p := range strings.Split(pids, ",") {
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 {
			return c, fmt.Errorf("-pid: %q is not a process id", p)
		}
		c.pids = append(c.pids, n)
	}
	return c, c.validate()
}

func (c config) validate() error {
	known := false
	for _, m := range modes {
		known = known || c.mode == m
	}
	switch {
	case !known:
		return fmt.Errorf("-mode: %q is not one of %s", c.mode, strings.Join(modes, ", "))
	case c.concurrency < 1:
		return errors.New("-concurrency: at least 1")
	case c.duration < 0 || c.warmup < 0 || c.count < 0:
		return errors.New("-duration, -warmup and -count cannot be negative")
	case c.duration == 0 && c.count == 0:
		return errors.New("give -duration or -count (or both): the run needs an end")
	case c.oneTime() && c.count == 0:
		return fmt.Errorf("-count: mode %s spends a one-time token per operation; say how many to prepare", c.mode)
	case len(c.pids) == 0:
		return errors.New("-pid: the server's process id is needed for its CPU time")
	case c.caFile == "":
		return errors.New("-ca: the servers' TLS CA file is needed")
	case (c.cert == "") != (c.key == ""):
		return errors.New("-cert and -key go together")
	}
	switch c.mode {
	case "hub-csr", "hub-e2e":
		if c.adminURL == "" || c.adminTokenFile == "" {
			return fmt.Errorf("mode %s needs -admin-url and -admin-token-file", c.mode)
		}
	case "step-ca":
		if c.url == "" || c.jwkFile == "" {
			return errors.New("mode step-ca needs -url and -jwk")
		}
	default:
		if c.url == "" {
			return fmt.Errorf("mode %s needs -url", c.mode)
		}
	}
	return nil
}
