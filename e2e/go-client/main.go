// A Kyma runtime agent's view of the hub: net/http and encoding/json only, no Content-Type on any
// request, request.Close on revocations, as Kyma's own clients and acceptance tests do it. It walks
// the runtime flow against a running hub, prints "ok <step>" per step and exits 1 at the first
// step that does not answer as Kyma's Connector Service would.
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"
)

type tokenResponse struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

type csrInfo struct {
	CsrURL string `json:"csrUrl"`
	API    struct {
		InfoURL         string `json:"infoUrl"`
		CertificatesURL string `json:"certificatesUrl"`
	} `json:"api"`
	Certificate struct {
		Subject      string `json:"subject"`
		Extensions   string `json:"extensions"`
		KeyAlgorithm string `json:"key-algorithm"`
	} `json:"certificate"`
}

type certificates struct {
	Crt       string `json:"crt"`
	ClientCrt string `json:"clientCrt"`
	CaCrt     string `json:"caCrt"`
}

type managementInfo struct {
	ClientIdentity struct {
		Tenant    string `json:"tenant"`
		Group     string `json:"group"`
		RuntimeID string `json:"runtimeId"`
	} `json:"clientIdentity"`
	URLs struct {
		RenewCertURL  string `json:"renewCertUrl"`
		RevokeCertURL string `json:"revokeCertUrl"`
	} `json:"urls"`
}

type errorBody struct {
	Code  int    `json:"code"`
	Error string `json:"error"`
}

// What Kyma's clients send: tagged for the CSR, a bare field for the revocation hash.
type csrRequest struct {
	CSR string `json:"csr"`
}

type revocationRequest struct {
	Hash string
}

var (
	hubURL     = flag.String("hub", "", "external base URL of the hub")
	internal   = flag.String("internal", "", "internal API base URL")
	adminToken = flag.String("admin-token", "", "admin token of the internal API")
	caFile     = flag.String("ca", "", "hub CA file to trust (RootCAs)")
	insecure   = flag.Bool("insecure", false, "InsecureSkipVerify, as Kyma's acceptance tests run")
	runtimeID  = flag.String("runtime", "go-client", "prefix of the runtime ids to enrol")
)

func fail(step string, format string, args ...any) {
	fmt.Printf("FAIL %s: %s\n", step, fmt.Sprintf(format, args...))
	os.Exit(1)
}

func ok(step string) { fmt.Printf("ok %s\n", step) }

func tlsConfig(cert *tls.Certificate) *tls.Config {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if *insecure {
		config.InsecureSkipVerify = true
	} else {
		pemBytes, err := os.ReadFile(*caFile)
		if err != nil {
			fail("setup", "read -ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			fail("setup", "no certificate in %s", *caFile)
		}
		config.RootCAs = pool
	}
	if cert != nil {
		config.Certificates = []tls.Certificate{*cert}
	}
	return config
}

func client(cert *tls.Certificate) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsConfig(cert)}}
}

// call sends body (nil for none) with no Content-Type and decodes a JSON answer into out.
func call(step string, c *http.Client, method, url string, body any, headers map[string]string, closeConn bool, want int, out any) {
	var reader io.Reader
	if body != nil {
		encoded, err := json.Marshal(body)
		if err != nil {
			fail(step, "marshal: %v", err)
		}
		reader = bytes.NewReader(encoded)
	}
	request, err := http.NewRequest(method, url, reader)
	if err != nil {
		fail(step, "request: %v", err)
	}
	for name, value := range headers {
		request.Header.Set(name, value)
	}
	request.Close = closeConn
	response, err := c.Do(request)
	if err != nil {
		fail(step, "%s %s: %v", method, url, err)
	}
	defer response.Body.Close()
	text, err := io.ReadAll(response.Body)
	if err != nil {
		fail(step, "read body: %v", err)
	}
	if response.StatusCode != want {
		fail(step, "%s %s: status %d, want %d: %s", method, url, response.StatusCode, want, text)
	}
	if out != nil {
		if err := json.Unmarshal(text, out); err != nil {
			fail(step, "decode %q: %v", text, err)
		}
	}
}

func parseSubject(step, text string) pkix.Name {
	var name pkix.Name
	for _, part := range strings.Split(text, ",") {
		key, value, found := strings.Cut(part, "=")
		if !found {
			fail(step, "subject %q", text)
		}
		switch key {
		case "CN":
			name.CommonName = value
		case "O":
			name.Organization = []string{value}
		case "OU":
			name.OrganizationalUnit = []string{value}
		case "L":
			name.Locality = []string{value}
		case "ST":
			name.Province = []string{value}
		case "C":
			name.Country = []string{value}
		}
	}
	return name
}

func newCsr(step string, subject pkix.Name) (string, *rsa.PrivateKey) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		fail(step, "key: %v", err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject}, key)
	if err != nil {
		fail(step, "csr: %v", err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), key
}

func decodePem(step, value string) []byte {
	text, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		fail(step, "base64: %v", err)
	}
	return text
}

func countCertificates(text []byte) int {
	count := 0
	for {
		var block *pem.Block
		block, text = pem.Decode(text)
		if block == nil {
			return count
		}
		if block.Type == "CERTIFICATE" {
			count++
		}
	}
}

func keyPair(step string, crt []byte, key *rsa.PrivateKey) *tls.Certificate {
	keyPem := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	pair, err := tls.X509KeyPair(crt, keyPem)
	if err != nil {
		fail(step, "key pair: %v", err)
	}
	return &pair
}

type enrolled struct {
	info    csrInfo
	subject pkix.Name
	crt     []byte
	cert    *tls.Certificate
}

func token(step, runtime string) tokenResponse {
	var created tokenResponse
	headers := map[string]string{"Authorization": "Bearer " + *adminToken, "Tenant": "kyma", "Group": "runtimes"}
	// Kyma's token route takes no body; the runtime id is tether's own addition.
	var body any
	if runtime != "" {
		body = map[string]string{"runtime": runtime}
	}
	call(step, http.DefaultClient, "POST", *internal+"/v1/runtimes/tokens", body, headers, false, 201, &created)
	return created
}

func enrol(prefix, runtime string) enrolled {
	created := token(prefix+"token (internal API)", runtime)
	ok(prefix + "token (internal API)")
	var info csrInfo
	call(prefix+"info", client(nil), "GET", created.URL, nil, nil, false, 200, &info)
	if info.Certificate.KeyAlgorithm != "rsa2048" || info.Certificate.Extensions != "" {
		fail(prefix+"info", "certificate %+v", info.Certificate)
	}
	ok(prefix + "info")
	subject := parseSubject(prefix+"csr", info.Certificate.Subject)
	csr, key := newCsr(prefix+"csr", subject)
	ok(prefix + "csr (crypto/x509, RSA-2048)")
	var issued certificates
	call(prefix+"certificate", client(nil), "POST", info.CsrURL, csrRequest{CSR: csr}, nil, false, 201, &issued)
	crt := decodePem(prefix+"certificate", issued.Crt)
	if n := countCertificates(crt); n != 2 {
		fail(prefix+"certificate", "crt holds %d certificates, want 2", n)
	}
	if countCertificates(decodePem(prefix+"certificate", issued.ClientCrt)) != 1 ||
		countCertificates(decodePem(prefix+"certificate", issued.CaCrt)) != 1 {
		fail(prefix+"certificate", "clientCrt and caCrt must hold one certificate each")
	}
	ok(prefix + "certificate (2 certificates in crt)")
	return enrolled{info: info, subject: subject, crt: crt, cert: keyPair(prefix+"certificate", crt, key)}
}

func refused(step string, c *http.Client, url string, body any, status int, message string) {
	var answer errorBody
	call(step, c, "POST", url, body, nil, false, status, &answer)
	if answer.Code != status || answer.Error != message {
		fail(step, "answer %+v, want {%d %q}", answer, status, message)
	}
	ok(step)
}

func main() {
	flag.Parse()
	if *hubURL == "" || *internal == "" || *adminToken == "" || (*caFile == "" && !*insecure) {
		fail("setup", "need -hub, -internal, -admin-token and -ca or -insecure")
	}
	first := enrol("", *runtimeID+"-1")

	var management managementInfo
	call("management info (mTLS)", client(first.cert), "GET", first.info.API.InfoURL, nil, nil, false, 200, &management)
	if management.ClientIdentity.RuntimeID != first.subject.CommonName {
		fail("management info (mTLS)", "runtimeId %q, want %q", management.ClientIdentity.RuntimeID, first.subject.CommonName)
	}
	ok("management info (mTLS)")

	csr, key := newCsr("renewal", first.subject)
	var renewed certificates
	call("renewal", client(first.cert), "POST", management.URLs.RenewCertURL, csrRequest{CSR: csr}, nil, false, 201, &renewed)
	renewedCrt := decodePem("renewal", renewed.Crt)
	if n := countCertificates(renewedCrt); n != 2 {
		fail("renewal", "crt holds %d certificates, want 2", n)
	}
	current := client(keyPair("renewal", renewedCrt, key))
	ok("renewal")

	call("self-revocation", current, "POST", management.URLs.RevokeCertURL, nil, nil, true, 201, nil)
	ok("self-revocation")
	renewal, _ := newCsr("renewal after self-revocation", first.subject)
	refused("renewal after self-revocation", current, management.URLs.RenewCertURL, csrRequest{CSR: renewal}, 403, "Certificate has been revoked.")

	second := enrol("second runtime: ", *runtimeID+"-2")
	leaf, _ := pem.Decode(second.crt)
	sum := sha256.Sum256(leaf.Bytes)
	headers := map[string]string{"Authorization": "Bearer " + *adminToken}
	call("internal revocation {\"Hash\": ...}", http.DefaultClient, "POST", *internal+"/v1/runtimes/certificates/revocations",
		revocationRequest{Hash: hex.EncodeToString(sum[:])}, headers, true, 201, nil)
	ok("internal revocation {\"Hash\": ...}")
	renewal, _ = newCsr("renewal after internal revocation", second.subject)
	refused("renewal after internal revocation", client(second.cert), management.URLs.RenewCertURL, csrRequest{CSR: renewal}, 403, "Certificate has been revoked.")

	created := token("CN mismatch", "")
	var info csrInfo
	call("CN mismatch", client(nil), "GET", created.URL, nil, nil, false, 200, &info)
	wrong := parseSubject("CN mismatch", info.Certificate.Subject)
	wrong.CommonName = "someone-else"
	mismatch, _ := newCsr("CN mismatch", wrong)
	refused("CN mismatch", client(nil), info.CsrURL, csrRequest{CSR: mismatch}, 400, "CSR: Invalid common name provided.")
	fmt.Println("all steps passed")
}
