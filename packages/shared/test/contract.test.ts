import t from "tap";
import { Ajv } from "ajv";
import {
  ContractError,
  checkShape,
  swaggerRefResolver,
  ErrorMessages,
  bootstrapKubeconfigRequestSchema,
  certificatesResponseSchema,
  checkCertificatesResponse,
  checkCsrInfo,
  checkManagementInfo,
  csrInfoSchema,
  csrRequestSchema,
  errorBodySchema,
  fillPath,
  keyAlgorithms,
  managementInfoSchema,
  openApiDocumentBase,
  revocationByHashRequestSchema,
  routeList,
  routes,
  routesFor,
  runtimeListSchema,
  runtimeViewSchema,
  subjectFieldMessages,
  tokenHeadersSchema,
  tokenQuerySchema,
  tokenRequestSchema,
  tokenResponseSchema,
  type CertificatesResponse,
  type CsrInfo,
  type ManagementInfo,
  type RuntimeList,
  type RuntimeView,
} from "@tether/shared/contract";

// The same formats Fastify's ajv checks (through ajv-formats), without another dependency.
function validator(schema: object) {
  const ajv = new Ajv({
    strict: true,
    allowUnionTypes: true,
    allErrors: true,
    formats: {
      uri: (s: string) => URL.canParse(s),
      "date-time": (s: string) => /T/.test(s) && !isNaN(Date.parse(s)),
    },
  });
  return ajv.compile(schema);
}

const b64 = (text: string) => Buffer.from(text).toString("base64");
const template = {
  subject: "O=acme,OU=prod,L=Berlin,ST=Berlin,C=DE,CN=cluster-1",
  extensions: "",
  "key-algorithm": "rsa2048",
};
const csrInfo: CsrInfo = {
  csrUrl: "https://hub.example/v1/runtimes/certificates?token=T2",
  api: {
    infoUrl: "https://hub.example/v1/runtimes/management/info",
    certificatesUrl: "https://hub.example/v1/runtimes/certificates",
  },
  certificate: { ...template, extensions: "", "key-algorithm": "rsa2048" },
};
const certificates: CertificatesResponse = {
  crt: b64("-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nca\n"),
  clientCrt: b64("-----BEGIN CERTIFICATE-----\nleaf\n-----END CERTIFICATE-----\n"),
  caCrt: b64("-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n"),
};
const managementInfo: ManagementInfo = {
  clientIdentity: { tenant: "acme", group: "prod", runtimeId: "cluster-1" },
  urls: {
    renewCertUrl: "https://hub.example/v1/runtimes/certificates/renewals",
    revokeCertUrl: "https://hub.example/v1/runtimes/certificates/revocations",
  },
  certificate: csrInfo.certificate,
};
const hash = "ab".repeat(32);
const runtime: RuntimeView = {
  id: "cluster-1",
  tenant: "acme",
  group: "prod",
  labels: { env: "prod" },
  createdAt: "2026-01-01T00:00:00.000Z",
  lastSeenAt: "2026-01-02T00:00:00.000Z",
  deletedAt: null,
  currentCertificate: {
    serial: "0A1B",
    sha256: hash,
    notBefore: "2026-01-01T00:00:00Z",
    notAfter: "2026-01-31T00:00:00Z",
  },
  certificates: [
    {
      serial: "0A1B",
      sha256: hash,
      notBefore: "2026-01-01T00:00:00Z",
      notAfter: "2026-01-31T00:00:00Z",
      kind: "initial",
      issuedAt: "2026-01-01T00:05:00Z",
      issuerSha256: "cd".repeat(32),
    },
  ],
  revokedCertificates: [{ sha256: "ef".repeat(32), revokedAt: "2026-01-03T00:00:00Z", reason: "admin" }],
};
const runtimeList: RuntimeList = { runtimes: [runtime] };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** Every sample with one field removed, and with an extra key added to each closed object. */
function* mutations(value: unknown, path = ""): Generator<[string, unknown]> {
  if (Array.isArray(value)) {
    for (const [label, mutated] of mutations(value[0], `${path}[0]`))
      yield [label, [mutated, ...value.slice(1)]];
    return;
  }
  if (!isObject(value)) return;
  // labels are open by design: string to string, any key or none.
  if (path.endsWith("labels")) return;
  yield [`extra ${path}.eventsUrl`, { ...value, eventsUrl: "https://x/events" }];
  for (const key of Object.keys(value)) {
    const { [key]: _removed, ...rest } = value;
    yield [`missing ${path}.${key}`, rest];
    for (const [label, mutated] of mutations(value[key], `${path}.${key}`))
      yield [label, { ...value, [key]: mutated }];
  }
}

t.test(
  "response schemas accept the contract's shapes (docs/api.md) and refuse every missing or extra field",
  async (t) => {
    const cases: [string, object, unknown][] = [
      ["CsrInfo", csrInfoSchema, csrInfo],
      ["CertificatesResponse", certificatesResponseSchema, certificates],
      ["ManagementInfo", managementInfoSchema, managementInfo],
      ["ErrorBody", errorBodySchema, { code: 403, error: ErrorMessages.invalidToken }],
      [
        "TokenResponse",
        tokenResponseSchema,
        { url: "https://hub.example/v1/runtimes/signingRequests/info?token=T", token: "T" },
      ],
      ["RuntimeView", runtimeViewSchema, runtime],
      ["RuntimeList", runtimeListSchema, runtimeList],
    ];
    for (const [name, schema, sample] of cases) {
      const validate = validator(schema);
      t.ok(validate(sample), `${name} accepts the sample`, { errors: validate.errors });
      let refused = 0;
      for (const [label, mutated] of mutations(sample)) {
        t.notOk(validate(mutated), `${name} refuses ${label}`);
        refused++;
      }
      t.ok(refused > 2, `${name}: ${refused} mutations tried`);
    }
  },
);

t.test("api and urls never carry Kyma's metadata or events URLs", async (t) => {
  const csr = validator(csrInfoSchema);
  const mgmt = validator(managementInfoSchema);
  for (const key of ["metadataUrl", "eventsUrl", "eventsInfoUrl"]) {
    t.notOk(csr({ ...csrInfo, api: { ...csrInfo.api, [key]: "https://hub.example/x" } }), `api.${key}`);
    t.notOk(csr({ ...csrInfo, api: { ...csrInfo.api, [key]: null } }), `api.${key}: null`);
    t.notOk(
      mgmt({ ...managementInfo, urls: { ...managementInfo.urls, [key]: "https://hub.example/x" } }),
      `urls.${key}`,
    );
  }
});

t.test("field constraints", async (t) => {
  const info = validator(csrInfoSchema);
  t.notOk(
    info({ ...csrInfo, certificate: { ...template, "key-algorithm": "rsa1024" } }),
    "unknown key algorithm",
  );
  t.notOk(info({ ...csrInfo, certificate: { ...template, extensions: "x" } }), "extensions is always empty");
  t.notOk(info({ ...csrInfo, csrUrl: "/v1/runtimes/certificates" }), "URLs are absolute");
  for (const algorithm of keyAlgorithms) {
    t.ok(info({ ...csrInfo, certificate: { ...template, "key-algorithm": algorithm } }), algorithm);
  }
  t.notOk(validator(certificatesResponseSchema)({ ...certificates, crt: "not base64!" }), "crt is base64");

  const request = validator(tokenRequestSchema);
  t.ok(request({}), "empty token request");
  t.ok(request({ runtime: "a", labels: { a: "b" }, ttl: "1h30m" }), "full token request");
  for (const id of ["cluster-1", "a", "0", "a".repeat(63)])
    t.ok(request({ runtime: id }), `runtime id ${id}`);
  for (const id of ["", "-a", "a-", "A", "a_b", "a.b", "a".repeat(64)])
    t.notOk(request({ runtime: id }), `runtime id "${id}"`);
  t.notOk(request({ labels: { a: 1 } }), "label values are strings");
  for (const ttl of ["10", "ten minutes", "-5m", ""]) t.notOk(request({ ttl }), `ttl "${ttl}"`);
  t.notOk(request({ runtime: "a", bogus: 1 }), "unknown token request field");

  const headers = validator(tokenHeadersSchema);
  t.ok(headers({ tenant: "acme", group: "prod", "content-type": "application/json" }), "other headers pass");
  t.notOk(headers({ tenant: "acme" }), "group required");
  t.notOk(headers({ group: "prod" }), "tenant required");
  for (const bad of ["", "a,b", "a=b", "x".repeat(65)])
    t.notOk(headers({ tenant: bad, group: "g" }), `tenant "${bad}"`);

  const revocation = validator(revocationByHashRequestSchema);
  t.ok(revocation({ hash }), "lower-case hash");
  t.ok(revocation({ hash: hash.toUpperCase() }), "upper-case hash");
  t.notOk(revocation({ hash: hash.slice(1) }), "63 hex digits");
  t.notOk(revocation({}), "hash required");

  const bootstrap = validator(bootstrapKubeconfigRequestSchema);
  t.ok(bootstrap({}), "ttl optional");
  t.ok(bootstrap({ ttl: "24h" }), "ttl");
  t.notOk(bootstrap({ ttl: 24 }), "ttl is a string");
});

t.test("bad input reaches the handler where the contract fixes the answer", async (t) => {
  const csr = validator(csrRequestSchema);
  t.ok(
    csr({ csr: "%%% not base64 %%%" }),
    "non-base64 csr passes validation: the handler sends the Kyma message",
  );
  t.notOk(csr({}), "csr required");
  t.ok(
    validator(tokenQuerySchema)({}),
    "missing token passes validation: the handler sends 403 Token not provided.",
  );
});

t.test("ErrorMessages are the exact strings of docs/api.md#errors", async (t) => {
  t.equal(ErrorMessages.tokenNotProvided, "Token not provided.");
  t.equal(ErrorMessages.invalidToken, "Invalid token.");
  t.equal(
    ErrorMessages.invalidBase64,
    "There was an error while parsing the base64 content. An incorrect value was provided.",
  );
  t.equal(ErrorMessages.invalidCommonName, "CSR: Invalid common name provided.");
  t.equal(ErrorMessages.invalidCountry, "CSR: Invalid country provided.");
  t.equal(ErrorMessages.invalidOrganization, "CSR: Invalid organization provided.");
  t.equal(ErrorMessages.invalidOrganizationalUnit, "CSR: Invalid organizational unit provided.");
  t.equal(ErrorMessages.invalidLocality, "CSR: Invalid locality provided.");
  t.equal(ErrorMessages.invalidProvince, "CSR: Invalid province provided.");
  t.equal(ErrorMessages.clientCertificateRequired, "Client certificate required.");
  t.equal(ErrorMessages.certificateRevoked, "Certificate has been revoked.");
  t.same(Object.values(subjectFieldMessages).sort(), [
    "CSR: Invalid common name provided.",
    "CSR: Invalid country provided.",
    "CSR: Invalid locality provided.",
    "CSR: Invalid organization provided.",
    "CSR: Invalid organizational unit provided.",
    "CSR: Invalid province provided.",
  ]);
  const all = Object.values(ErrorMessages);
  t.equal(new Set(all).size, all.length, "every message is distinct, so a client can tell the cases apart");
});

t.test("the route table holds every route of docs/api.md", async (t) => {
  const expected = [
    "external GET /v1/runtimes/signingRequests/info token 200",
    "external POST /v1/runtimes/certificates token 201",
    "external GET /v1/runtimes/management/info mtls 200",
    "external GET /v1/runtimes/management/trust mtls 200",
    "external POST /v1/runtimes/certificates/renewals mtls 201",
    "external POST /v1/runtimes/certificates/revocations mtls 201",
    "external GET /v1 none 301",
    "external GET /v1/api.yaml none 200",
    "external GET /v1/crl/:issuer.crl none 200",
    "internal POST /v1/runtimes/tokens admin 201",
    "internal POST /v1/runtimes/certificates/revocations admin 201",
    "internal POST /v1/runtimes/:id/bootstrap-kubeconfig admin 200",
    "internal GET /v1/runtimes admin 200",
    "internal GET /v1/runtimes/:id admin 200",
    "internal DELETE /v1/runtimes/:id admin 204",
    "internal GET /metrics admin 200",
    "internal POST /v1/admin-tokens admin 201",
    "internal DELETE /v1/admin-tokens/:id admin 204",
    "internal GET /v1/cas admin 200",
    "internal POST /v1/cas admin 201",
    "internal POST /v1/cas/activation admin 200",
    "internal POST /v1/cas/retirement admin 200",
  ];
  const success = (r: (typeof routeList)[number]) =>
    Object.keys(r.schema.response).find((s) => Number(s) < 400);
  t.same(
    routeList.map((r) => `${r.listener} ${r.method} ${r.path} ${r.auth} ${success(r)}`).sort(),
    expected.sort(),
  );
  t.equal(routesFor("external").length, 9);
  t.equal(routesFor("internal").length, 13);
  t.same(
    routeList
      .filter((r) => r.decoding === "go")
      .map((r) => `${r.listener} ${r.method} ${r.path}`)
      .sort(),
    [
      "external GET /v1/runtimes/management/info",
      "external GET /v1/runtimes/signingRequests/info",
      "external POST /v1/runtimes/certificates",
      "external POST /v1/runtimes/certificates/renewals",
      "external POST /v1/runtimes/certificates/revocations",
      "internal POST /v1/runtimes/certificates/revocations",
      "internal POST /v1/runtimes/tokens",
    ],
    "Go-style decoding on exactly the routes Kyma's Connector Service has",
  );
  const ids = routeList.map((r) => r.schema.operationId);
  t.equal(new Set(ids).size, ids.length, "operationIds are unique");

  const schemes = Object.keys(openApiDocumentBase.components.securitySchemes);
  const errorBody = validator(errorBodySchema);
  for (const route of routeList) {
    for (const requirement of route.schema.security ?? []) {
      for (const name of Object.keys(requirement))
        t.ok(schemes.includes(name), `${route.schema.operationId}: scheme ${name}`);
    }
    for (const [status, schema] of Object.entries(route.schema.response)) {
      if (Number(status) < 400) continue;
      t.ok(
        validator(schema)({ code: Number(status), error: "x" }),
        `${route.schema.operationId} ${status} is an ErrorBody`,
      );
    }
    const statuses = Object.keys(route.schema.response).map(Number);
    if (route.auth === "token")
      t.ok(statuses.includes(403) && statuses.includes(429), `${route.path}: 403 and 429`);
    if (route.auth === "mtls") t.ok(statuses.includes(403), `${route.path}: 403`);
    if (route.auth === "admin")
      t.ok(statuses.includes(401) && statuses.includes(403), `${route.path}: 401 and 403`);
    if (route.schema.body) t.ok(statuses.includes(400), `${route.path}: 400 for a bad body`);
    for (const part of ["querystring", "headers", "params", "body"] as const) {
      const schema = route.schema[part];
      if (schema) t.doesNotThrow(() => validator(schema), `${route.schema.operationId} ${part} compiles`);
    }
  }
  t.ok(errorBody({ code: 400, error: "x" }));
  t.equal(routes.issueCertificate.schema.body, csrRequestSchema);
  t.equal(routes.renewCertificate.schema.body, csrRequestSchema, "issue and renewal take the same body");
});

t.test("fillPath substitutes and encodes parameters", async (t) => {
  t.equal(fillPath(routes.getRuntime.path, { id: "cluster-1" }), "/v1/runtimes/cluster-1");
  t.equal(
    fillPath(routes.bootstrapKubeconfig.path, { id: "a/b" }),
    "/v1/runtimes/a%2Fb/bootstrap-kubeconfig",
  );
  t.equal(fillPath(routes.listRuntimes.path), "/v1/runtimes");
  t.throws(() => fillPath(routes.deleteRuntime.path), /parameter "id" of \/v1\/runtimes\/:id is missing/);
});

t.test("the spoke's checker accepts hub responses and names the wrong field", async (t) => {
  t.same(checkCsrInfo(csrInfo), csrInfo);
  t.same(checkCertificatesResponse(certificates), certificates);
  t.same(checkManagementInfo(managementInfo), managementInfo);

  const kyma = { ...csrInfo, api: { ...csrInfo.api, metadataUrl: "https://x/m", eventsUrl: "https://x/e" } };
  t.same(checkCsrInfo(kyma), csrInfo, "a Kyma connector's extra URLs are accepted and dropped");

  const fails = (fn: () => unknown, message: string | RegExp, field: string) => {
    t.throws(fn, { name: "ContractError", message, field });
  };
  fails(() => checkCsrInfo(null), "CSR info: the body must be an object, got null", "");
  fails(() => checkCsrInfo("<html>"), 'CSR info: the body must be an object, got "<html>"', "");
  const { infoUrl: _, ...api } = csrInfo.api;
  fails(() => checkCsrInfo({ ...csrInfo, api }), 'CSR info: field "api.infoUrl" is missing', "api.infoUrl");
  fails(
    () => checkCsrInfo({ ...csrInfo, csrUrl: 42 }),
    'CSR info: field "csrUrl" must be a string, got 42',
    "csrUrl",
  );
  fails(
    () => checkCsrInfo({ ...csrInfo, csrUrl: "certificates?token=x" }),
    'CSR info: field "csrUrl" must be an absolute URL, got "certificates?token=x"',
    "csrUrl",
  );
  fails(
    () => checkCsrInfo({ ...csrInfo, certificate: { ...template, "key-algorithm": "dsa" } }),
    /field "certificate.key-algorithm" must be one of "rsa2048", .*"ed25519", got "dsa"/,
    "certificate.key-algorithm",
  );
  fails(
    () => checkCertificatesResponse({ ...certificates, caCrt: "-----BEGIN" }),
    'certificates response: field "caCrt" has an invalid format: "-----BEGIN"',
    "caCrt",
  );
  fails(
    () => checkCertificatesResponse({ ...certificates, clientCrt: "" }),
    'certificates response: field "clientCrt" is empty',
    "clientCrt",
  );
  const { runtimeId: _id, ...identity } = managementInfo.clientIdentity;
  fails(
    () => checkManagementInfo({ ...managementInfo, clientIdentity: identity }),
    'management info: field "clientIdentity.runtimeId" is missing',
    "clientIdentity.runtimeId",
  );
  fails(
    () => checkManagementInfo({ ...managementInfo, urls: [] }),
    'management info: field "urls" must be an object, got an array',
    "urls",
  );
  t.ok(new ContractError("x", "", "y") instanceof Error);
});

t.test("checkShape reads any contract schema, e.g. for the CLI", async (t) => {
  t.same(checkShape<RuntimeList>(runtimeListSchema, runtimeList), runtimeList);
  const detached = { ...runtime, currentCertificate: null, lastSeenAt: null };
  t.same(checkShape(runtimeViewSchema, detached), detached, "null where the schema allows it");
  t.throws(() => checkShape<unknown>(runtimeViewSchema, { ...runtime, currentCertificate: 5 }, "runtime"), {
    message: 'runtime: field "currentCertificate" must be an object or null, got 5',
  });
  t.throws(
    () =>
      checkShape<unknown>(
        runtimeListSchema,
        { runtimes: [{ ...runtime, id: "a".repeat(64) }] },
        "runtime list",
      ),
    {
      message: 'runtime list: field "runtimes[0].id" is longer than 63',
    },
  );
  t.throws(
    () =>
      checkShape<unknown>(
        runtimeListSchema,
        { runtimes: [{ ...runtime, labels: { a: 1 } }] },
        "runtime list",
      ),
    {
      message: 'runtime list: field "runtimes[0].labels.a" must be a string, got 1',
    },
  );
  t.throws(() => checkShape<unknown>(errorBodySchema, { code: "403", error: "x" }, "error"), {
    message: 'error: field "code" must be an integer, got "403"',
  });
  t.throws(
    () =>
      checkShape<unknown>(tokenResponseSchema, { url: "https://h/" + "x".repeat(80), token: "" }, "token"),
    {
      message: 'token: field "token" is empty',
    },
  );
});

t.test("swaggerRefResolver names components after $id", async (t) => {
  t.equal(swaggerRefResolver.buildLocalReference({ $id: "CsrInfo" }, "", "", 0), "CsrInfo");
  t.equal(swaggerRefResolver.buildLocalReference({}, "", "", 3), "def-3");
});
