package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"
)

// newCSR makes a P-256 key and a PEM CSR for the subject and DNS names (the client's side of an
// issuance, done before the clock starts).
func newCSR(subject pkix.Name, dnsNames ...string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, DNSNames: dnsNames}, key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// parseSubject reads the hub's subject text ("O=acme,OU=prod,L=Berlin,ST=Berlin,C=DE,CN=id"); the
// hub refuses tenants and groups holding ',' or '=', so a plain split is exact.
func parseSubject(text string) (pkix.Name, error) {
	var n pkix.Name
	for _, part := range strings.Split(text, ",") {
		key, value, ok := strings.Cut(part, "=")
		if !ok {
			return n, fmt.Errorf("subject %q: %q is not KEY=VALUE", text, part)
		}
		switch key {
		case "CN":
			n.CommonName = value
		case "O":
			n.Organization = []string{value}
		case "OU":
			n.OrganizationalUnit = []string{value}
		case "L":
			n.Locality = []string{value}
		case "ST":
			n.Province = []string{value}
		case "C":
			n.Country = []string{value}
		default:
			return n, fmt.Errorf("subject %q: unknown attribute %q", text, key)
		}
	}
	return n, nil
}

// jwk is an EC private key in JWK form, as the bench writes the step-ca provisioner's key.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	D   string `json:"d"`
	Kid string `json:"kid"`
}

func loadJWK(path string) (*ecdsa.PrivateKey, string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	var k jwk
	if err := json.Unmarshal(raw, &k); err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if k.Kty != "EC" || k.Crv != "P-256" || k.Kid == "" || k.D == "" {
		return nil, "", fmt.Errorf("%s: want a P-256 EC private JWK with a kid", path)
	}
	d, err := base64.RawURLEncoding.DecodeString(k.D)
	if err != nil {
		return nil, "", fmt.Errorf("%s: d: %w", path, err)
	}
	key := &ecdsa.PrivateKey{D: new(big.Int).SetBytes(d)}
	key.Curve = elliptic.P256()
	key.X, key.Y = key.Curve.ScalarBaseMult(d)
	return key, k.Kid, nil
}

// oneTimeToken mints the JWT a step-ca JWK provisioner accepts for one /1.0/sign call: signed ES256
// with the provisioner's key (kid in the header), issuer = provisioner name, audience = the sign
// URL, a unique jti (step-ca refuses a jti it has seen), and the CSR's names as sub and sans.
func oneTimeToken(key *ecdsa.PrivateKey, kid, issuer, audience, subject string, now time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	header, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": kid, "typ": "JWT"})
	claims, _ := json.Marshal(map[string]any{
		"iss":  issuer,
		"sub":  subject,
		"aud":  audience,
		"sans": []string{subject},
		"jti":  hex.EncodeToString(jti),
		"iat":  now.Unix(),
		"nbf":  now.Unix(),
		"exp":  now.Add(5 * time.Minute).Unix(),
	})
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
