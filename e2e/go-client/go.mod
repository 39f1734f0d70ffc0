module tether.dev/e2e/go-client

go 1.22
