//! The webhook outbox. A change records the events it causes as one fan-out row per kind
//! (`fan_outs.rs`), whatever the number of objects concerned; the notifier expands fan-outs
//! into deliveries, one per event and webhook, a batch per statement (`expansion.rs`), and
//! claims and attempts the deliveries (`deliveries.rs`).

#[macro_use]
pub(crate) mod deliveries;
#[macro_use]
pub(crate) mod fan_outs;
#[macro_use]
pub(crate) mod expansion;
