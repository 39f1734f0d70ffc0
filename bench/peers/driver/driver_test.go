package main

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseConfig(t *testing.T) {
	ok := []string{"-pid", "12,34", "-ca", "ca.pem"}
	c, err := parseConfig(append([]string{"-mode", "get", "-url", "https://x/", "-new-conn"}, ok...), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.pids) != 2 || c.pids[1] != 34 || !c.newConn || c.concurrency != 8 || c.duration != 5*time.Second {
		t.Fatalf("parsed %+v", c)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-mode", "nope"}, `-mode: "nope" is not one of`},
		{[]string{"-mode", "get", "-url", "u", "-concurrency", "0"}, "-concurrency: at least 1"},
		{[]string{"-mode", "get", "-url", "u", "-duration", "0"}, "the run needs an end"},
		{[]string{"-mode", "hub-csr", "-admin-url", "a", "-admin-token-file", "f"}, "-count: mode hub-csr spends a one-time token"},
		{[]string{"-mode", "hub-e2e", "-count", "5"}, "mode hub-e2e needs -admin-url and -admin-token-file"},
		{[]string{"-mode", "step-ca", "-count", "5", "-url", "u"}, "mode step-ca needs -url and -jwk"},
		{[]string{"-mode", "cfssl"}, "mode cfssl needs -url"},
		{[]string{"-mode", "csr"}, "mode csr needs -url"},
		{[]string{"-mode", "get", "-url", "u", "-cert", "c.pem"}, "-cert and -key go together"},
		{[]string{"-mode", "get", "-url", "u", "extra"}, `unexpected argument "extra"`},
	} {
		args := tc.args
		if !strings.Contains(strings.Join(args, " "), "extra") {
			args = append(args, ok...)
		} else {
			args = append(ok, args...)
		}
		if _, err := parseConfig(args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
	for _, bad := range [][]string{{"-mode", "get", "-url", "u", "-ca", "c"}, {"-mode", "get", "-url", "u", "-ca", "c", "-pid", "1,x"}} {
		if _, err := parseConfig(bad, io.Discard); err == nil || !strings.Contains(err.Error(), "-pid") {
			t.Errorf("%v: got %v, want a -pid error", bad, err)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	sortDurations(d)
	if p := percentile(d, 0.5); p != 50 {
		t.Errorf("p50 = %v", p)
	}
	if p := percentile(d, 0.99); p != 99 {
		t.Errorf("p99 = %v", p)
	}
	if p := percentile(d[:1], 0.99); p != 1 {
		t.Errorf("p99 of one = %v", p)
	}
	if p := percentile(nil, 0.5); p != 0 {
		t.Errorf("p50 of none = %v", p)
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and a ')' must not shift the fields.
	stat := "4242 (node (x) y) S 17 4242 4242 0 -1 4194304 100 0 0 0 250 31 0 0 20 0 11 0 1000 1 1 1"
	ppid, ticks, err := parseStat(stat)
	if err != nil || ppid != 17 || ticks != 281 {
		t.Fatalf("got ppid %d ticks %d err %v", ppid, ticks, err)
	}
	if _, _, err := parseStat("4242 (node) S 17"); err == nil {
		t.Fatal("a short line parsed")
	}
	if ms := cpuMs(map[int]int64{1: 100}, map[int]int64{1: 150, 2: 7}); ms != 570 {
		t.Fatalf("cpuMs = %v", ms)
	}
}

func TestParseSubject(t *testing.T) {
	n, err := parseSubject("O=acme,OU=prod,L=Berlin,ST=Berlin,C=DE,CN=cluster-1")
	if err != nil || n.CommonName != "cluster-1" || n.Organization[0] != "acme" || n.Country[0] != "DE" {
		t.Fatalf("got %+v, %v", n, err)
	}
	for _, bad := range []string{"O=acme,CN", "X=1"} {
		if _, err := parseSubject(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestOneTimeToken(t *testing.T) {
	// A JWK as bench/peers writes it; the token must verify with its public half.
	jwkText := `{"kty":"EC","crv":"P-256","kid":"k1",` +
		`"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",` +
		`"d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}`
	path := filepath.Join(t.TempDir(), "jwk.json")
	if err := os.WriteFile(path, []byte(jwkText), 0o600); err != nil {
		t.Fatal(err)
	}
	key, kid, err := loadJWK(path)
	if err != nil || kid != "k1" {
		t.Fatalf("loadJWK: %v %q", err, kid)
	}
	if base64.RawURLEncoding.EncodeToString(key.X.Bytes()) != "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU" {
		t.Fatal("public point not derived from d")
	}
	now := time.Unix(1_800_000_000, 0)
	token, err := oneTimeToken(key, kid, "bench", "https://127.0.0.1:9/1.0/sign", "a.test", now)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(&key.PublicKey, digest[:], r, s) {
		t.Fatal("signature does not verify")
	}
	var header, claims map[string]any
	h, _ := base64.RawURLEncoding.DecodeString(parts[0])
	c, _ := base64.RawURLEncoding.DecodeString(parts[1])
	_ = json.Unmarshal(h, &header)
	_ = json.Unmarshal(c, &claims)
	if header["kid"] != "k1" || header["alg"] != "ES256" || claims["iss"] != "bench" || claims["sub"] != "a.test" ||
		claims["nbf"] != float64(now.Unix()) || claims["exp"] != float64(now.Add(5*time.Minute).Unix()) {
		t.Fatalf("header %v claims %v", header, claims)
	}
	// step-ca refuses a jti it has seen: two tokens of the same second must differ.
	again, _ := oneTimeToken(key, kid, "bench", "https://127.0.0.1:9/1.0/sign", "a.test", now)
	var claimsAgain map[string]any
	c2, _ := base64.RawURLEncoding.DecodeString(strings.Split(again, ".")[1])
	_ = json.Unmarshal(c2, &claimsAgain)
	if claimsAgain["jti"] == claims["jti"] || claims["jti"] == "" {
		t.Fatalf("jti %v repeated", claims["jti"])
	}
}
