// @peculiar/x509 reads decorator metadata while its modules load: reflect-metadata must come first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

// Node's own WebCrypto: faster than @peculiar/webcrypto and covers RSA, ECDSA and Ed25519.
x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
export * from "@peculiar/x509";
