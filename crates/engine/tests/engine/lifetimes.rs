//! Session and API-key lifetimes.

use portcullis_engine::api_key::{KeyRefusal, check_key, codes, new_key_expiry};
use portcullis_engine::session::{SessionEnd, check_session, deadlines};
use portcullis_model::{ApiKeysPolicy, SessionPolicy};

use crate::support::{T0, at};

#[test]
fn sessions_end_at_the_absolute_or_idle_deadline() {
    let policy = SessionPolicy {
        max_session_duration: 3600,
        idle_timeout: Some(600),
        ..SessionPolicy::default()
    };
    let d = deadlines(&policy, T0, T0);
    assert_eq!((d.expires_at, d.idle_expires_at), (at(3600), Some(at(600))));

    // Used every 500 s: idle never hits, the absolute deadline does.
    let mut last = T0;
    for t in (500..3600).step_by(500) {
        let d = check_session(&policy, T0, last, at(t)).unwrap();
        assert_eq!(
            d.idle_expires_at,
            Some(at(t + 600)),
            "each use pushes the idle deadline"
        );
        last = at(t);
    }
    assert_eq!(
        check_session(&policy, T0, last, at(3600)),
        Err(SessionEnd::Absolute)
    );
    assert_eq!(check_session(&policy, T0, T0, at(599)).map(|_| ()), Ok(()));
    assert_eq!(
        check_session(&policy, T0, T0, at(600)),
        Err(SessionEnd::Idle)
    );

    let no_idle = SessionPolicy {
        idle_timeout: None,
        ..policy.clone()
    };
    assert!(check_session(&no_idle, T0, T0, at(3599)).is_ok());

    // A policy shortened later ends existing sessions at once.
    let shorter = SessionPolicy {
        max_session_duration: 600,
        idle_timeout: None,
        ..policy
    };
    assert_eq!(
        check_session(&shorter, T0, at(500), at(700)),
        Err(SessionEnd::Absolute)
    );
}

#[test]
fn api_key_expiry_is_bounded_by_the_policy() {
    let unlimited = ApiKeysPolicy { max_expiration: 0 };
    assert_eq!(new_key_expiry(&unlimited, None, T0), Ok(None));
    assert_eq!(
        new_key_expiry(&unlimited, Some(at(10)), T0),
        Ok(Some(at(10)))
    );
    assert_eq!(
        new_key_expiry(&unlimited, Some(T0), T0).unwrap_err().code,
        codes::EXPIRY_IN_PAST
    );

    let day = ApiKeysPolicy {
        max_expiration: 86_400,
    };
    assert_eq!(
        new_key_expiry(&day, None, T0).unwrap_err().code,
        codes::EXPIRY_REQUIRED
    );
    assert_eq!(
        new_key_expiry(&day, Some(at(86_400)), T0),
        Ok(Some(at(86_400)))
    );
    let err = new_key_expiry(&day, Some(at(86_401)), T0).unwrap_err();
    assert_eq!(
        (err.code.as_ref(), err.field.as_str()),
        (codes::EXPIRY_TOO_LATE, "expires_at")
    );
    assert_eq!(err.params["latest"], "2026-11-24T09:00:00Z");

    assert_eq!(check_key(&unlimited, T0, None, at(1_000_000_000)), Ok(()));
    assert_eq!(check_key(&unlimited, T0, Some(at(10)), at(9)), Ok(()));
    assert_eq!(
        check_key(&unlimited, T0, Some(at(10)), at(10)),
        Err(KeyRefusal::Expired)
    );
    // A key made before a maximum was set stops working once it is older than the maximum.
    assert_eq!(check_key(&day, T0, None, at(86_399)), Ok(()));
    assert_eq!(
        check_key(&day, T0, None, at(86_400)),
        Err(KeyRefusal::BeyondMaxExpiration)
    );
}
