// Scaleway IAM through @scaleway/sdk-iam on @scaleway/sdk-client: the client checks, before it
// sends anything, that the access key is `SCW` + 17 characters and that the secret key and the
// organization id are UUIDs. A Scaleway-shaped key (POST /v1/orgs/{org}/api-keys with
// "format": "scaleway") and a UUID organization id pass those checks as they are; the SDK then
// sends only the secret, in x-auth-token.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient } from '@scaleway/sdk-client';
import { Iamv1alpha1 } from '@scaleway/sdk-iam';
import { startServer } from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

/** A fresh UUID organization and a Scaleway-shaped key with `roles`. */
async function scalewayKey(roles = ['org_admin']) {
  const org = await server.native.createOrg(randomUUID());
  const key = (await server.native.request('POST', `/v1/orgs/${org.id}/api-keys`, {
    body: { name: 'scaleway sdk', roles, format: 'scaleway' }, expect: 201,
  })).body;
  return { org, key };
}

function api(accessKey, secretKey, organizationId) {
  const client = createClient({
    accessKey,
    secretKey,
    defaultOrganizationId: organizationId,
    apiURL: server.baseUrl,
  });
  return new Iamv1alpha1.API(client);
}

test('the minted key has the shapes the client requires', async () => {
  const { org, key } = await scalewayKey();
  assert.match(key.id, /^SCW[A-Z2-7]{17}$/);
  assert.match(key.key, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.match(org.id, /^[0-9a-f-]{36}$/);
  // createClient throws on a key or an organization id of another shape; this one is accepted.
  assert.doesNotThrow(() => api(key.id, key.key, org.id));
  assert.throws(() => api(key.id, 'pck_0123', org.id), /Invalid secret key format/);
});

test('security settings: read, update, read back, and the canonical policy changed', async () => {
  const { org, key } = await scalewayKey();
  const iam = api(key.id, key.key, org.id);
  const before = await iam.getOrganizationSecuritySettings();
  assert.equal(typeof before.enforcePasswordRenewal, 'boolean');
  assert.match(before.gracePeriodDuration, /^\d+s$/);
  assert.equal(typeof before.loginAttemptsBeforeLocked, 'number');

  const updated = await iam.updateOrganizationSecuritySettings({
    enforcePasswordRenewal: true,
    gracePeriodDuration: '3600s',
    loginAttemptsBeforeLocked: 7,
    maxLoginSessionDuration: '7200s',
    maxApiKeyExpirationDuration: '2592000s',
  });
  assert.deepEqual(updated, {
    enforcePasswordRenewal: true,
    gracePeriodDuration: '3600s',
    loginAttemptsBeforeLocked: 7,
    maxApiKeyExpirationDuration: '2592000s',
    maxLoginSessionDuration: '7200s',
  });
  assert.deepEqual(await iam.getOrganizationSecuritySettings(), updated);

  const policy = await server.native.policy(org.id);
  assert.equal(policy.lockout.value.enabled, true);
  assert.equal(policy.lockout.value.max_password_attempts, 7);
  assert.equal(policy.session.value.max_session_duration, 7200);
  assert.equal(policy.api_keys.value.max_expiration, 2592000);
  const defaultPolicy = policy.password.value.find((p) => p.is_default);
  assert.equal(defaultPolicy.renew_on_first_login, true);
  assert.equal(defaultPolicy.grace_period, 3600);

  // An explicit organization id in the request works as the default one does.
  const explicit = await iam.getOrganizationSecuritySettings({ organizationId: org.id });
  assert.deepEqual(explicit, updated);
});

test('errors: a wrong secret is denied_authentication 401, an auditor is permissions_denied 403', async () => {
  const { org, key } = await scalewayKey();
  const wrong = api(key.id, randomUUID(), org.id);
  await assert.rejects(wrong.getOrganizationSecuritySettings(), (err) => {
    assert.equal(err.name, 'DeniedAuthenticationError');
    assert.equal(err.status, 401);
    return true;
  });

  const auditor = (await server.native.request('POST', `/v1/orgs/${org.id}/api-keys`, {
    body: { name: 'auditor', roles: ['org_auditor'], format: 'scaleway' }, expect: 201,
  })).body;
  const reader = api(auditor.id, auditor.key, org.id);
  await reader.getOrganizationSecuritySettings();
  await assert.rejects(reader.updateOrganizationSecuritySettings({ loginAttemptsBeforeLocked: 3 }), (err) => {
    assert.equal(err.name, 'PermissionsDeniedError');
    assert.equal(err.status, 403);
    return true;
  });

  // Another organization's settings are not found, like a missing organization.
  const other = await server.native.createOrg(randomUUID());
  await assert.rejects(api(key.id, key.key, other.id).getOrganizationSecuritySettings(), (err) => {
    assert.equal(err.name, 'ResourceNotFoundError');
    assert.equal(err.status, 404);
    return true;
  });

  // A canonical violation is invalid_arguments, with the Scaleway field named.
  await assert.rejects(
    api(key.id, key.key, org.id).updateOrganizationSecuritySettings({ loginAttemptsBeforeLocked: 5000 }),
    (err) => {
      assert.equal(err.name, 'InvalidArgumentsError');
      assert.equal(err.status, 400);
      assert.equal(err.details[0].argumentName, 'login_attempts_before_locked');
      return true;
    },
  );
});
