// Go's crypto/x509 as the judge of what the hub writes (packages/shared/test/pki/interop.test.ts):
//
//	go-verify cert <ca.pem> <leaf.pem> client|server [dns-name]
//	go-verify crl <ca.pem> <crl.der>
//	go-verify csr <csr.pem>
//
// prints "ok" and exits 0, or prints the error and exits 1.
package main

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("ok")
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: go-verify cert|crl|csr FILE...")
	}
	switch args[0] {
	case "cert":
		if len(args) < 4 {
			return fmt.Errorf("usage: go-verify cert CA LEAF client|server [DNS]")
		}
		ca, err := readCertificate(args[1])
		if err != nil {
			return err
		}
		leaf, err := readCertificate(args[2])
		if err != nil {
			return err
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca)
		options := x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if args[3] == "server" {
			options.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		}
		if len(args) > 4 {
			options.DNSName = args[4]
		}
		_, err = leaf.Verify(options)
		return err
	case "crl":
		ca, err := readCertificate(args[1])
		if err != nil {
			return err
		}
		der, err := os.ReadFile(args[2])
		if err != nil {
			return err
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return err
		}
		return crl.CheckSignatureFrom(ca)
	case "csr":
		block, err := readPem(args[1], "CERTIFICATE REQUEST")
		if err != nil {
			return err
		}
		csr, err := x509.ParseCertificateRequest(block)
		if err != nil {
			return err
		}
		return csr.CheckSignature()
	}
	return fmt.Errorf("unknown command %q", args[0])
}

func readPem(file, label string) ([]byte, error) {
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(text)
	if block == nil || block.Type != label {
		return nil, fmt.Errorf("%s: no %s PEM block", file, label)
	}
	return block.Bytes, nil
}

func readCertificate(file string) (*x509.Certificate, error) {
	der, err := readPem(file, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
