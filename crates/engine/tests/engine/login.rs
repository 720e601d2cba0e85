//! What a login with a verified password becomes.

use portcullis_engine::login::{
    ChangeReason, LoginGrant, LoginPolicies, LoginRefusal, MfaStep, UserFacts, decide_login,
    mfa_required, mfa_required_since,
};
use portcullis_model::{MfaPolicy, PasswordPolicy, SessionPolicy};

use crate::support::{T0, at, ip};

const DAY: i64 = 86_400;

fn user() -> UserFacts {
    UserFacts {
        disabled: false,
        created_at: T0,
        last_login_at: None,
        password_changed_at: T0,
        password_set_by_admin: false,
        password_expired_at: None,
        password_compliant: true,
        mfa_enrolled: false,
        mfa_required_since: T0,
        email_unverified: false,
    }
}

struct Case {
    name: &'static str,
    password: PasswordPolicy,
    session: SessionPolicy,
    mfa: MfaPolicy,
    user: UserFacts,
    now: i64,
    expect: Result<(MfaStep, Option<ChangeReason>), LoginRefusal>,
}

fn case(name: &'static str) -> Case {
    Case {
        name,
        password: PasswordPolicy::default(),
        session: SessionPolicy::default(),
        mfa: MfaPolicy::default(),
        user: user(),
        now: DAY,
        expect: Ok((MfaStep::None, None)),
    }
}

/// Last login on day 1 under `account_validity_days = 10`.
fn inactive_after_10_days(name: &'static str) -> Case {
    Case {
        session: SessionPolicy {
            account_validity_days: 10,
            ..SessionPolicy::default()
        },
        user: UserFacts {
            last_login_at: Some(at(DAY)),
            ..user()
        },
        ..case(name)
    }
}

/// `mfa.required` with a two-day enrollment grace; the user has no factor.
fn mfa_required_with_2_days_grace(name: &'static str) -> Case {
    Case {
        mfa: MfaPolicy {
            required: true,
            ..MfaPolicy::default()
        },
        password: PasswordPolicy {
            grace_period: 2 * DAY as u64,
            ..PasswordPolicy::default()
        },
        ..case(name)
    }
}

#[test]
fn decisions_follow_the_designed_order() {
    let expiring = PasswordPolicy {
        expiration_enabled: true,
        max_age_days: 30,
        grace_period: 2 * DAY as u64,
        ..PasswordPolicy::default()
    };
    let expired_at = at(30 * DAY);
    let grace_until = at(32 * DAY);
    let cases = vec![
        case("plain session"),
        Case {
            user: UserFacts {
                disabled: true,
                ..user()
            },
            expect: Err(LoginRefusal::AccountDisabled),
            ..case("disabled")
        },
        Case {
            user: UserFacts {
                email_unverified: true,
                ..user()
            },
            expect: Err(LoginRefusal::EmailNotVerified),
            ..case("email not verified")
        },
        Case {
            user: UserFacts {
                disabled: true,
                email_unverified: true,
                ..user()
            },
            expect: Err(LoginRefusal::AccountDisabled),
            ..case("disabled wins over unverified")
        },
        Case {
            now: 11 * DAY - 1,
            ..inactive_after_10_days("active just inside validity")
        },
        Case {
            now: 11 * DAY,
            expect: Err(LoginRefusal::AccountInactive),
            ..inactive_after_10_days("inactive from the day it runs out")
        },
        Case {
            session: SessionPolicy {
                account_validity_days: 10,
                ..SessionPolicy::default()
            },
            now: 10 * DAY,
            expect: Err(LoginRefusal::AccountInactive),
            ..case("never logged in counts from creation")
        },
        Case {
            password: expiring.clone(),
            now: 30 * DAY - 1,
            ..case("not yet expired")
        },
        Case {
            password: expiring.clone(),
            now: 30 * DAY,
            expect: Ok((
                MfaStep::None,
                Some(ChangeReason::Expired {
                    expired_at,
                    grace_until,
                }),
            )),
            ..case("expired, within grace")
        },
        Case {
            password: expiring.clone(),
            now: 32 * DAY,
            expect: Err(LoginRefusal::PasswordExpired),
            ..case("grace over")
        },
        Case {
            password: PasswordPolicy {
                grace_period: 0,
                ..expiring.clone()
            },
            now: 30 * DAY,
            expect: Err(LoginRefusal::PasswordExpired),
            ..case("no grace")
        },
        Case {
            password: PasswordPolicy {
                renew_on_first_login: true,
                ..PasswordPolicy::default()
            },
            user: UserFacts {
                password_set_by_admin: true,
                ..user()
            },
            now: 400 * DAY,
            expect: Ok((MfaStep::None, Some(ChangeReason::FirstLogin))),
            ..case("first login after an admin set the password")
        },
        Case {
            user: UserFacts {
                password_set_by_admin: true,
                ..user()
            },
            ..case("admin-set password without renew_on_first_login")
        },
        Case {
            user: UserFacts {
                password_expired_at: Some(at(DAY / 2)),
                ..user()
            },
            now: 400 * DAY,
            expect: Ok((
                MfaStep::None,
                Some(ChangeReason::ExpiredByAdmin { at: at(DAY / 2) }),
            )),
            ..case("expired by an administrator: restricted, however long after")
        },
        Case {
            password: PasswordPolicy {
                renew_on_first_login: true,
                ..PasswordPolicy::default()
            },
            user: UserFacts {
                password_expired_at: Some(at(DAY / 2)),
                password_set_by_admin: true,
                password_compliant: false,
                ..user()
            },
            expect: Ok((
                MfaStep::None,
                Some(ChangeReason::ExpiredByAdmin { at: at(DAY / 2) }),
            )),
            ..case("expired by an administrator comes before first login and compliance")
        },
        Case {
            password: expiring.clone(),
            user: UserFacts {
                password_expired_at: Some(at(DAY)),
                ..user()
            },
            now: 32 * DAY,
            expect: Err(LoginRefusal::PasswordExpired),
            ..case("the policy's expiry past its grace still refuses an admin-expired password")
        },
        Case {
            user: UserFacts {
                password_compliant: false,
                ..user()
            },
            expect: Ok((MfaStep::None, Some(ChangeReason::NonCompliant))),
            ..case("non-compliant after a policy change")
        },
        Case {
            user: UserFacts {
                mfa_enrolled: true,
                password_compliant: false,
                ..user()
            },
            expect: Ok((MfaStep::Challenge, Some(ChangeReason::NonCompliant))),
            ..case("MFA first, then the change")
        },
        Case {
            expect: Ok((MfaStep::Enroll { until: at(2 * DAY) }, None)),
            ..mfa_required_with_2_days_grace("MFA required, enrollment grace")
        },
        Case {
            now: 2 * DAY,
            expect: Err(LoginRefusal::MfaEnrollmentOverdue),
            ..mfa_required_with_2_days_grace("MFA enrollment grace over")
        },
        Case {
            password: PasswordPolicy {
                require_mfa: true,
                grace_period: 10,
                ..PasswordPolicy::default()
            },
            user: UserFacts {
                mfa_enrolled: true,
                ..user()
            },
            expect: Ok((MfaStep::Challenge, None)),
            ..case("policy requires MFA, user enrolled")
        },
    ];
    for c in cases {
        let policies = LoginPolicies {
            password: &c.password,
            session: &c.session,
            mfa: &c.mfa,
        };
        let got = decide_login(policies, &c.user, ip("192.0.2.1"), at(c.now)).map(
            |LoginGrant {
                 mfa,
                 password_change,
                 ..
             }| (mfa, password_change),
        );
        assert_eq!(got, c.expect, "{}", c.name);
    }
}

#[test]
fn off_network_mfa_depends_on_trusted_networks() {
    let password = PasswordPolicy::default();
    let mfa = MfaPolicy {
        required_off_network: true,
        trusted_networks: vec!["10.0.0.0/8".into()],
        ..MfaPolicy::default()
    };
    assert!(!mfa_required(&password, &mfa, ip("10.2.3.4")));
    assert!(!mfa_required(&password, &mfa, ip("::ffff:10.2.3.4")));
    assert!(mfa_required(&password, &mfa, ip("8.8.8.8")));
    let per_policy = PasswordPolicy {
        require_mfa_off_network: true,
        ..PasswordPolicy::default()
    };
    let trusted_only = MfaPolicy {
        trusted_networks: vec!["10.0.0.0/8".into()],
        ..MfaPolicy::default()
    };
    assert!(mfa_required(&per_policy, &trusted_only, ip("8.8.8.8")));
    assert!(!mfa_required(&per_policy, &trusted_only, ip("10.0.0.1")));
    assert!(!mfa_required(
        &password,
        &MfaPolicy::default(),
        ip("8.8.8.8")
    ));
}

#[test]
fn the_grant_carries_the_password_expiry() {
    let password = PasswordPolicy {
        expiration_enabled: true,
        max_age_days: 30,
        ..PasswordPolicy::default()
    };
    let policies = LoginPolicies {
        password: &password,
        session: &SessionPolicy::default(),
        mfa: &MfaPolicy::default(),
    };
    let grant = decide_login(policies, &user(), ip("192.0.2.1"), at(DAY)).unwrap();
    assert_eq!(grant.password_expires_at, Some(at(30 * DAY)));
}

#[test]
fn the_mfa_grace_runs_from_the_latest_reason() {
    assert_eq!(mfa_required_since(at(100), &[], None), at(100));
    assert_eq!(
        mfa_required_since(at(100), &[at(50), at(70)], None),
        at(100)
    );
    assert_eq!(
        mfa_required_since(at(100), &[at(300), at(200)], None),
        at(300)
    );
    assert_eq!(
        mfa_required_since(at(100), &[at(300)], Some(at(400))),
        at(400)
    );
    assert_eq!(mfa_required_since(at(100), &[], Some(at(10))), at(100));
}
