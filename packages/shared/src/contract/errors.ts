/**
 * Error bodies and messages. Kyma clients match on the exact text of the docs/api.md#errors messages, so they
 * live here once; the hub sends them and tests compare against them. Status codes are in comments.
 */

export interface ErrorBody {
  code: number;
  error: string;
}

export const errorBodySchema = {
  $id: "ErrorBody",
  type: "object",
  required: ["code", "error"],
  additionalProperties: false,
  properties: {
    code: { type: "integer", description: "The HTTP status, repeated." },
    error: { type: "string", description: "What went wrong, in words an operator can act on." },
  },
} as const;

/** The subject fields the hub compares, in the order it compares them (docs/pki.md#checks-on-a-csr: CN first). */
export const subjectFields = ["CN", "C", "O", "OU", "L", "ST"] as const;
export type SubjectField = (typeof subjectFields)[number];

export const ErrorMessages = {
  // 403: no token in the query (nor a bootstrap bearer token where one is accepted).
  tokenNotProvided: "Token not provided.",
  // 403: unknown, expired, already used, or minted for another purpose.
  invalidToken: "Invalid token.",
  // 400: the `csr` field is not base64.
  invalidBase64: "There was an error while parsing the base64 content. An incorrect value was provided.",
  // 400: the CSR's subject differs from the assigned one, one message per field.
  invalidCommonName: "CSR: Invalid common name provided.",
  invalidCountry: "CSR: Invalid country provided.",
  invalidOrganization: "CSR: Invalid organization provided.",
  invalidOrganizationalUnit: "CSR: Invalid organizational unit provided.",
  invalidLocality: "CSR: Invalid locality provided.",
  invalidProvince: "CSR: Invalid province provided.",
  // 400: the decoded text is not a PEM certificate signing request.
  csrNotPem: "CSR: The content is not a PEM-encoded certificate signing request.",
  // 400: PEM armour present but the request inside cannot be parsed.
  csrUnparsable: "CSR: The certificate signing request could not be parsed.",
  // 400: the CSR is not signed by the key it carries.
  csrBadSignature: "CSR: The signature of the certificate signing request is invalid.",
  // 400: the key is weaker than the advertised key-algorithm or not in the allow-list; the hub may
  // append which key it found and which it requires.
  csrKeyNotAllowed: "CSR: The key algorithm or key size is not allowed.",
  // 403: an mTLS route reached without a client certificate.
  clientCertificateRequired: "Client certificate required.",
  // 403: the client certificate does not chain to a CA the hub trusts.
  untrustedCertificate: "Client certificate was not issued by a trusted hub CA.",
  // 403: outside its validity period (with the hub's clock leeway).
  expiredCertificate: "Client certificate has expired or is not yet valid.",
  // 403: chains to a hub CA but the hub has no record of issuing it.
  unknownCertificate: "Client certificate is not known to the hub.",
  // 403: on every mTLS route.
  certificateRevoked: "Certificate has been revoked.",
  // 403: the client certificate chains to a CA the hub has retired (docs/pki.md#ca-rotation); only a
  // new enrolment (token or bootstrap kubeconfig) gets the cluster a certificate again.
  issuerRetired: "Client certificate was issued by a retired hub CA; enrol the cluster again.",
  // 401: internal API without `Authorization: Bearer <admin token>`; a wrong token is `invalidToken`.
  adminTokenRequired: "Admin token required.",
  // 404: internal API, unknown or deleted runtime id.
  runtimeNotFound: "Runtime not found.",
  // 413
  bodyTooLarge: "Request body is too large.",
  // 429
  rateLimited: "Too many requests, retry later.",
  // 403: an mTLS route called with a certificate renewed longer ago than --superseded-grace.
  certificateSuperseded: "Certificate has been superseded by its renewal.",
  // 429: more renewals of one runtime than --renewal-limit within --renewal-limit-window.
  renewalsRateLimited: "Too many renewals for this runtime, retry later.",
  // 503: the hub's store cannot be read or written; nothing was changed, the same request may be retried.
  storeUnavailable: "The hub's store is unavailable; retry later.",
} as const;

export type ErrorMessage = (typeof ErrorMessages)[keyof typeof ErrorMessages];

/** The message for a subject field that differs from the assigned subject. */
export const subjectFieldMessages: Record<SubjectField, ErrorMessage> = {
  CN: ErrorMessages.invalidCommonName,
  C: ErrorMessages.invalidCountry,
  O: ErrorMessages.invalidOrganization,
  OU: ErrorMessages.invalidOrganizationalUnit,
  L: ErrorMessages.invalidLocality,
  ST: ErrorMessages.invalidProvince,
};
