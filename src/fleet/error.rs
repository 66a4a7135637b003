//! What can go wrong between a process and the fleet's Redis.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

/// Why a call to the fleet's Redis failed, or why a fleet setting was refused.
///
/// Every variant but the first three means "the shared state could not be read or changed";
/// what a part does then is its [`RedisUnavailable`](crate::fleet::RedisUnavailable) policy
/// (budgets) or a fall back to local state (breakers, statistics).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// The Redis URL could not be used. The URL itself is not repeated (it may hold a password).
    #[error(
        "invalid Redis URL ({reason}); expected redis://[user[:password]@]host[:port][/db] \
         or redis+unix:///path"
    )]
    InvalidUrl {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A setting was out of range.
    #[error("invalid fleet setting `{field}`: expected {expected}")]
    InvalidSetting {
        /// The setting.
        field: &'static str,
        /// What it accepts.
        expected: &'static str,
    },
    /// [`FleetRedis::open`](crate::fleet::FleetRedis::open) was called outside a tokio
    /// runtime (the connection's background task needs one).
    #[error("FleetRedis::open needs a tokio runtime: call it from async code or inside Runtime::enter")]
    NoRuntime,
    /// No answer within the call timeout. The command may or may not have run.
    #[error("Redis did not answer `{op}` within {timeout:?}")]
    Timeout {
        /// The operation (`reserve`, `settle`, ...).
        op: &'static str,
        /// The call timeout.
        timeout: Duration,
    },
    /// The connection could not be made or was lost; the client reconnects on its own.
    #[error("Redis unreachable during `{op}`: {source}")]
    Unavailable {
        /// The operation.
        op: &'static str,
        /// The I/O error.
        source: Arc<dyn StdError + Send + Sync>,
    },
    /// The server answered with an error (out of memory, read-only replica, authentication
    /// required, unknown command, script error, ...).
    #[error("Redis refused `{op}`: {source}")]
    Refused {
        /// The operation.
        op: &'static str,
        /// The server's error.
        source: Arc<dyn StdError + Send + Sync>,
    },
    /// What came back is not the Redis protocol (is something else listening on that port?).
    #[error("`{op}`: the reply is not the Redis protocol (is this port a Redis server?): {source}")]
    Protocol {
        /// The operation.
        op: &'static str,
        /// The parse error.
        source: Arc<dyn StdError + Send + Sync>,
    },
    /// A well-formed reply of the wrong shape (a different script under the same name, or a
    /// server that is not Redis or Valkey).
    #[error("unexpected reply to `{op}`: expected {expected}")]
    UnexpectedReply {
        /// The operation.
        op: &'static str,
        /// What the crate expected.
        expected: &'static str,
    },
}

impl FleetError {
    /// Whether the command may have run even though no answer came back (a timeout or a
    /// dropped connection), so that its effect, if any, has to be undone or waited out.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, FleetError::Timeout { .. } | FleetError::Unavailable { .. })
    }

    pub(crate) fn from_redis(op: &'static str, e: redis::RedisError) -> Self {
        use redis::ErrorKind;
        let kind = e.kind();
        let source: Arc<dyn StdError + Send + Sync> = Arc::new(e);
        match kind {
            ErrorKind::Io | ErrorKind::ClusterConnectionNotFound => FleetError::Unavailable { op, source },
            ErrorKind::Parse | ErrorKind::UnexpectedReturnType | ErrorKind::RESP3NotSupported => {
                FleetError::Protocol { op, source }
            }
            _ => FleetError::Refused { op, source },
        }
    }
}
