module tether.dev/shared/test/pki/go-verify

go 1.22
