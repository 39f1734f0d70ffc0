package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

// newClient speaks HTTP/1.1 over TLS 1.3 only, with one connection per request in flight: kept alive
// between requests, or, with newConn, a new connection and a full handshake (no session resumption:
// the client keeps no session cache) for each request.
func newClient(c config) (*http.Client, error) {
	roots := x509.NewCertPool()
	pem, err := os.ReadFile(c.caFile)
	if err != nil {
		return nil, err
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no certificate", c.caFile)
	}
	tlsConfig := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}
	if c.cert != "" {
		pair, err := tls.LoadX509KeyPair(c.cert, c.key)
		if err != nil {
			return nil, err
		}
		tlsConfig.Certificates = []tls.Certificate{pair}
	}
	transport := &http.Transport{
		TLSClientConfig:     tlsConfig,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		MaxIdleConns:        c.concurrency * 2,
		MaxIdleConnsPerHost: c.concurrency * 2,
		DisableKeepAlives:   c.newConn,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	return &http.Client{Transport: transport, Timeout: 60 * time.Second}, nil
}

// call sends one request and reads the whole answer (so the connection can be reused); any status
// but want is an error naming the status and the start of the body. The URL's query (a token) is
// never in the error.
func call(client *http.Client, method, url string, headers map[string]string, body []byte, want int) ([]byte, error) {
	var reader io.Reader
	if body != nil {
		reader = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, reader)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, redact(url), err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %s", method, redact(url), strings.ReplaceAll(err.Error(), url, redact(url)))
	}
	answer, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, redact(url), err)
	}
	if resp.StatusCode != want {
		text := string(answer)
		if len(text) > 200 {
			text = text[:200] + "..."
		}
		return nil, fmt.Errorf("%s %s: %d (want %d) %s", method, redact(url), resp.StatusCode, want, text)
	}
	return answer, nil
}

func redact(url string) string {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		return url[:i] + "?..."
	}
	return url
}
