//! The connection every fleet part shares: one multiplexed, self-reconnecting connection
//! (redis-rs's `ConnectionManager`), and a timeout on every call.

use std::fmt;
use std::time::Duration;

use derive_setters::Setters;
use redis::aio::ConnectionManager;
use redis::{Cmd, ScriptInvocation, Value};

use crate::fleet::error::FleetError;

/// How the fleet talks to Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Setters)]
#[setters(prefix = "with_", generate = false)]
#[non_exhaustive]
pub struct RedisOptions {
    /// The longest any one call may take, connecting included (default 500 ms). Keep it well
    /// inside your requests' deadlines: a budget check that times out refuses the request (or
    /// falls back, see [`RedisUnavailable`](crate::fleet::RedisUnavailable)).
    #[setters(generate)]
    pub call_timeout: Duration,
    /// The longest wait between two reconnection attempts (default 1 s).
    #[setters(generate)]
    pub reconnect_max_delay: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            call_timeout: Duration::from_millis(500),
            reconnect_max_delay: Duration::from_secs(1),
        }
    }
}

/// A handle on the fleet's Redis (or Valkey): cheap to clone, shared by every fleet part of a
/// process. It connects on first use and reconnects on its own; every call has a timeout.
///
/// Its `Debug` output shows the server's address only, never the URL's password.
#[derive(Clone)]
pub struct FleetRedis {
    manager: ConnectionManager,
    options: RedisOptions,
    endpoint: String,
}

impl fmt::Debug for FleetRedis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetRedis")
            .field("endpoint", &self.endpoint)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl FleetRedis {
    /// A handle on the server at `url` with default [`RedisOptions`]. Does no I/O: the first
    /// call connects. Call it inside a tokio runtime.
    ///
    /// # Errors
    /// [`FleetError::InvalidUrl`] when the URL cannot be parsed; [`FleetError::InvalidSetting`]
    /// for a zero timeout; [`FleetError::NoRuntime`] outside a tokio runtime.
    pub fn open(url: &str) -> Result<Self, FleetError> {
        Self::open_with(url, RedisOptions::default())
    }

    /// A handle on the server at `url` with `options`.
    ///
    /// # Errors
    /// As [`open`](Self::open).
    pub fn open_with(url: &str, options: RedisOptions) -> Result<Self, FleetError> {
        if options.call_timeout.is_zero() {
            return Err(FleetError::InvalidSetting {
                field: "call_timeout",
                expected: "a non-zero duration",
            });
        }
        // The connection manager spawns its task at once (tokio panics without a runtime).
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(FleetError::NoRuntime);
        }
        let client = redis::Client::open(url).map_err(|_| FleetError::InvalidUrl {
            reason: "not a Redis URL this client can use",
        })?;
        let endpoint = client.get_connection_info().addr().to_string();
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.call_timeout))
            .set_response_timeout(Some(options.call_timeout))
            .set_max_delay(options.reconnect_max_delay)
            .set_number_of_retries(2);
        let manager =
            ConnectionManager::new_lazy_with_config(client, config).map_err(|_| FleetError::InvalidUrl {
                reason: "the client refused its settings",
            })?;
        Ok(Self {
            manager,
            options,
            endpoint,
        })
    }

    /// The options in force.
    pub fn options(&self) -> RedisOptions {
        self.options
    }

    /// Runs a script (EVALSHA, loading it on a miss) within the call timeout.
    pub(crate) async fn script(
        &self,
        op: &'static str,
        inv: &ScriptInvocation<'_>,
    ) -> Result<Value, FleetError> {
        let mut conn = self.manager.clone();
        self.timed(op, inv.invoke_async::<Value>(&mut conn)).await
    }

    /// Runs one command within the call timeout.
    pub(crate) async fn command(&self, op: &'static str, cmd: &Cmd) -> Result<Value, FleetError> {
        let mut conn = self.manager.clone();
        self.timed(op, cmd.query_async::<Value>(&mut conn)).await
    }

    async fn timed(
        &self,
        op: &'static str,
        fut: impl Future<Output = redis::RedisResult<Value>>,
    ) -> Result<Value, FleetError> {
        let timeout = self.options.call_timeout;
        match tokio::time::timeout(timeout, fut).await {
            Err(_) => Err(FleetError::Timeout { op, timeout }),
            Ok(Err(e)) if e.is_timeout() => Err(FleetError::Timeout { op, timeout }),
            Ok(Err(e)) => Err(FleetError::from_redis(op, e)),
            Ok(Ok(v)) => Ok(v),
        }
    }
}

/// Runs `sync` every `refresh` until the returned task is aborted (or the runtime ends). While
/// it fails, the fleet part named `what` is local only: a `warn` event says so once, an `info`
/// event when Redis is back.
pub(crate) fn spawn_sync<F, Fut>(
    what: &'static str,
    refresh: Duration,
    mut sync: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), FleetError>> + Send,
{
    tokio::spawn(async move {
        let mut degraded = false;
        loop {
            match sync().await {
                Ok(()) if degraded => {
                    tracing::info!(part = what, "fleet: Redis is back, sharing {what} again");
                    degraded = false;
                }
                Err(e) if !degraded => {
                    tracing::warn!(part = what, error = %e, "fleet: Redis unavailable, {what} are local only");
                    degraded = true;
                }
                _ => {}
            }
            tokio::time::sleep(refresh).await;
        }
    })
}

/// Reading replies without trusting them: every helper returns `None` on a shape it does not
/// expect, never panics.
pub(crate) mod reply {
    use redis::Value;

    /// An integer, sent as an integer or as a decimal string.
    pub(crate) fn int(v: &Value) -> Option<i64> {
        match v {
            Value::Int(i) => Some(*i),
            Value::BulkString(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            Value::SimpleString(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A non-negative integer.
    pub(crate) fn uint(v: &Value) -> Option<u64> {
        int(v).and_then(|i| u64::try_from(i).ok())
    }

    /// A number, sent as an integer, a double or a decimal string.
    pub(crate) fn float(v: &Value) -> Option<f64> {
        match v {
            Value::Int(i) => Some(*i as f64),
            Value::Double(d) => Some(*d),
            Value::BulkString(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            Value::SimpleString(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A string reply, as UTF-8.
    pub(crate) fn text(v: &Value) -> Option<&str> {
        match v {
            Value::BulkString(b) => std::str::from_utf8(b).ok(),
            Value::SimpleString(s) => Some(s),
            _ => None,
        }
    }

    /// The items of an array reply.
    pub(crate) fn array(v: &Value) -> Option<&[Value]> {
        match v {
            Value::Array(items) | Value::Set(items) => Some(items),
            _ => None,
        }
    }
}
