/**
 * Which CA must a spoke trust to reach the hub? `token create -o yaml` asks the hub's public endpoint
 * the way a spoke would: if the system trust store accepts its certificate, no caBundle is needed;
 * otherwise the top of the chain it serves (the hub CA, for a serving certificate the hub issued
 * itself; the certificate itself, if self-signed) is the caBundle.
 */
import { connect, type DetailedPeerCertificate } from "node:tls";
import { derToPem } from "@tether/shared/pki";

const TIMEOUT_MS = 10_000;

export function probeServingCa(
  publicUrl: string,
): Promise<{ publiclyTrusted: boolean; caPem: string | undefined }> {
  const url = new URL(publicUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: url.hostname,
      port: Number(url.port || 443),
      servername: url.hostname,
      rejectUnauthorized: false,
      timeout: TIMEOUT_MS,
    });
    socket.once("secureConnect", () => {
      const top = topOfChain(socket.getPeerCertificate(true));
      const publiclyTrusted = socket.authorized;
      socket.destroy();
      resolve({ publiclyTrusted, caPem: top && derToPem(new Uint8Array(top.raw)) });
    });
    socket.once("timeout", () =>
      socket.destroy(new Error(`no TLS answer from ${url.host} within ${TIMEOUT_MS / 1000} s`)),
    );
    socket.once("error", reject);
  });
}

function topOfChain(leaf: DetailedPeerCertificate): DetailedPeerCertificate | undefined {
  if (!leaf.raw) return undefined;
  let cert = leaf;
  // Node links a self-signed certificate to itself.
  while (
    cert.issuerCertificate?.raw &&
    cert.issuerCertificate !== cert &&
    !cert.issuerCertificate.raw.equals(cert.raw)
  ) {
    cert = cert.issuerCertificate;
  }
  return cert;
}
