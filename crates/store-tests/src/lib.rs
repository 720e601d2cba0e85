//! The conformance suite of the storage port: the behavior every [`Store`] adapter must show
//! (the invariants listed in `portcullis-store`), as test cases that run against any adapter.
//!
//! # Running the suite for an adapter
//!
//! In a test binary of the adapter (e.g. `crates/store-sqlite/tests/conformance.rs`), with
//! `portcullis-store-tests` and `tokio` as dev-dependencies:
//!
//! ```ignore
//! portcullis_store_tests::conformance_tests!(async {
//!     let dir = tempdir();                                  // any guard value the store needs
//!     let store = portcullis_store_sqlite::open(&dir.path().join("db")).await.unwrap();
//!     (std::sync::Arc::new(store), dir)
//! });
//! ```
//!
//! The argument is an async expression evaluated once per test; it must answer a fresh, empty
//! store as a [`Fixture`]: an `Arc<S>` (`S: Store`), an `Arc<dyn Store>`, or a pair
//! `(store, guard)` whose guard (a temporary directory, a database handle, ...) is kept alive
//! until the test ends. The macro expands, in the calling module, to one
//! `#[tokio::test(flavor = "multi_thread", worker_threads = 4)]` function per case of
//! [`cases`], named after the case, so `cargo test -p <adapter> <case>` runs a single one.
//!
//! Every case uses fixed timestamps with whole seconds ([`support::T0`] plus offsets) and ids
//! unique within the test, so a database adapter can compare what it reads back exactly.
//!
//! # Plan checks
//!
//! [`workload`] seeds a store and calls every method of the port; [`plans`] judges the query
//! plan of each statement the adapter ran meanwhile (no table or index read whole where a seek
//! would do). The adapters' test binaries capture the statements and explain them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use portcullis_store::Store;

pub mod cases;
pub mod plans;
pub mod scenario;
pub mod support;
pub mod workload;

/// What the argument of [`conformance_tests!`] produces: something that hands out the store
/// under test and keeps whatever it needs alive while the test runs.
pub trait Fixture {
    /// The store under test.
    fn store(&self) -> Arc<dyn Store>;
}

impl<S: Store> Fixture for Arc<S> {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(self) as Arc<dyn Store>
    }
}

impl Fixture for Arc<dyn Store> {
    fn store(&self) -> Arc<dyn Store> {
        Arc::clone(self)
    }
}

/// A store with a guard (temporary directory, container handle, ...) dropped after the store.
impl<F: Fixture, G> Fixture for (F, G) {
    fn store(&self) -> Arc<dyn Store> {
        self.0.store()
    }
}

/// Expands to one `#[tokio::test]` per conformance case, each on a fresh store made by `$make`
/// (an async expression answering a [`Fixture`]). See the crate documentation.
#[macro_export]
macro_rules! conformance_tests {
    (@cases ($make:expr) $($topic:ident :: $case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let fixture = $make.await;
                $crate::cases::$topic::$case($crate::Fixture::store(&fixture)).await;
            }
        )*
    };
    ($make:expr $(,)?) => {
        $crate::conformance_tests!(@cases ($make)
            orgs_and_events::org_create_get_and_conflict,
            orgs_and_events::refused_writes_are_typed_and_leave_nothing,
            orgs_and_events::org_list_paging,
            orgs_and_events::org_list_paging_walks_every_id_once,
            orgs_and_events::events_sequences_and_cursor,
            orgs_and_events::events_concurrent_appends_get_unique_sequences,
            orgs_and_events::events_deleted_before_a_time_in_batches,
            sections::section_write_sequence_and_timestamps,
            sections::section_expected_sequence,
            sections::section_delete,
            sections::section_owners_are_separate,
            sections::section_writes_bump_the_policy_version,
            sections::section_batches_are_all_or_nothing,
            sections::section_batches_reset_and_write_together,
            sections::section_batches_guard_the_whole_scope,
            sections::section_delete_at_a_sequence,
            sections::section_batches_in_crossing_orders_all_commit,
            users::user_create_get_find,
            users::user_unique_keys,
            users::user_list_paging,
            users::user_update_profile,
            passwords::user_set_password_history,
            passwords::user_set_password_ends_sessions,
            users::user_disable_and_lock_end_sessions,
            passwords::user_login_is_recorded_with_its_session,
            users::user_delete_cascades,
            counters::counter_default_and_persist,
            counters::counter_keeps_its_series_of_locks,
            counters::counter_due_times_list_what_a_sweep_must_visit,
            counters::counter_reserve_is_exact_under_concurrency,
            counters::counter_record_failure_is_exact_under_concurrency,
            enforcement::locked_counters_are_listed_by_prefix_and_login,
            enforcement::clear_locks_is_one_counted_transaction,
            enforcement::ip_denials_match_by_containment,
            enforcement::events_since_are_read_by_time_and_type,
            sessions_and_keys::session_create_find_touch,
            sessions_and_keys::session_delete_and_list,
            revocation::session_list_pages_with_client,
            revocation::session_delete_is_scoped_to_its_user,
            revocation::sessions_end_all_but_one,
            revocation::passwords_expire_and_clear,
            sessions_and_keys::api_key_create_find_list_delete,
            sessions_and_keys::api_key_has_instance_key,
            sessions_and_keys::api_key_last_instance_key_stays,
            sessions_and_keys::api_key_expired_deletion,
            mfa::mfa_factor_belongs_to_a_user,
            mfa::mfa_step_is_used_once,
            mfa::mfa_recovery_code_is_used_once,
            mfa::mfa_challenge_completes_once,
            mfa::mfa_factor_writes_are_conditional,
            mail::mail_is_queued_with_its_event,
            mail::failed_write_queues_no_mail,
            mail::claimed_mail_is_sent_once,
            mail::reminder_is_queued_once,
            mail::claims_take_the_longest_due_first,
            mail::concurrent_reminders_queue_one,
            mail::conditional_password_write,
            mail::email_confirmation_happens_once,
            mail::verified_address_is_unique_per_organization,
            mail::event_is_written_and_its_mail_queued_once,
            isolation::org_data_never_crosses_organizations,
            logins_and_lookups::login_session_opens_only_for_the_current_hash,
            logins_and_lookups::login_completion_and_session_commit_together,
            logins_and_lookups::api_keys_of_a_user_and_by_id,
            logins_and_lookups::counter_keys_by_prefix,
            logins_and_lookups::expired_sessions_are_deleted,
            logins_and_lookups::a_lease_has_one_holder_at_a_time,
            logins_and_lookups::answers_like_the_recorded_log,
        );
    };
}
