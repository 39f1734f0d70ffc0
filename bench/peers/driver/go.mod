module tether.dev/bench/peers/driver

go 1.22
