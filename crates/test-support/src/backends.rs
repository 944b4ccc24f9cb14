//! One test body, run once per storage backend.

/// Generates, for each listed async function taking a [`Backend`](crate::Backend), a test in
/// module `sqlite` and one in module `postgres` that call it with that backend. Invoke it
/// once per module (the generated modules are named `sqlite` and `postgres`); the tests run
/// on a multi-threaded runtime with 2 workers, or as many as `workers = N;` asks for:
///
/// ```ignore
/// async fn registers_an_application(backend: Backend) { /* ... */ }
/// sextant_test_support::on_both_backends!(registers_an_application);
/// sextant_test_support::on_both_backends!(workers = 4; fifty_concurrent_redemptions);
/// ```
#[macro_export]
macro_rules! on_both_backends {
    (workers = $workers:literal; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = $workers)]
                async fn $name() {
                    super::$name($crate::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[::tokio::test(flavor = "multi_thread", worker_threads = $workers)]
                async fn $name() {
                    super::$name($crate::Backend::Postgres).await
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both_backends!(workers = 2; $($name),*);
    };
}
