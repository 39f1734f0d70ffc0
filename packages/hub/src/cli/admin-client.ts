/**
 * The CLI's client of the internal API. Paths, methods and bodies come from the contract's route
 * table; a non-2xx answer becomes an AdminApiError carrying the hub's `error` text.
 */
import { request } from "undici";
import {
  fillPath,
  routes,
  type AdminTokenRequest,
  type AdminTokenResponse,
  type BootstrapKubeconfigRequest,
  type CaRotateRequest,
  type CaStatus,
  type ErrorBody,
  type RouteName,
  type RuntimeList,
  type RuntimeView,
  type TokenRequest,
  type TokenResponse,
} from "@tether/shared/contract";

export class AdminApiError extends Error {
  override name = "AdminApiError";
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const TIMEOUT_MS = 30_000;

export class AdminClient {
  readonly #baseUrl: string;
  readonly #token: string | undefined;

  constructor(baseUrl: string, token: string | undefined) {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
    this.#token = token;
  }

  async #call(
    route: RouteName,
    options: { params?: Record<string, string>; body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<string> {
    const spec = routes[route];
    const url = this.#baseUrl + fillPath(spec.path, options.params);
    const headers: Record<string, string> = { ...options.headers };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await request(url, {
        method: spec.method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
    } catch (error) {
      throw new AdminApiError(
        0,
        `cannot reach the hub's internal API at ${this.#baseUrl}: ${(error as Error).message}`,
      );
    }
    const text = await response.body.text();
    if (response.statusCode >= 300) {
      let message = text;
      try {
        message = (JSON.parse(text) as ErrorBody).error;
      } catch {
        // Not the hub's error body (a proxy in between?): show the text as it came.
      }
      throw new AdminApiError(
        response.statusCode,
        `${spec.method} ${url}: ${response.statusCode} ${message}`,
      );
    }
    return text;
  }

  async createToken(tenant: string, group: string, body: TokenRequest): Promise<TokenResponse> {
    const text = await this.#call("createToken", { headers: { tenant, group }, body });
    return JSON.parse(text) as TokenResponse;
  }

  async bootstrapKubeconfig(
    id: string,
    body: BootstrapKubeconfigRequest,
    subject?: { tenant: string; group: string },
  ): Promise<string> {
    return this.#call("bootstrapKubeconfig", { params: { id }, body, headers: subject && { ...subject } });
  }

  async listRuntimes(): Promise<RuntimeView[]> {
    return (JSON.parse(await this.#call("listRuntimes")) as RuntimeList).runtimes;
  }

  async getRuntime(id: string): Promise<RuntimeView> {
    return JSON.parse(await this.#call("getRuntime", { params: { id } })) as RuntimeView;
  }

  async createAdminToken(body: AdminTokenRequest): Promise<AdminTokenResponse> {
    return JSON.parse(await this.#call("createAdminToken", { body })) as AdminTokenResponse;
  }

  async revokeAdminToken(id: string): Promise<void> {
    await this.#call("revokeAdminToken", { params: { id } });
  }

  async revokeByHash(hash: string): Promise<void> {
    await this.#call("revokeByHash", { body: { hash } });
  }

  async deleteRuntime(id: string): Promise<void> {
    await this.#call("deleteRuntime", { params: { id } });
  }

  async caStatus(): Promise<CaStatus> {
    return JSON.parse(await this.#call("caStatus")) as CaStatus;
  }

  async caRotate(body: CaRotateRequest): Promise<CaStatus> {
    return JSON.parse(await this.#call("caRotate", { body })) as CaStatus;
  }

  async caActivate(sha256: string | undefined): Promise<CaStatus> {
    return JSON.parse(await this.#call("caActivate", { body: { sha256 } })) as CaStatus;
  }

  async caRetire(sha256: string, force: boolean): Promise<CaStatus> {
    return JSON.parse(await this.#call("caRetire", { body: { sha256, force } })) as CaStatus;
  }
}
