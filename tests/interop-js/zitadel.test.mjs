// ZITADEL through its official JavaScript SDKs, on the one port portcullis listens on:
// @zitadel/node (nice-grpc: v1 management and admin and v2beta settings over gRPC, cleartext
// HTTP/2) and @zitadel/client (connect-es: v2 settings and v1 management over gRPC, Connect
// binary, Connect JSON and gRPC-web). Writes are checked in the canonical policy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
// The package has no entry point ("main" or "exports"): its modules are imported by path.
import {
  createManagementClient,
  createAdminClient,
  createSettingsClient,
  createAccessTokenInterceptor,
} from '@zitadel/node/dist/api/index.js';
import { Metadata, ClientError, Status } from 'nice-grpc';
import { NewAuthorizationBearerInterceptor } from '@zitadel/client';
import { ConnectError, Code } from '@connectrpc/connect';
import { createServerTransport } from '@zitadel/client/node';
import { createSettingsServiceClient } from '@zitadel/client/v2';
import { createManagementServiceClient } from '@zitadel/client/v1';
import { createClientTransport } from '@zitadel/client/web';
import { createConnectTransport } from '@connectrpc/connect-node';
import { startServer, makeOrg, ROOT_TOKEN } from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

/** The default password policy of a canonical policy. */
function defaultPassword(policy) {
  return policy.password.value.find((p) => p.is_default);
}

/** @zitadel/node's management client for a fresh organization's admin key. */
async function nodeManagement() {
  const org = await makeOrg(server.native);
  const client = createManagementClient(server.baseUrl, createAccessTokenInterceptor(org.adminKey));
  const metadata = () => ({ metadata: Metadata({ 'x-zitadel-orgid': org.id }) });
  return { org, client, metadata };
}

test('@zitadel/node: lockout policy read, added and updated over gRPC, enforced in the canonical policy', async () => {
  const { org, client, metadata } = await nodeManagement();
  const before = await client.getLockoutPolicy({}, metadata());
  assert.equal(before.isDefault, true);
  assert.equal(before.policy.isDefault, true);
  assert.equal(before.policy.maxPasswordAttempts.toNumber(), 10);
  assert.equal(before.policy.details.resourceOwner.length > 0, true);

  const added = await client.addCustomLockoutPolicy({ maxPasswordAttempts: 4, maxOtpAttempts: 2 }, metadata());
  assert.equal(added.details.resourceOwner, org.id);
  assert.ok(added.details.changeDate instanceof Date);

  const read = await client.getLockoutPolicy({}, metadata());
  assert.equal(read.isDefault, false);
  assert.equal(read.policy.maxPasswordAttempts.toNumber(), 4);
  assert.equal(read.policy.maxOtpAttempts.toNumber(), 2);
  let lockout = (await server.native.policy(org.id)).lockout;
  assert.equal(lockout.is_default, false);
  assert.equal(lockout.value.max_password_attempts, 4);
  assert.equal(lockout.value.max_otp_attempts, 2);

  await client.updateCustomLockoutPolicy({ maxPasswordAttempts: 6, maxOtpAttempts: 2 }, metadata());
  lockout = (await server.native.policy(org.id)).lockout;
  assert.equal(lockout.value.max_password_attempts, 6);

  await client.resetLockoutPolicyToDefault({}, metadata());
  assert.equal((await server.native.policy(org.id)).lockout.is_default, true);
});

test('@zitadel/node: password complexity written over gRPC reads back and reaches the canonical policy', async () => {
  const { org, client, metadata } = await nodeManagement();
  await client.addCustomPasswordComplexityPolicy(
    { minLength: 16, hasUppercase: true, hasLowercase: true, hasNumber: true, hasSymbol: false },
    metadata(),
  );
  const read = (await client.getPasswordComplexityPolicy({}, metadata())).policy;
  assert.equal(read.minLength.toNumber(), 16);
  assert.equal(read.hasUppercase, true);
  assert.equal(read.hasSymbol, false);
  assert.equal(read.isDefault, false);
  const password = defaultPassword(await server.native.policy(org.id));
  assert.equal(password.min_length, 16);
  assert.equal(password.min_uppercase, 1);
  assert.equal(password.min_digits, 1);
  assert.equal(password.min_special, 0);

  const login = (await client.getLoginPolicy({}, metadata())).policy;
  assert.equal(login.allowUsernamePassword, true);
  assert.equal(login.passwordCheckLifetime.seconds.toNumber(), 864000);
});

test('@zitadel/node: admin client reads and writes the instance default lockout policy', async () => {
  const admin = createAdminClient(server.baseUrl, createAccessTokenInterceptor(ROOT_TOKEN));
  const before = (await admin.getLockoutPolicy({})).policy;
  assert.equal(before.isDefault, true);
  await admin.updateLockoutPolicy({ maxPasswordAttempts: 9, maxOtpAttempts: before.maxOtpAttempts.toNumber() });
  const instance = await server.native.request('GET', '/v1/instance/policy', { expect: 200 });
  assert.equal(instance.body.lockout.value.max_password_attempts, 9);
  assert.equal((await admin.getLockoutPolicy({})).policy.maxPasswordAttempts.toNumber(), 9);
  // Put the default back for the other tests.
  await admin.updateLockoutPolicy({ maxPasswordAttempts: 10, maxOtpAttempts: before.maxOtpAttempts.toNumber() });
});

test('@zitadel/node: errors come as gRPC status codes', async () => {
  const { org } = await nodeManagement();
  const anonymous = createManagementClient(server.baseUrl, createAccessTokenInterceptor('not-a-key'));
  await assert.rejects(
    anonymous.getLockoutPolicy({}, { metadata: Metadata({ 'x-zitadel-orgid': org.id }) }),
    (err) => err instanceof ClientError && err.code === Status.UNAUTHENTICATED,
  );
  const { client } = await nodeManagement();
  await assert.rejects(
    client.getLockoutPolicy({}, { metadata: Metadata({ 'x-zitadel-orgid': org.id }) }),
    (err) => err instanceof ClientError && err.code === Status.NOT_FOUND,
    'another organization is not found',
  );
  const own = await nodeManagement();
  await assert.rejects(
    own.client.updateCustomLockoutPolicy({ maxPasswordAttempts: 5 }, own.metadata()),
    (err) => err instanceof ClientError && err.code === Status.NOT_FOUND && /POLICY-notfound|NotFound|not found/i.test(err.details),
  );
  assert.equal((await server.native.policy(own.org.id)).lockout.is_default, true, 'nothing was written');
});

test('@zitadel/node: the v2beta settings client reads an organization\'s settings over gRPC', async () => {
  const { org, client, metadata } = await nodeManagement();
  await client.addCustomLockoutPolicy({ maxPasswordAttempts: 3, maxOtpAttempts: 1 }, metadata());
  const settings = createSettingsClient(server.baseUrl, createAccessTokenInterceptor(org.adminKey));
  const lockout = await settings.getLockoutSettings({ ctx: { orgId: org.id } });
  assert.equal(lockout.settings.maxPasswordAttempts.toNumber(), 3);
  assert.equal(lockout.settings.maxOtpAttempts.toNumber(), 1);
  assert.equal(lockout.settings.resourceOwnerType, 2, 'RESOURCE_OWNER_TYPE_ORG');
  assert.equal(lockout.details.resourceOwner, org.id);
  const expiry = await settings.getPasswordExpirySettings({ ctx: { instance: true } });
  assert.equal(expiry.settings.resourceOwnerType, 1, 'RESOURCE_OWNER_TYPE_INSTANCE');
});

/** Reads the four v2 settings of `org` through a @zitadel/client transport. */
async function readSettings(transport, org) {
  const settings = createSettingsServiceClient(transport);
  const ctx = { resourceOwner: { case: 'orgId', value: org } };
  return {
    lockout: await settings.getLockoutSettings({ ctx }),
    complexity: await settings.getPasswordComplexitySettings({ ctx }),
    expiry: await settings.getPasswordExpirySettings({ ctx }),
    login: await settings.getLoginSettings({ ctx }),
  };
}

test('@zitadel/client: v2 settings over gRPC, Connect binary, Connect JSON and gRPC-web answer alike', async () => {
  const org = await makeOrg(server.native);
  await server.native.patchSection(org.id, 'lockout', { max_password_attempts: 7 });
  const interceptors = [NewAuthorizationBearerInterceptor(org.adminKey)];
  const grpc = createServerTransport(org.adminKey, { baseUrl: server.baseUrl, httpVersion: '2' });
  const binary = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '1.1', useBinaryFormat: true, interceptors });
  const json = createConnectTransport({ baseUrl: server.baseUrl, httpVersion: '1.1', useBinaryFormat: false, interceptors });
  // The browser transport (connect-web's gRPC-web over fetch).
  const web = createClientTransport(org.adminKey, { baseUrl: server.baseUrl });

  const viaGrpc = await readSettings(grpc, org.id);
  assert.equal(viaGrpc.lockout.settings.maxPasswordAttempts, 7n);
  assert.equal(viaGrpc.lockout.settings.resourceOwnerType, 2, 'RESOURCE_OWNER_TYPE_ORG');
  assert.equal(viaGrpc.complexity.settings.resourceOwnerType, 1, 'inherited: RESOURCE_OWNER_TYPE_INSTANCE');
  assert.ok(viaGrpc.complexity.settings.minLength > 0n);
  assert.equal(viaGrpc.login.settings.allowUsernamePassword, true);
  assert.ok(viaGrpc.lockout.details.changeDate.seconds > 0n);

  for (const [name, transport] of [['Connect binary', binary], ['Connect JSON', json], ['gRPC-web', web]]) {
    const other = await readSettings(transport, org.id);
    for (const key of Object.keys(viaGrpc)) {
      assert.deepEqual(other[key], viaGrpc[key], `${key} over ${name}`);
    }
  }
});

test('@zitadel/client: v1 management over gRPC writes the password complexity policy', async () => {
  const org = await makeOrg(server.native);
  const transport = createServerTransport(org.adminKey, { baseUrl: server.baseUrl, httpVersion: '2' });
  const management = createManagementServiceClient(transport);
  const headers = { 'x-zitadel-orgid': org.id };
  await management.addCustomPasswordComplexityPolicy(
    { minLength: 20n, hasUppercase: false, hasLowercase: true, hasNumber: false, hasSymbol: true },
    { headers },
  );
  const read = await management.getPasswordComplexityPolicy({}, { headers });
  assert.equal(read.policy.minLength, 20n);
  assert.equal(read.policy.hasSymbol, true);
  assert.equal(read.isDefault, false);
  const password = defaultPassword(await server.native.policy(org.id));
  assert.equal(password.min_length, 20);
  assert.equal(password.min_special, 1);
  assert.equal(password.min_uppercase, 0);

  await assert.rejects(
    management.addCustomPasswordComplexityPolicy({ minLength: 12n }, { headers }),
    (err) => err instanceof ConnectError && err.code === Code.AlreadyExists,
  );
  const anonymous = createManagementServiceClient(
    createServerTransport('not-a-key', { baseUrl: server.baseUrl, httpVersion: '2' }),
  );
  await assert.rejects(
    anonymous.getLockoutPolicy({}, { headers }),
    (err) => err instanceof ConnectError && err.code === Code.Unauthenticated,
  );
});
