// Huawei Cloud IAM through @huaweicloud/huaweicloud-sdk-iam (v3 entry), AK/SK signed requests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { startServer, makeOrg } from './harness.mjs';

const require = createRequire(import.meta.url);
const { GlobalCredentials } = require('@huaweicloud/huaweicloud-sdk-core');
const iam = require('@huaweicloud/huaweicloud-sdk-iam/v3/public-api');

let server;
before(async () => { server = await startServer(); });
after(async () => { await server?.stop(); });

async function client() {
  const org = await makeOrg(server.native);
  const key = await server.native.createAccessKey(org.id);
  const credentials = new GlobalCredentials()
    .withAk(key.id).withSk(key.secret).withDomainId(org.id);
  const c = iam.IamClient.newBuilder()
    .withCredential(credentials)
    .withEndpoint(server.baseUrl)
    .build();
  return { org, c };
}

test('login policy: read, write, read back, and the write is enforced in the canonical policy', async () => {
  const { org, c } = await client();
  const read = await c.showDomainLoginPolicy(new iam.ShowDomainLoginPolicyRequest(org.id));
  assert.equal(read.httpStatusCode, 200);
  const before = read.login_policy ?? read.loginPolicy;
  assert.equal(typeof before.lockout_duration, 'number');

  const option = new iam.LoginPolicyOption()
    .withAccountValidityPeriod(0)
    .withCustomInfoForLogin('')
    .withLockoutDuration(30)
    .withLoginFailedTimes(4)
    .withPeriodWithLoginFailures(20)
    .withSessionTimeout(120)
    .withShowRecentLoginInfo(true);
  const body = new iam.UpdateDomainLoginPolicyRequestBody().withLoginPolicy(option);
  const written = await c.updateDomainLoginPolicy(
    new iam.UpdateDomainLoginPolicyRequest().withDomainId(org.id).withBody(body),
  );
  assert.equal(written.httpStatusCode, 200);

  const after = (await c.showDomainLoginPolicy(new iam.ShowDomainLoginPolicyRequest(org.id))).login_policy;
  assert.equal(after.login_failed_times, 4);
  assert.equal(after.lockout_duration, 30);
  assert.equal(after.session_timeout, 120);

  const lockout = (await server.native.policy(org.id)).lockout.value;
  assert.equal(lockout.max_password_attempts, 4);
  assert.equal(lockout.lock_duration, 30 * 60);
});

test('password policy: a write through the SDK reads back the same', async () => {
  const { org, c } = await client();
  const option = new iam.PasswordPolicyOption()
    .withMinimumPasswordLength(12)
    .withPasswordCharCombination(3)
    .withNumberOfRecentPasswordsDisallowed(5);
  const written = await c.updateDomainPasswordPolicy(
    new iam.UpdateDomainPasswordPolicyRequest().withDomainId(org.id)
      .withBody(new iam.UpdateDomainPasswordPolicyRequestBody().withPasswordPolicy(option)),
  );
  assert.equal(written.httpStatusCode, 200);
  const read = (await c.showDomainPasswordPolicy(new iam.ShowDomainPasswordPolicyRequest(org.id))).password_policy;
  assert.equal(read.minimum_password_length, 12);
  assert.equal(read.password_char_combination, 3);
  assert.equal(read.number_of_recent_passwords_disallowed, 5);
});

test('a wrong secret key is refused with the vendor error envelope', async () => {
  const { org } = await client();
  const key = await server.native.createAccessKey(org.id);
  const credentials = new GlobalCredentials().withAk(key.id).withSk('0'.repeat(40)).withDomainId(org.id);
  const c = iam.IamClient.newBuilder().withCredential(credentials).withEndpoint(server.baseUrl).build();
  await assert.rejects(
    c.showDomainLoginPolicy(new iam.ShowDomainLoginPolicyRequest(org.id)),
    (err) => err.status === 401 || err.httpStatusCode === 401 || /401/.test(String(err.status ?? err.message)),
  );
});
