// SailPoint Identity Security Cloud through sailpoint-api-client: a Configuration given only the
// server's URL and client credentials (an organization API key's id and secret) fetches its
// token from POST /oauth/token itself, then the password-policy calls of the v3, beta and v2024
// API classes read and write the organization's canonical password policies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  Configuration,
  PasswordPoliciesApi,
  PasswordPoliciesBetaApi,
  PasswordPoliciesV2024Api,
} from 'sailpoint-api-client';
import { startServer, makeOrg } from './harness.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

/** A fresh organization and a Configuration with client credentials, as a new user writes it. */
async function configured() {
  const org = await makeOrg(server.native);
  const configuration = new Configuration({
    baseurl: server.baseUrl,
    clientId: org.admin.id,
    clientSecret: org.admin.key,
    tokenUrl: `${server.baseUrl}/oauth/token`,
  });
  return { org, configuration };
}

/** The canonical password policy `id` of `org`, through the native API. */
async function canonical(org, id) {
  const policies = (await server.native.policy(org)).password.value;
  return policies.find((p) => p.id === id);
}

// The three API generations and the name each gives its request body.
const generations = [
  ['v3', PasswordPoliciesApi, 'passwordPolicyV3Dto'],
  ['beta', PasswordPoliciesBetaApi, 'passwordPolicyV3DtoBeta'],
  ['v2024', PasswordPoliciesV2024Api, 'passwordPolicyV3DtoV2024'],
];

test('client credentials: the configuration gets its token, and v3 lists with X-Total-Count', async () => {
  const { configuration } = await configured();
  const token = await configuration.accessToken;
  assert.equal(typeof token, 'string');
  assert.ok(token.startsWith('pck_'), 'a portcullis access token');
  const api = new PasswordPoliciesApi(configuration);
  const listed = await api.listPasswordPolicies({ limit: 10, offset: 0, count: true });
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.data.map((p) => p.id), ['default']);
  // axios hands the headers over in lower case, and answers any case through get().
  assert.equal(listed.headers['x-total-count'], '1');
  assert.equal(listed.headers.get('X-Total-Count'), '1');
});

for (const [name, Api, bodyName] of generations) {
  test(`${name}: create, get, update and list, and each write reaches the canonical policy`, async () => {
    const { org, configuration } = await configured();
    const api = new Api(configuration);
    const created = await api.createPasswordPolicy({
      [bodyName]: { name: `made in ${name}`, minLength: 12, useDictionary: true, sourceIds: ['ldap'] },
    });
    assert.equal(created.status, 200);
    const id = created.data.id;
    assert.match(id, /^pwp_[0-9a-f]{32}$/);
    assert.equal(created.data.minLength, 12);
    assert.equal(created.data.defaultPolicy, false);
    let stored = await canonical(org.id, id);
    assert.equal(stored.name, `made in ${name}`);
    assert.equal(stored.min_length, 12);
    assert.deepEqual(stored.sources, ['ldap']);

    const read = await api.getPasswordPolicyById({ id });
    assert.deepEqual(read.data, created.data);

    const updated = await api.setPasswordPolicy({
      id,
      [bodyName]: { ...read.data, minLength: 16, minUpper: 1, enablePasswdExpiration: true, passwordExpiration: 60 },
    });
    assert.equal(updated.status, 200);
    assert.equal(updated.data.minLength, 16);
    stored = await canonical(org.id, id);
    assert.equal(stored.min_length, 16);
    assert.equal(stored.min_uppercase, 1);
    assert.equal(stored.expiration_enabled, true);
    assert.equal(stored.max_age_days, 60);

    const listed = await api.listPasswordPolicies({ count: true });
    assert.deepEqual(listed.data.map((p) => p.id), ['default', id]);
    assert.equal(listed.headers['x-total-count'], '2');

    const deleted = await api.deletePasswordPolicy({ id });
    assert.equal(deleted.status, 204);
    assert.equal(await canonical(org.id, id), undefined);
  });
}

test('a policy written through one generation reads the same through the others', async () => {
  const { configuration } = await configured();
  const v3 = new PasswordPoliciesApi(configuration);
  const beta = new PasswordPoliciesBetaApi(configuration);
  const v2024 = new PasswordPoliciesV2024Api(configuration);
  const created = await v2024.createPasswordPolicy({
    passwordPolicyV3DtoV2024: { name: 'shared', minLength: 20, useDictionary: true },
  });
  const { id } = created.data;
  assert.deepEqual((await v3.getPasswordPolicyById({ id })).data, created.data);
  assert.deepEqual((await beta.getPasswordPolicyById({ id })).data, created.data);
});

test('errors: a wrong client secret fails the token request with 401, a bad token the call', async () => {
  const org = await makeOrg(server.native);
  const configuration = new Configuration({
    baseurl: server.baseUrl,
    clientId: org.admin.id,
    clientSecret: 'pck_wrong',
    tokenUrl: `${server.baseUrl}/oauth/token`,
  });
  const api = new PasswordPoliciesApi(configuration);
  // The SDK reports a failed token request only as an Error naming the status.
  const quiet = console.error;
  console.error = () => {};
  try {
    await assert.rejects(api.listPasswordPolicies(), (err) => /status code 401/.test(err.message));
  } finally {
    console.error = quiet;
  }

  const withToken = new Configuration({ baseurl: server.baseUrl, accessToken: 'pck_not_a_key' });
  for (const Api of [PasswordPoliciesApi, PasswordPoliciesBetaApi, PasswordPoliciesV2024Api]) {
    await assert.rejects(new Api(withToken).listPasswordPolicies(), (err) => {
      assert.equal(err.response.status, 401);
      assert.match(err.response.data.error, /^JWT validation failed/);
      return true;
    });
  }

  // A canonical violation comes back as SailPoint's 400 envelope.
  const { configuration: good } = await configured();
  await assert.rejects(
    new PasswordPoliciesBetaApi(good).createPasswordPolicy({
      passwordPolicyV3DtoBeta: { name: 'inverted', minLength: 20, maxLength: 10 },
    }),
    (err) => {
      assert.equal(err.response.status, 400);
      assert.equal(err.response.data.detailCode, '400.1 Bad request content');
      return true;
    },
  );
});
