//! What root allows, at `boxed setup`, for the sandboxes the launcher starts, beyond
//! running as `nobody`.

use serde::{Deserialize, Serialize};

/// What root allowed, at setup, for the sandboxes started through the launcher, beyond
/// running as `nobody`. The launcher reads it from its root-owned configuration before
/// it uses a policy's `user` or `unique_uid`; a caller's policy alone can never pick the
/// identity a privileged process switches to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    /// Users, besides `nobody`, that a policy's `user` may name (`--sandbox-user`).
    #[serde(default)]
    pub sandbox_users: Vec<String>,
    /// Whether a policy may ask for a unique uid per sandbox (`--unique-uids`).
    #[serde(default)]
    pub unique_uids: bool,
}
