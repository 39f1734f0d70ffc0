package main

import (
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crypto/rand"
)

// csrPool is how many distinct CSRs the reusable-work modes cycle through.
const csrPool = 256

// prepare does, before the clock starts, everything that is not the measured operation: CSRs, and
// per mode the one-time tokens (the hub's through its admin API, step-ca's minted here).
func prepare(c config, client *http.Client) (workload, error) {
	switch c.mode {
	case "hub-csr", "hub-e2e":
		return prepareHub(c, client)
	case "step-ca":
		return prepareStepCA(c, client)
	case "cfssl":
		return prepareCfssl(c, client)
	case "csr":
		return prepareCsr(c, client)
	default:
		return workload{do: func(int) error {
			_, err := call(client, http.MethodGet, c.url, nil, nil, http.StatusOK)
			return err
		}}, nil
	}
}

type hubItem struct {
	url  string // hub-csr: the csrUrl; hub-e2e: the token URL
	body []byte // {"csr": base64 of the PEM}
}

func hubBody(csr []byte) []byte {
	body, _ := json.Marshal(map[string]string{"csr": base64.StdEncoding.EncodeToString(csr)})
	return body
}

// prepareHub mints -count tokens, each for a new runtime, through the admin API. hub-csr also
// exchanges each for its CSR info, so that only the CSR POST is timed; hub-e2e times both calls.
func prepareHub(c config, client *http.Client) (workload, error) {
	raw, err := os.ReadFile(c.adminTokenFile)
	if err != nil {
		return workload{}, err
	}
	admin := map[string]string{
		"Authorization": "Bearer " + strings.TrimSpace(string(raw)),
		"Tenant":        c.tenant,
		"Group":         c.group,
	}
	plain := &http.Client{Timeout: 60 * time.Second}
	prefix := make([]byte, 4)
	if _, err := rand.Read(prefix); err != nil {
		return workload{}, err
	}
	runtime := func(i int) string { return fmt.Sprintf("p%s-%d", hex.EncodeToString(prefix), i) }
	tokenURL := func(id string) (string, error) {
		body, _ := json.Marshal(map[string]string{"runtime": id})
		answer, err := call(plain, http.MethodPost, c.adminURL+"/v1/runtimes/tokens", admin, body, http.StatusCreated)
		if err != nil {
			return "", err
		}
		var token struct{ URL string }
		if err := json.Unmarshal(answer, &token); err != nil || token.URL == "" {
			return "", fmt.Errorf("token answer without url: %v", err)
		}
		return token.URL, nil
	}
	info := func(url string) (csrURL, subject string, err error) {
		answer, err := call(client, http.MethodGet, url, nil, nil, http.StatusOK)
		if err != nil {
			return "", "", err
		}
		var got struct {
			CsrURL      string
			Certificate struct{ Subject string }
		}
		if err := json.Unmarshal(answer, &got); err != nil || got.CsrURL == "" {
			return "", "", fmt.Errorf("CSR info without csrUrl: %v", err)
		}
		return got.CsrURL, got.Certificate.Subject, nil
	}

	// One probe learns the subject the hub assigns (L, ST, C are its flags); hub-e2e's CSRs put
	// each runtime's id in it as CN.
	probeURL, err := tokenURL(runtime(c.count))
	if err != nil {
		return workload{}, fmt.Errorf("minting a token: %w", err)
	}
	_, probeSubject, err := info(probeURL)
	if err != nil {
		return workload{}, fmt.Errorf("CSR info: %w", err)
	}
	template, err := parseSubject(probeSubject)
	if err != nil {
		return workload{}, err
	}

	items := make([]hubItem, c.count)
	err = parallel(c.count, func(i int) error {
		url, err := tokenURL(runtime(i))
		if err != nil {
			return fmt.Errorf("minting a token: %w", err)
		}
		subject := template
		subject.CommonName = runtime(i)
		if c.mode == "hub-csr" {
			csrURL, text, err := info(url)
			if err != nil {
				return fmt.Errorf("CSR info: %w", err)
			}
			if subject, err = parseSubject(text); err != nil {
				return err
			}
			url = csrURL
		}
		csr, err := newCSR(subject)
		if err != nil {
			return err
		}
		items[i] = hubItem{url: url, body: hubBody(csr)}
		return nil
	})
	if err != nil {
		return workload{}, err
	}
	post := func(url string, body []byte) error {
		_, err := call(client, http.MethodPost, url, nil, body, http.StatusCreated)
		return err
	}
	if c.mode == "hub-csr" {
		return workload{size: c.count, do: func(i int) error { return post(items[i].url, items[i].body) }}, nil
	}
	return workload{size: c.count, do: func(i int) error {
		csrURL, _, err := info(items[i].url)
		if err != nil {
			return err
		}
		return post(csrURL, items[i].body)
	}}, nil
}

// prepareStepCA mints -count one-time tokens, each with its own CSR whose CN and DNS name are the
// token's subject (the JWK provisioner requires both to match).
func prepareStepCA(c config, client *http.Client) (workload, error) {
	key, kid, err := loadJWK(c.jwkFile)
	if err != nil {
		return workload{}, err
	}
	bodies := make([][]byte, c.count)
	now := time.Now()
	err = parallel(c.count, func(i int) error {
		name := fmt.Sprintf("client-%d.bench.test", i)
		csr, err := newCSR(pkix.Name{CommonName: name}, name)
		if err != nil {
			return err
		}
		ott, err := oneTimeToken(key, kid, c.provisioner, c.url, name, now)
		if err != nil {
			return err
		}
		bodies[i], _ = json.Marshal(map[string]string{"csr": string(csr), "ott": ott})
		return nil
	})
	if err != nil {
		return workload{}, err
	}
	return workload{size: c.count, do: func(i int) error {
		_, err := call(client, http.MethodPost, c.url, nil, bodies[i], http.StatusCreated)
		return err
	}}, nil
}

// csrBodies makes a pool of request bodies, each around its own CSR.
func csrBodies(body func(csr []byte) []byte) ([][]byte, error) {
	bodies := make([][]byte, csrPool)
	err := parallel(csrPool, func(i int) error {
		name := fmt.Sprintf("client-%d.bench.test", i)
		csr, err := newCSR(pkix.Name{CommonName: name}, name)
		if err != nil {
			return err
		}
		bodies[i] = body(csr)
		return nil
	})
	return bodies, err
}

// prepareCfssl makes a pool of CSRs; cfssl's sign endpoint takes any CSR any number of times.
func prepareCfssl(c config, client *http.Client) (workload, error) {
	bodies, err := csrBodies(func(csr []byte) []byte {
		body, _ := json.Marshal(map[string]string{"certificate_request": string(csr)})
		return body
	})
	if err != nil {
		return workload{}, err
	}
	return workload{do: func(i int) error {
		answer, err := call(client, http.MethodPost, c.url, nil, bodies[i%csrPool], http.StatusOK)
		if err != nil {
			return err
		}
		var result struct{ Success bool }
		if json.Unmarshal(answer, &result) != nil || !result.Success {
			return errors.New("cfssl answered 200 without success: " + string(answer[:min(len(answer), 200)]))
		}
		return nil
	}}, nil
}

// prepareCsr makes a pool of CSRs for a server that signs any CSR it is sent in the hub's body
// ({"csr": base64 PEM}, 201), such as the bare node:https reference (bench/peers/node-floor.ts).
func prepareCsr(c config, client *http.Client) (workload, error) {
	bodies, err := csrBodies(hubBody)
	if err != nil {
		return workload{}, err
	}
	return workload{do: func(i int) error {
		_, err := call(client, http.MethodPost, c.url, nil, bodies[i%csrPool], http.StatusCreated)
		return err
	}}, nil
}

// parallel runs f for 0..n-1 on 8 goroutines and returns the first error.
func parallel(n int, f func(i int) error) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
