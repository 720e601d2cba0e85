// The shared harness of the JavaScript interop suite.
//
// One release server per test file (SQLite in a temporary directory, a chosen root token, cheap
// argon2 settings), a small native `/v1` client with the root token, and a factory for fresh
// organizations with an `org_admin` API key, so that every test works on its own organization.
// PORTCULLIS_BIN names the binary (scripts/test sets it); the default is target/release/portcullis.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, openSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT_TOKEN = 'interop-js-root-token-0123456789abcdef';
// Satisfies the built-in default policy (15..128 code points, not in the blocklist).
export const GOOD_PASSWORD = 'correct horse battery staple 9';

function binary() {
  const path = process.env.PORTCULLIS_BIN
    ? resolve(process.env.PORTCULLIS_BIN)
    : resolve(HERE, '../../target/release/portcullis');
  if (!existsSync(path)) {
    throw new Error(`the portcullis binary is not at ${path}: build it or set PORTCULLIS_BIN`);
  }
  return path;
}

/** Starts a server; resolves to {baseUrl, native, stop()}. */
export async function startServer() {
  const workdir = mkdtempSync(join(tmpdir(), 'portcullis-js-'));
  const env = Object.fromEntries(
    // An outer PORTCULLIS_* configuration must not leak into the server under test.
    Object.entries(process.env).filter(([k]) => !k.startsWith('PORTCULLIS_')),
  );
  Object.assign(env, {
    PORTCULLIS_BOOTSTRAP_TOKEN: ROOT_TOKEN,
    PORTCULLIS_HASHING__ARGON2_MEMORY_KIB: '64',
    PORTCULLIS_HASHING__ARGON2_ITERATIONS: '1',
    PORTCULLIS_LOG_LEVEL: 'warn',
  });
  const stderrPath = join(workdir, 'stderr.log');
  const proc = spawn(
    binary(),
    ['serve', '--listen', '127.0.0.1:0', '--database-url', `sqlite://${workdir}/p.db`],
    { cwd: workdir, env, stdio: ['ignore', 'pipe', openSync(stderrPath, 'w')] },
  );
  const addr = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error('portcullis did not start in 30 s')), 30_000);
    const lines = createInterface({ input: proc.stdout });
    lines.on('line', (line) => {
      if (line.startsWith('listening on ')) {
        clearTimeout(timer);
        ok(line.slice('listening on '.length).trim());
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`portcullis exited (${code}): ${readFileSync(stderrPath, 'utf8').slice(-4000)}`));
    });
  });
  const baseUrl = `http://${addr}`;
  return {
    baseUrl,
    native: new Native(baseUrl, ROOT_TOKEN),
    stderr: () => readFileSync(stderrPath, 'utf8'),
    async stop() {
      const exited = new Promise((ok) => proc.once('exit', ok));
      proc.kill('SIGTERM');
      await exited;
      rmSync(workdir, { recursive: true, force: true });
    },
  };
}

/** A small `/v1` client (fetch) with the root token unless another token is given. */
export class Native {
  constructor(baseUrl, token) {
    this.baseUrl = baseUrl;
    this.token = token;
  }

  async request(method, path, { body, token, expect } = {}) {
    const headers = {};
    const tok = token === undefined ? this.token : token;
    if (tok) headers.authorization = `Bearer ${tok}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(this.baseUrl + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (expect !== undefined && res.status !== expect) {
      throw new Error(`${method} ${path}: expected ${expect}, got ${res.status}: ${text.slice(0, 2000)}`);
    }
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  }

  async createOrg(id = randomUUID()) {
    return (await this.request('POST', '/v1/orgs', { body: { id, name: `org ${id}` }, expect: 201 })).body;
  }

  async createApiKey(org, roles = ['org_admin']) {
    return (await this.request('POST', `/v1/orgs/${org}/api-keys`, {
      body: { name: 'interop-js', roles }, expect: 201,
    })).body;
  }

  /** Huawei-style access key: {id: AK, secret: SK}. */
  async createAccessKey(org, roles = ['org_admin']) {
    return (await this.request('POST', `/v1/orgs/${org}/access-keys`, {
      body: { name: 'interop-js-ak', roles }, expect: 201,
    })).body;
  }

  /** The effective policy: {section: {is_default, details, value}}. */
  async policy(org) {
    return (await this.request('GET', `/v1/orgs/${org}/policy`, { expect: 200 })).body;
  }

  async patchSection(org, name, patch) {
    return (await this.request('PATCH', `/v1/orgs/${org}/policy/${name}`, { body: patch, expect: 200 })).body;
  }

  /** The policy version of an organization (changes on every effective write). */
  async policyVersion(org) {
    return (await this.request('GET', `/v1/orgs/${org}/policy`, { expect: 200 })).headers.get('etag');
  }
}

/** A fresh organization with an org_admin API key. */
export async function makeOrg(native) {
  const org = await native.createOrg();
  const admin = await native.createApiKey(org.id);
  return { id: org.id, adminKey: admin.key, admin };
}
