//! The Director's rules, named in one place for the crates that run them inside their own
//! write transactions (the Provisioner registers and unregisters runtimes and sets their
//! status with them). Each runs in the caller's transaction, which the caller commits only if
//! the rule succeeded; the rules themselves live with their resources.

pub use crate::applications::rules::{
    ApplicationUpdate, NewApplication, register_application, unregister_application,
    update_application,
};
pub use crate::confine::owned_integration_system;
pub use crate::integration_systems::rules::{
    grant_integration_system_access, register_integration_system, revoke_integration_system_access,
    unregister_integration_system, update_integration_system,
};
pub use crate::labels::rules::{
    MAX_LABEL_VALUE_BYTES, create_label_definition, delete_label, delete_label_definition,
    set_label, update_label_definition,
};
pub use crate::objects::labels_of;
pub use crate::runtimes::rules::{
    MAX_STATUS_MESSAGE, RuntimeInput, register_runtime, set_runtime_status, unregister_runtime,
    update_runtime,
};
pub use crate::scenarios::{applications_for_runtime, ensure_scenarios_definition};
pub use crate::templates::rules::{
    check_placeholders, create_application_template, delete_application_template, fill_template,
    update_application_template,
};
